"""Train SAC: `python scripts/train_sac.py env=HalfCheetah` (options: configs/train_sac.yaml, sac/config.py)."""

import hydra
from omegaconf import DictConfig

from sac.config import report_user_errors
from sac.train import train_sac


@hydra.main(config_path="../configs", config_name="train_sac", version_base="1.3")
@report_user_errors
def main(cfg: DictConfig) -> None:
    train_sac(cfg)


if __name__ == "__main__":
    main()
