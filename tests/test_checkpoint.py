import json
import shutil
from pathlib import Path

import pytest
import torch
from helpers import random_batch, run_entry_point

from sac.agent import SAC
from sac.config import AgentConfig
from sac.run.checkpoint import CheckpointError, load_checkpoint, restore, save_checkpoint
from sac.run.replay import ReplayBuffer
from sac.run.rundir import RunDir, Status

CPU = torch.device("cpu")


def trained_agent() -> SAC:
    torch.manual_seed(0)
    agent = SAC(5, 3, AgentConfig(hidden_sizes=[32, 32]), CPU)
    for _ in range(3):
        agent.update(random_batch())
    return agent


def test_round_trip_restores_actions_alpha_and_optimizer_state(tmp_path) -> None:
    agent = trained_agent()
    path = save_checkpoint(tmp_path, 3, agent.state_dict(), {"env_id": "X"}, None)
    state, meta, replay = load_checkpoint(path)
    assert meta["step"] == 3 and meta["env_id"] == "X" and replay is None

    fresh = SAC(5, 3, AgentConfig(hidden_sizes=[32, 32]), CPU)
    restore(fresh, state, path)
    obs = torch.randn(10, 5).numpy()
    for o in obs:
        assert (agent.act(o, deterministic=True) == fresh.act(o, deterministic=True)).all()
    assert torch.equal(agent.temperature.log_alpha, fresh.temperature.log_alpha)
    # Same optimizer moments: one more identical update keeps the two agents identical.
    batch = random_batch()
    torch.manual_seed(5)
    agent.update(batch)
    torch.manual_seed(5)
    fresh.update(batch)
    for p, q in zip(agent.actor.parameters(), fresh.actor.parameters(), strict=True):
        assert torch.equal(p, q)


def test_latest_points_at_newest_and_only_newest_keeps_the_buffer(tmp_path) -> None:
    agent = trained_agent()
    buffer = ReplayBuffer(5, 3, 10, CPU)
    for step in (100, 200):
        save_checkpoint(tmp_path, step, agent.state_dict(), {}, buffer.state_dict())
    assert (tmp_path / "latest").resolve() == (tmp_path / "step_000000200").resolve()
    assert (tmp_path / "step_000000200" / "replay.safetensors").exists()
    assert not (tmp_path / "step_000000100" / "replay.safetensors").exists()
    assert not list(tmp_path.glob(".tmp-*"))


def test_missing_truncated_and_corrupt_checkpoints_give_one_clear_line(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope")

    path = save_checkpoint(tmp_path, 1, trained_agent().state_dict(), {}, None)
    weights = path / "state.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)

    (path / "meta.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(path)
    (path / "meta.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(CheckpointError, match="unknown format"):
        load_checkpoint(path)


def test_checkpoint_that_does_not_fit_the_network_is_refused(tmp_path) -> None:
    path = save_checkpoint(tmp_path, 1, trained_agent().state_dict(), {}, None)
    state, _, _ = load_checkpoint(path)
    wider = SAC(5, 3, AgentConfig(hidden_sizes=[64, 64]), CPU)
    with pytest.raises(CheckpointError, match="does not fit this run") as info:
        restore(wider, state, path)
    assert "\n" not in str(info.value)


OLD_RUNS = Path(__file__).parent / "fixtures" / "runs_4a87f0e"
"""Run directories written by the code of commit 4a87f0e (16x16 networks, a few hundred steps): the format that
every later change must keep loading."""


@pytest.mark.parametrize(
    ("name", "script", "more_steps"),
    [("sac_pendulum", "train_sac", 400), ("sac_discrete_cartpole", "train_sac", 400),
     ("reinforce_pendulum", "train_reinforce", 600)],
)  # fmt: skip
def test_runs_written_before_the_current_format_still_evaluate_and_resume(
    tmp_path: Path, name: str, script: str, more_steps: int
) -> None:
    run = tmp_path / name
    shutil.copytree(OLD_RUNS / name, run, symlinks=True)
    out = tmp_path / "eval.json"
    args = [f"checkpoint={run}", "episodes=1", f"output={out}", f"hydra.run.dir={tmp_path}"]  # as logged: 1 episode
    code, _, stderr = run_entry_point("evaluate", args)
    assert code == 0, stderr
    logged = [r["eval/return_mean"] for r in RunDir(run).records() if "eval/return_mean" in r][-1]
    # Written on another machine: the same policy, rounded differently along an episode.
    assert json.loads(out.read_text())["return_mean"] == pytest.approx(logged, rel=1e-3)

    code, _, stderr = run_entry_point(script, [f"resume={run}", f"total_steps={more_steps}"])
    assert code == 0, stderr
    assert RunDir(run).status() == Status.finished
    assert max(r["step"] for r in RunDir(run).records()) == more_steps
