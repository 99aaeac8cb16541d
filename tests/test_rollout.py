"""sac/run/rollout.py's Evaluator: when a run evaluates and films, and that its evaluations are deterministic
functions of the policy on start states seeded away from training's."""

from pathlib import Path

import numpy as np
import pytest

from envs.make import make_env
from sac.config import EnvConfig
from sac.run.rollout import EVAL_SEED_OFFSET, Evaluator, evaluate


def test_evaluates_when_due_and_at_the_last_step_and_films_every_kth() -> None:
    evaluator = Evaluator(EnvConfig(name="Pendulum"), seed=3, episodes=1, every=100, video_every=2, total_steps=250)
    try:
        assert [s for s in range(1, 251) if evaluator.due(s - 1, s)] == [100, 200, 250]
        assert [evaluator.films(s) for s in (100, 200, 300, 400)] == [False, True, False, True]
    finally:
        evaluator.close()


def test_an_evaluation_is_the_same_on_the_eval_seeds_whenever_it_runs(tmp_path: Path) -> None:
    policy = lambda obs: np.array([np.tanh(obs[1])], dtype=np.float32)  # noqa: E731
    evaluator = Evaluator(EnvConfig(name="Pendulum"), seed=3, episodes=2, every=1, video_every=0, total_steps=10)
    env = make_env(EnvConfig(name="Pendulum"), seed=3 + EVAL_SEED_OFFSET)
    try:
        first = evaluator.evaluate(policy)
        assert evaluator.evaluate(policy) == first  # the same start states each time
        assert evaluate(env, policy, 2, 3 + EVAL_SEED_OFFSET) == first
        assert first["eval/length_mean"] == 200
        assert evaluator.evaluate(lambda obs: np.array([0.0], dtype=np.float32)) != pytest.approx(first)
    finally:
        evaluator.close()
        env.close()
