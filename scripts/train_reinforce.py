"""Train the REINFORCE baseline: `python scripts/train_reinforce.py env=InvertedPendulum` (configs/train_reinforce.yaml)."""

import hydra
from omegaconf import DictConfig

from sac.config import report_user_errors
from sac.reinforce import train_reinforce


@hydra.main(config_path="../configs", config_name="train_reinforce", version_base="1.3")
@report_user_errors
def main(cfg: DictConfig) -> None:
    train_reinforce(cfg)


if __name__ == "__main__":
    main()
