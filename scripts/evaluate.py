"""Evaluate a saved policy: `python scripts/evaluate.py checkpoint=RUN/checkpoints/latest episodes=20`."""

from sac.run import cli
from sac.run.evaluate import evaluate_checkpoint

if __name__ == "__main__":
    cli.main("evaluate", evaluate_checkpoint)
