"""sac/run/checkpointer.py: when a run saves, that the NaN guard never lets bad weights overwrite a good checkpoint,
and that a resume accepts only its own run's checkpoint."""

from pathlib import Path

import pytest
import torch

from sac.config import UserError
from sac.run.checkpoint import CheckpointError, checkpoint_step
from sac.run.checkpointer import Checkpointer, Snapshot, TrainingDiverged
from sac.run.rundir import RunDir

META = {"algorithm": "sac", "policy": "tanh_gaussian", "estimator": "reparam", "env_id": "Pendulum-v1",
        "obs_dim": 3, "act_dim": 1, "config": {}}  # fmt: skip


def snapshot(value: float) -> Snapshot:
    weight = torch.full((2,), value)
    return Snapshot({"weight": weight}, {"updates_due": 0.5}, None, {"actor": [weight]})


def test_saves_when_due_at_the_last_step_and_on_request_and_guards_the_weights(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    saver = Checkpointer(run, META, every=100, total_steps=250, keep_older_replays=False)
    saver.save(99, 100, lambda: snapshot(1.0))
    assert saver.saved is not None and checkpoint_step(run.latest) == 100
    saver.save(100, 150, lambda: pytest.fail("not due: no snapshot is taken"))
    saver.save(150, 151, lambda: snapshot(2.0), force=True)  # a stop request
    assert checkpoint_step(run.latest) == 151
    with pytest.raises(TrainingDiverged, match=r"step 250: actor parameters are not finite; .* step_000000151, is"):
        saver.save(249, 250, lambda: snapshot(float("nan")))  # the last step, but the weights are NaN
    assert checkpoint_step(run.latest) == 151
    resumed = saver.load(run.latest)
    assert resumed.step == 151 and resumed.loop == {"updates_due": 0.5}
    assert torch.equal(resumed.state["weight"], torch.full((2,), 2.0))


def test_a_resume_takes_only_its_own_runs_checkpoint_within_its_budget(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    Checkpointer(run, META, 100, 200, False).save(99, 100, lambda: snapshot(1.0))
    other = {**META, "policy": "beta"}
    with pytest.raises(CheckpointError, match="is a sac-reparam run on Pendulum-v1, not a sac-beta"):
        Checkpointer(run, other, 100, 200, False).load(run.latest)
    with pytest.raises(UserError, match="total_steps=50 is below the 100 steps"):
        Checkpointer(run, META, 100, 50, False).load(run.latest)
    with pytest.raises(CheckpointError, match="does not exist"):
        Checkpointer(RunDir(tmp_path / "none"), META, 100, 200, False).load(tmp_path / "none" / "latest")
