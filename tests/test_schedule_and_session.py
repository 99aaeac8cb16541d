"""When periodic work is due (sac/run/schedule.py), the RNG state a checkpoint restores, and the NaN guard of
Session.log (sac/run/session.py)."""

from pathlib import Path

import pytest
import torch
from helpers import small_config

from sac.run.checkpointer import TrainingDiverged
from sac.run.rundir import Identity, RunDir
from sac.run.schedule import due
from sac.run.session import Session, rng_state, run_meta, set_rng_state


@pytest.mark.parametrize(
    ("every", "before", "after", "expected"),
    [(10, 9, 10, True), (10, 10, 11, False), (10, 0, 9, False), (10, 5, 25, True),  # a REINFORCE batch crosses 10, 20
     (10, 10, 20, True), (0, 0, 100, False)],  # every = 0: never
)  # fmt: skip
def test_due_when_a_multiple_of_every_lies_in_the_steps_just_taken(
    every: int, before: int, after: int, expected: bool
) -> None:
    assert due(every, before, after) is expected


def test_restoring_the_rng_state_repeats_the_draws_after_it() -> None:
    torch.manual_seed(0)
    torch.randn(3)
    state = rng_state(torch.device("cpu"))
    first = torch.randn(5)
    torch.randn(7)  # the run goes on; a resume restores the checkpoint's state
    set_rng_state(state, torch.device("cpu"))
    assert torch.equal(torch.randn(5), first)


def test_the_log_stops_on_a_non_finite_update_metric_and_not_on_a_diagnostic(tmp_path: Path) -> None:
    c = small_config()
    meta = run_meta(Identity("sac", "tanh_gaussian", "reparam"), c, 3, 1)
    with Session(RunDir(tmp_path), c, meta, resume=False) as session:
        session.log(10, {"grad/score/snr": float("nan"), "eval/return_mean": float("inf")})  # measurements only
        with pytest.raises(TrainingDiverged, match="step 20: train/critic_loss is nan; training stopped"):
            session.log(20, {"train/critic_loss": torch.tensor(float("nan"))})
        with pytest.raises(TrainingDiverged, match="vae/kl is inf"):
            session.log(30, {"vae/kl": float("inf")})
