"""Helpers shared by the tests: small configurations and batches, the real entry points in-process, a reader for
offline W&B run files, and benchmarks/ scripts as modules."""

from __future__ import annotations

import importlib.util
import json
import struct
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from sac.batch import Batch
from sac.config import AgentConfig, DiscreteConfig, DiscreteEstimator, EnvConfig, TrainConfig, WandbConfig
from sac.discrete import DiscreteSAC

OBS_DIM, ACT_DIM = 5, 3
"""The sizes of `random_batch` (and of the agents the unit tests build for it)."""


def small_config(**overrides: Any) -> TrainConfig:
    """A cheap Pendulum configuration for loop-level tests."""
    c = TrainConfig(
        env=EnvConfig(name="Pendulum"),
        agent=AgentConfig(hidden_sizes=[64, 64], batch_size=64),
        wandb=WandbConfig(mode="disabled"),
        device="cpu",
        total_steps=400,
        learning_starts=200,
        eval_every=400,
        eval_episodes=1,
        checkpoint_every=400,
        log_every=100,
    )
    for key, value in overrides.items():
        setattr(c, key, value)
    return c


def read_wandb_records(path: Path) -> list[Any]:
    """Parse an offline run's `run-*.wandb` file into protobuf Records.

    The file is a 7-byte W&B header followed by a LevelDB-style log: 32 KiB blocks of chunks, each
    with a 7-byte header (crc32c, little-endian length, type: 1 full, 2 first, 3 middle, 4 last).
    """
    from wandb.proto.wandb_internal_pb2 import Record

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B transaction log"
    block, pos, pending, records = 32 * 1024, 7, b"", []
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is zero padding
            pos += block - pos % block
            continue
        length, kind = struct.unpack_from("<HB", data, pos + 4)
        payload, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind == 0:
            continue
        pending = payload if kind in (1, 2) else pending + payload
        if kind in (1, 4):
            record = Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def wandb_history(path: Path) -> list[dict[str, Any]]:
    """The history rows ({key: value}) logged to an offline run."""
    rows = []
    for record in read_wandb_records(path):
        if record.WhichOneof("record_type") == "history":
            rows.append(
                {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            )
    return rows


def run_entry_point(script: str, argv: list[str]) -> tuple[int, str, str]:
    """Run scripts/<script>.py's entry point in this process, as `python scripts/<script>.py *argv` would:
    Hydra's parsing, our validation and error reporting included. Returns (exit code, stdout, stderr)."""
    import contextlib
    import io
    import sys

    from sac.analysis.report import compare
    from sac.config import ReinforceConfig, TrainConfig
    from sac.run import cli
    from sac.run.evaluate import evaluate_checkpoint
    from sac.run.train_reinforce import train as train_reinforce
    from sac.run.train_sac import train as train_sac

    tasks = {
        "train_sac": cli.training_job(TrainConfig, train_sac),
        "train_reinforce": cli.training_job(ReinforceConfig, train_reinforce),
        "evaluate": evaluate_checkpoint,
        "compare_estimators": compare,
    }
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        mp.setattr(sys, "argv", [f"{script}.py", *argv])
        try:
            cli.main(script, tasks[script])
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
    return code, out.getvalue(), err.getvalue()


def random_batch(n: int = 16, terminated: torch.Tensor | None = None) -> Batch:
    return Batch(
        obs=torch.randn(n, OBS_DIM),
        action=torch.rand(n, ACT_DIM) * 2 - 1,
        reward=torch.randn(n),
        next_obs=torch.randn(n, OBS_DIM),
        terminated=torch.zeros(n) if terminated is None else terminated,
    )


def discrete_agent(
    estimator: DiscreteEstimator = DiscreteEstimator.exact, target_entropy_fraction: float = 0.5, **kwargs: Any
) -> DiscreteSAC:
    """A small discrete SAC (4 state dims, 3 actions) with fixed initial weights; kwargs: AgentConfig fields."""
    torch.manual_seed(5)
    discrete = DiscreteConfig(estimator=estimator, target_entropy_fraction=target_entropy_fraction)
    return DiscreteSAC(4, 3, AgentConfig(hidden_sizes=[32, 32], discrete=discrete, **kwargs), torch.device("cpu"))


def discrete_batch(b: int = 16) -> Batch:
    """A fixed batch of b transitions for `discrete_agent`."""
    g = torch.Generator().manual_seed(6)
    action = torch.randint(3, (b, 1), generator=g).float()
    return Batch(torch.randn(b, 4, generator=g), action, torch.randn(b, generator=g), torch.randn(b, 4, generator=g),
                 torch.zeros(b))  # fmt: skip


def load_script(path: Path) -> ModuleType:
    """A script (benchmarks/NAME.py) imported as the module NAME, so tests call its functions."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
