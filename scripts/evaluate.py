"""Evaluate a saved policy: `python scripts/evaluate.py checkpoint=RUN/checkpoints/latest episodes=20`."""

import hydra
from omegaconf import DictConfig

from sac.config import report_user_errors
from sac.evaluate import evaluate_checkpoint


@hydra.main(config_path="../configs", config_name="evaluate", version_base="1.3")
@report_user_errors
def main(cfg: DictConfig) -> None:
    evaluate_checkpoint(cfg)


if __name__ == "__main__":
    main()
