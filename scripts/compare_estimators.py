"""Build the estimator comparison report: `python scripts/compare_estimators.py runs=[RUN_DIR,...]`."""

import hydra
from omegaconf import DictConfig

from sac.config import report_user_errors
from sac.report import build


@hydra.main(config_path="../configs", config_name="compare_estimators", version_base="1.3")
@report_user_errors
def main(cfg: DictConfig) -> None:
    build(cfg)


if __name__ == "__main__":
    main()
