"""Build the estimator comparison report: `python scripts/compare_estimators.py runs=[RUN_DIR,...]`."""

from sac import cli
from sac.analysis.report import build

if __name__ == "__main__":
    cli.main("compare_estimators", build)
