import json
import time

import torch

from sac.config import WandbConfig
from sac.run.logger import Logger, why_offline
from sac.run.rundir import RunDir


def test_metrics_reach_the_file_as_they_are_logged(tmp_path) -> None:
    logger = Logger(RunDir(tmp_path), {}, WandbConfig(mode="disabled"), total_steps=10, job_type="sac-reparam")
    logger.log(3, {"train/q_mean": torch.tensor(1.5), "train/episode_return": -2.0, "train/count": 4})
    # Read before close: a process killed now must not lose the event.
    (line,) = (tmp_path / "metrics.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["step"] == 3 and record["train/q_mean"] == 1.5
    assert record["train/episode_return"] == -2.0 and record["train/count"] == 4.0
    logger.close()


def test_online_mode_goes_offline_promptly_without_key_or_server(monkeypatch) -> None:
    assert "no API key" in why_offline()
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    start = time.perf_counter()
    assert "unreachable" in why_offline(timeout=2.0)
    assert time.perf_counter() - start < 3.0
