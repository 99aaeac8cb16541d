"""Learning checks: slow, so marked; CI runs them (they fit its budget)."""

import pytest
from conftest import small_config

from sac.train import train


@pytest.mark.slow
@pytest.mark.parametrize(
    ("policy", "estimator", "seed", "steps"),
    # One seed per estimator and policy keeps the whole suite within 15 minutes (14 min 42 s with a second Beta
    # seed at 8k steps, where seed 1 had not learned yet: -667; it reached -168 at 10k in an earlier session).
    [("tanh_gaussian", "reparam", 0, 10_000), ("tanh_gaussian", "score", 0, 10_000), ("beta", "reparam", 0, 10_000)],
)  # fmt: skip
def test_sac_solves_pendulum_within_10k_steps(tmp_path, policy: str, estimator: str, seed: int, steps: int) -> None:
    c = small_config(
        seed=seed,
        total_steps=steps,
        learning_starts=1_000,
        eval_every=steps,
        eval_episodes=10,
        checkpoint_every=steps,
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
