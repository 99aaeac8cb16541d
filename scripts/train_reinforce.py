"""Train the REINFORCE baseline: `python scripts/train_reinforce.py env=InvertedPendulum`.

Options: configs/train_reinforce.yaml, sac/config.py (ReinforceConfig).
"""

from sac.config import ReinforceConfig
from sac.run import cli
from sac.run.train_reinforce import train

if __name__ == "__main__":
    cli.main("train_reinforce", cli.training_job(ReinforceConfig, train))
