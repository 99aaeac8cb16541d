"""Train SAC: `python scripts/train_sac.py env=HalfCheetah` (options: configs/train_sac.yaml, sac/config.py)."""

from sac.config import TrainConfig
from sac.run import cli
from sac.run.train_sac import train

if __name__ == "__main__":
    cli.main("train_sac", cli.training_job(TrainConfig, train))
