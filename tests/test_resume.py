"""Exact resume after SIGKILL, SIGTERM handling and the NaN guard, through the real entry point."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from helpers import read_wandb_records, run_entry_point, small_config

from sac.config import EnvConfig
from sac.run.checkpoint import load_checkpoint
from sac.run.checkpointer import TrainingDiverged
from sac.run.rundir import RunDir
from sac.run.train_sac import train

ROOT = Path(__file__).resolve().parents[1]
T = 400
COMMON = [
    "env=InvertedPendulum",
    "env.max_episode_steps=200",
    "seed=4",
    f"total_steps={2 * T}",
    "learning_starts=200",
    f"checkpoint_every={T}",
    "eval_every=200",
    "eval_episodes=2",
    "log_every=100",
    "agent.hidden_sizes=[64,64]",
    "agent.batch_size=64",
    "diagnostics.grad_variance_every=200",
    "diagnostics.samples=4",
    "diagnostics.reference_samples=8",
    "wandb.mode=disabled",
]


def command(*overrides: str, script: str = "train_sac") -> list[str]:
    return [sys.executable, str(ROOT / "scripts" / f"{script}.py"), *overrides]


def records(run_dir: Path) -> list[dict]:
    rows = RunDir(run_dir).records()
    # Wall-clock measurements differ between any two runs; everything else must be equal.
    timing = lambda k: k in ("time", "perf/steps_per_sec") or k.endswith("/ms_per_estimate")  # noqa: E731
    return [{k: v for k, v in r.items() if not timing(k)} for r in rows]


def kill_at_checkpoint(script: str, argv: list[str], run_dir: Path, step: int) -> None:
    """Run the script as a process of its own and SIGKILL it as soon as its checkpoint at `step` is in
    place: a node dying, with no chance to save or close anything."""
    proc = subprocess.Popen(command(*argv, script=script), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = run_dir / "checkpoints" / "latest"
    deadline = time.monotonic() + 240
    while not (latest.is_symlink() and os.readlink(latest) == f"step_{step:09d}"):
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before that checkpoint"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL


# Continuous SAC, the Beta and mixture policies (their samplers' RNG must continue exactly too; the truncated
# normal draws from the same generator as the mixture, torch.rand), and
# discrete SAC with a sampled estimator (its Gumbel noise too). Only the first runs in the fast suite, which keeps
# within its two minutes.
RUNS = {
    "continuous": [],
    "beta": ["agent.policy=beta"],
    "gaussian_mixture": ["agent.policy=gaussian_mixture", "agent.mixture.components=3"],
    "discrete": ["env=CartPole", "agent.discrete.estimator=gumbel"],
}


@pytest.mark.parametrize("kind", [pytest.param(k, marks=[pytest.mark.slow] if k != "continuous" else []) for k in RUNS])
def test_killed_and_resumed_run_logs_exactly_what_an_uninterrupted_run_logs(tmp_path: Path, kind: str) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    argv = [*COMMON, *RUNS[kind]]
    # B runs as a process of its own and is killed; the reference and the resumption run in this one.
    # (W&B changes no record: that a resumed run continues its W&B run is tests/test_train.py's to check.)
    code, _, stderr = run_entry_point("train_sac", [*argv, f"hydra.run.dir={a}"])
    assert code == 0, stderr
    kill_at_checkpoint("train_sac", [*argv, f"hydra.run.dir={b}"], b, T)
    code, _, stderr = run_entry_point("train_sac", [f"resume={b}", f"hydra.run.dir={tmp_path / 'resume'}"])
    assert code == 0, stderr

    after = lambda rows: [r for r in rows if r["step"] > T]  # noqa: E731
    assert len(after(records(a))) > 10
    assert after(records(b)) == after(records(a))
    assert records(b) == records(a)  # nothing duplicated or lost around the kill
    assert (b / "checkpoints" / "latest" / "state.safetensors").read_bytes() == (
        a / "checkpoints" / "latest" / "state.safetensors"
    ).read_bytes()
    assert RunDir(b).read_info()["finished"]


@pytest.mark.slow  # the SAC test above is the fast suite's resume check; this one runs in the full suite
def test_killed_and_resumed_reinforce_run_logs_exactly_what_an_uninterrupted_run_logs(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    # Batches of >= 500 steps from 4 envs: checkpoints land after the batch that crosses 1000.
    common = ["env=Pendulum", "seed=3", "total_steps=2400", "num_envs=4", "batch_steps=500", "eval_every=800",
              "eval_episodes=2", "checkpoint_every=1000", "agent.hidden_sizes=[32,32]",
              "wandb.mode=disabled"]  # fmt: skip
    code, _, stderr = run_entry_point("train_reinforce", [*common, f"hydra.run.dir={a}"])
    assert code == 0, stderr
    first = min(int(p.name.removeprefix("step_")) for p in (a / "checkpoints").glob("step_*"))
    kill_at_checkpoint("train_reinforce", [*common, f"hydra.run.dir={b}"], b, first)
    code, _, stderr = run_entry_point("train_reinforce", [f"resume={b}", f"hydra.run.dir={tmp_path / 'resume'}"])
    assert code == 0, stderr

    assert len([r for r in records(a) if r["step"] > first]) > 5
    assert records(b) == records(a)
    assert (b / "checkpoints" / "latest" / "state.safetensors").read_bytes() == (
        a / "checkpoints" / "latest" / "state.safetensors"
    ).read_bytes()
    assert RunDir(b).read_info()["finished"]


@pytest.mark.slow  # with the W&B service: in the full suite, which keeps the fast one under two minutes
def test_sigterm_saves_a_checkpoint_and_closes_the_wandb_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = subprocess.Popen(
        command(
            *COMMON[:-1], "total_steps=100000", "checkpoint_every=100000", "wandb.mode=offline", f"hydra.run.dir={run}"
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    metrics = run / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while not (metrics.exists() and '"step": 300' in metrics.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    _, meta, replay = load_checkpoint(run / "checkpoints" / "latest")
    assert 300 <= meta["step"] < 100_000 and f"stopped at step {meta['step']}" in stdout
    assert replay is not None and int(replay["has_next"].sum()) == meta["step"]  # every transition, once
    (wandb_file,) = run.glob("wandb/offline-run-*/run-*.wandb")
    exits = [r.exit for r in read_wandb_records(wandb_file) if r.WhichOneof("record_type") == "exit"]
    assert len(exits) == 1 and exits[0].exit_code == 0


class NaNRewardAfter(gym.Wrapper):
    """Pendulum whose reward turns NaN after `after` steps: a simulator or reward bug."""

    def __init__(self, after: int = 700, render_mode: str | None = None) -> None:
        super().__init__(gym.make("Pendulum-v1", render_mode=render_mode))
        self.after, self.t = after, 0

    def step(self, action: np.ndarray) -> tuple:
        self.t += 1
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, (float("nan") if self.t > self.after else reward), terminated, truncated, info


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    gym.register("NaNRewardPendulum-v0", entry_point=NaNRewardAfter, max_episode_steps=200)
    c = small_config(env=EnvConfig(name="NaNRewardPendulum-v0"), total_steps=1000, checkpoint_every=500, log_every=100)
    with pytest.raises(
        TrainingDiverged,
        # The NaN reward reaches the episode's return first: the episode ends at 800, before that step's losses log.
        match=r"step 800: train/episode_return is nan; training stopped and the last "
        r"good checkpoint, step_000000500, is intact",
    ):
        train(c, tmp_path)
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*")) == ["step_000000500"]
    state, meta, _ = load_checkpoint(tmp_path / "checkpoints" / "latest")
    assert meta["step"] == 500
    assert all(torch.isfinite(v).all() for v in state["agent"]["actor"].values())
    assert not np.isnan(state["obs"].numpy()).any()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("cudagraphs", [False, True])
def test_resume_on_cuda_continues_the_run_exactly(tmp_path: Path, cudagraphs: bool) -> None:
    # A run stopped at its checkpoint and resumed (CUDA RNG, replay on the GPU, a fresh CUDA graph
    # captured after the restore) logs what the uninterrupted run logs.
    def config(total: int) -> Any:
        c = small_config(device="cuda", cudagraphs=cudagraphs, total_steps=total, checkpoint_every=300, eval_every=300)
        return c

    train(config(600), tmp_path / "whole")
    train(config(300), tmp_path / "part")
    train(config(600), tmp_path / "part", resume=True)
    whole, part = records(tmp_path / "whole"), records(tmp_path / "part")
    assert [r["step"] for r in part] == [r["step"] for r in whole]
    for a, b in zip(part, whole, strict=True):
        assert a.keys() == b.keys()
        assert all(a[k] == pytest.approx(b[k], rel=1e-4, abs=1e-5) for k in a), a["step"]
