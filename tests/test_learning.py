"""Learning checks: slow, so marked; CI runs them (they fit its budget)."""

import pytest
from conftest import small_config

from sac.train import train


@pytest.mark.slow
@pytest.mark.parametrize(
    ("policy", "estimator", "seed"),
    # One seed per tanh-Gaussian estimator and two for the Beta policy keep the whole suite within 15 minutes.
    [("tanh_gaussian", "reparam", 0), ("tanh_gaussian", "score", 0), ("beta", "reparam", 0), ("beta", "reparam", 1)],
)  # fmt: skip
def test_sac_solves_pendulum_within_10k_steps(tmp_path, policy: str, estimator: str, seed: int) -> None:
    c = small_config(
        seed=seed,
        total_steps=10_000,
        learning_starts=1_000,
        eval_every=10_000,
        eval_episodes=10,
        checkpoint_every=10_000,
        log_every=1_000,
        checkpoint_buffer=False,
    )
    c.agent.hidden_sizes, c.agent.batch_size, c.agent.actor_estimator = [256, 256], 256, estimator
    c.agent.policy = policy
    final = train(c, tmp_path)
    mean, std = final["eval/return_mean"], final["eval/return_std"]
    print(f"SAC ({policy}, {estimator}) seed {seed}: eval return {mean:.1f} ± {std:.1f}")
    # Measured at 10k steps: tanh-Gaussian (reparam) seeds 1, 2, 3 gave -272, -187, -191 (seed 1 had -169 at
    # 6k), the Beta policy seeds 0, 1 gave -145, -168, with a spread of about ±100 over the 10 start states;
    # a random policy scores about -1200, and one that has not learned to swing up stays below -700.
    assert final["eval/return_mean"] >= -300
