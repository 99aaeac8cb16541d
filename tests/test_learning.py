"""Learning checks: slow, so marked; CI runs them (they fit its budget)."""

import pytest
from conftest import small_config

from sac.train import train


@pytest.mark.slow
@pytest.mark.parametrize(
    ("policy", "estimator", "seed", "width"),
    # The Beta policy on two seeds at the default 256x256 (issue 15); the tanh-Gaussian's two estimators on one seed
    # at 128x128, which trains in about 60% of the time, so that all four fit the suite's 15 minutes.
    [("tanh_gaussian", "reparam", 0, 128), ("tanh_gaussian", "score", 0, 128), ("beta", "reparam", 0, 256),
     ("beta", "reparam", 1, 256)],
)  # fmt: skip
def test_sac_solves_pendulum_within_10k_steps(tmp_path, policy: str, estimator: str, seed: int, width: int) -> None:
    steps = 10_000
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
    c.agent.hidden_sizes, c.agent.batch_size, c.agent.actor_estimator = [width, width], 256, estimator
    c.agent.policy = policy
    final = train(c, tmp_path)
    mean, std = final["eval/return_mean"], final["eval/return_std"]
    print(f"SAC ({policy}, {estimator}, {width}x{width}) seed {seed}: eval return {mean:.1f} ± {std:.1f}")
    # Measured at 10k steps: these four -145.1, -145.0, -145, -168.0. At 256x256 the tanh-Gaussian
    # (reparam) seeds 0-3 gave -145, -272, -187, -191; at 128x128 its seed 1 gave -414 and the Beta policy's seeds
    # 0-2 -147, -688, -180: Pendulum at 10k steps is near the edge of learning, so a seed's margin is stated here.
    # The spread over the 10 start states is about ±100; a random policy scores about -1200, and one that has not
    # learned to swing up stays below -700.
    assert final["eval/return_mean"] >= -300
