"""Evaluate a saved policy: `python scripts/evaluate.py checkpoint=RUN/checkpoints/latest episodes=20`."""

from sac import cli
from sac.evaluate import evaluate_checkpoint

if __name__ == "__main__":
    cli.main("evaluate", evaluate_checkpoint)
