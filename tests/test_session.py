"""sac/run/session.py's parts as units: when periodic work is due, and the RNG state a checkpoint restores."""

import pytest
import torch

from sac.run.session import due, rng_state, set_rng_state


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
