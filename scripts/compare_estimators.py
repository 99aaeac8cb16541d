"""Build the estimator comparison report: `python scripts/compare_estimators.py runs=[RUN_DIR,...]`."""

from sac.analysis.report import compare
from sac.run import cli

if __name__ == "__main__":
    cli.main("compare_estimators", compare)
