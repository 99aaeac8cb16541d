"""The off-policy loop (sac/run/train_sac.py): update counts under utd_ratio, and resuming with an allowed override."""

from pathlib import Path

import pytest
import torch
import wandb
from helpers import run_entry_point, small_config

from sac.run.checkpoint import load_checkpoint
from sac.run.rundir import RunDir
from sac.run.train_sac import train


@pytest.mark.parametrize(("utd_ratio", "expected"), [(0.5, 50), (2.0, 202)])
def test_utd_ratio_performs_that_many_updates_per_step(tmp_path: Path, utd_ratio: float, expected: int) -> None:
    # Steps 300..400 update (learning_starts=300): 101 steps. At 0.5 an update falls due every second step.
    c = small_config(total_steps=400, learning_starts=300, utd_ratio=utd_ratio)
    c.agent.hidden_sizes, c.agent.batch_size = [16], 16
    train(c, tmp_path)
    state, meta, _ = load_checkpoint(tmp_path / "checkpoints" / "latest")
    assert state["agent"]["updates"] == expected
    assert meta["loop"]["updates_due"] == pytest.approx((101 * utd_ratio) % 1.0)


def test_resume_with_a_larger_total_steps_continues_the_same_run(tmp_path: Path) -> None:
    common = ["env=Pendulum", "seed=7", "learning_starts=100", "eval_every=200", "eval_episodes=1",
              "checkpoint_every=200", "log_every=100", "agent.hidden_sizes=[16]", "agent.batch_size=16",
              "threads=1"]  # fmt: skip
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert (
        run_entry_point("train_sac", [*common, "total_steps=400", "wandb.mode=disabled", f"hydra.run.dir={whole}"])[0]
        == 0
    )
    assert (
        run_entry_point("train_sac", [*common, "total_steps=200", "wandb.mode=offline", f"hydra.run.dir={part}"])[0]
        == 0
    )
    assert RunDir(part).read_info()["finished"]
    run_id = RunDir(part).read_info()["wandb_run_id"]
    torch.set_num_threads(2)
    code, _, stderr = run_entry_point("train_sac", [f"resume={part}", "total_steps=400", f"hydra.run.dir={tmp_path}"])
    assert torch.get_num_threads() == 1  # the run's own threads=1, not this command's default (0: every core)
    wandb.teardown()  # the in-process W&B service must not outlive this test (see test_report.py)
    assert code == 0, stderr
    assert run_id and RunDir(part).read_info()["wandb_run_id"] == run_id  # the same W&B run, continued
    # Two offline segments of one W&B run: the first part and the resumed part (`wandb sync` joins them). Matched by
    # the file name: a segment started in the same second as the one before gets a "-1" suffix on its directory.
    assert len(list(part.glob(f"wandb/offline-run-*/run-{run_id}.wandb"))) == 2

    def strip(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k not in ("time", "perf/steps_per_sec")} for r in rows]

    assert strip(RunDir(part).records()) == strip(RunDir(whole).records())
    assert RunDir(part).read_info()["finished"]
    assert (part / "checkpoints" / "latest" / "state.safetensors").read_bytes() == (
        whole / "checkpoints" / "latest" / "state.safetensors"
    ).read_bytes()


@pytest.mark.slow  # Box2D's resume path, in the full suite
def test_a_resumed_lunarlander_run_starts_a_new_episode_and_keeps_training(tmp_path: Path) -> None:
    """Box2D cannot restore the episode in progress: the resumed run cuts it in the replay buffer (no
    transition into the new episode's first state), starts a new one, and trains on to the end."""
    common = ["env=LunarLander", "seed=2", "learning_starts=100", "eval_every=150", "eval_episodes=1",
              "env.max_episode_steps=100", "checkpoint_every=150", "log_every=50", "agent.hidden_sizes=[16]",
              "agent.batch_size=16", "threads=1", "wandb.mode=disabled"]  # fmt: skip
    run = tmp_path / "run"
    assert run_entry_point("train_sac", [*common, "total_steps=150", f"hydra.run.dir={run}"])[0] == 0
    code, _, stderr = run_entry_point("train_sac", [f"resume={run}", "total_steps=300", f"hydra.run.dir={tmp_path}"])
    assert code == 0, stderr
    assert RunDir(run).read_info()["finished"]
    state, meta, _ = load_checkpoint(run / "checkpoints" / "latest")
    assert meta["step"] == 300 and state["agent"]["updates"] == 201
