"""Learning checks (slow): each runs its seeds side by side, one thread each, and passes when enough of them learn.

A check's outcome is a random draw on any machine other than the one that measured it (see learning_checks.py):
its bounds and seed count come from its distribution over 24 seeds, stated beside each check below and in
`benchmarks/measured/learning_checks/` (`python benchmarks/learning_checks.py` measures it again).
"""

import pytest
from learning_checks import CHECKS, Statistics, run_seeds

PENDULUM = ["sac-pendulum-tanh-reparam", "sac-pendulum-tanh-score", "sac-pendulum-beta"]


@pytest.fixture(scope="module")
def pendulum_runs() -> dict[str, list[Statistics]]:
    """The Pendulum checks' nine runs in one pool, so that both cores stay busy: about 4 minutes on 2 cores."""
    jobs = [(name, seed) for name in PENDULUM for seed in CHECKS[name].seeds]
    results = run_seeds([(CHECKS[name].run, seed) for name, seed in jobs])
    runs: dict[str, list[Statistics]] = {name: [] for name in PENDULUM}
    for (name, _), stats in zip(jobs, results, strict=True):
        runs[name].append(stats)
    return runs


def assert_check(name: str, runs: list[Statistics]) -> None:
    check = CHECKS[name]
    passed = [check.seed_passes(stats) for stats in runs]
    print(f"{name}: seeds {check.seeds}: {runs}")
    assert sum(passed) >= check.need, f"{name}: {sum(passed)} of seeds {check.seeds} within {check.bounds}: {runs}"


@pytest.mark.slow
@pytest.mark.parametrize("name", PENDULUM)
def test_sac_learns_pendulum_on_two_of_three_seeds(pendulum_runs: dict[str, list[Statistics]], name: str) -> None:
    """SAC on Pendulum, 10k steps, 64x64: eval return >= -400 on at least 2 of seeds 0-2, for the tanh-Gaussian
    with each actor estimator and for the Beta policy. MEASURED below."""
    assert_check(name, pendulum_runs[name])


@pytest.mark.slow
def test_reinforce_learns_inverted_pendulum() -> None:
    """REINFORCE on InvertedPendulum, 300k steps: eval return >= 500. MEASURED below."""
    name = "reinforce-inverted-pendulum"
    assert_check(name, run_seeds([(CHECKS[name].run, seed) for seed in CHECKS[name].seeds]))


@pytest.mark.slow
def test_vae_learns_hopper_states() -> None:
    """The VAE fitted to Hopper states: its loss halves and its held-out reconstruction error is under a quarter
    of the mean predictor's. MEASURED below."""
    name = "vae-hopper"
    assert_check(name, run_seeds([(CHECKS[name].run, seed) for seed in CHECKS[name].seeds]))
