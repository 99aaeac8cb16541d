"""Learning checks (slow): every check's seeds run side by side in one pool, one thread each, and each check passes
when enough of its seeds learn. The pool starts with the session, in the background at low priority
(tests/conftest.py), and these tests, which run last, read its results.

A check's outcome is a random draw on any machine other than the one that measured it (see learning_checks.py):
its bounds and seed count come from its distribution over 24 seeds, stated in docs/testing.md and
`benchmarks/measured/learning_checks/` (`python tests/calibrate_learning_checks.py` measures it again).
"""

import pytest
from learning_checks import CHECKS, CheckRuns, Statistics

LEARNING = ["reinforce-inverted-pendulum", "sac-pendulum-truncated-normal", "sac-pendulum-gaussian-mixture",
            "sac-pendulum-seeds-batched", "sac-pendulum-tanh-reparam", "sac-pendulum-tanh-score", "sac-pendulum-beta",
            "vae-hopper"]  # fmt: skip
"""The checks this file runs, longest runs first so that the pool's two workers finish together: REINFORCE's 3 runs,
the three batches of 3 seeds in one process each, SAC's 11 single runs on Pendulum, the VAE's (docs/testing.md
gives each one's time)."""


@pytest.fixture(scope="module")
def learning_runs(learning_pool: CheckRuns | None) -> dict[str, list[Statistics]]:
    """The runs conftest.py started in the background when the session began (these tests run last)."""
    assert learning_pool is not None
    return learning_pool.results()


@pytest.mark.slow
@pytest.mark.parametrize("name", LEARNING)
def test_learning_check(learning_runs: dict[str, list[Statistics]], name: str) -> None:
    """reinforce-inverted-pendulum: REINFORCE, 300k steps, best evaluation (every 50k steps) >= 500 on 2 of seeds 0-2.
    sac-pendulum-*: SAC on Pendulum, 10k steps, 64x64, eval return >= -400 on 2 of seeds 0-3 for the tanh-Gaussian
    with each actor estimator, on 2 of seeds 0-2 for the Beta policy, on 2 of seeds 0-2 trained as one batch in one
    process (sac-pendulum-seeds-batched, and so for the truncated normal and the Gaussian mixture). vae-hopper: the
    VAE's loss at most half its initial value and its held-out reconstruction error under a quarter of the mean
    predictor's (seed 0)."""
    check, runs = CHECKS[name], learning_runs[name]
    passed = [check.seed_passes(stats) for stats in runs]
    print(f"{name}: seeds {check.seeds}: {runs}")
    assert sum(passed) >= check.need, f"{name}: {sum(passed)} of seeds {check.seeds} within {check.bounds}: {runs}"
