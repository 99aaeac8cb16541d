"""Policy evaluation: whole episodes on an env of its own."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

Policy = Callable[[np.ndarray], np.ndarray]


def run_episodes(env: gym.Env, policy: Policy, episodes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Run `episodes` episodes; episode i starts from `reset(seed=seed + i)`.

    Fixed reset seeds make an evaluation a deterministic function of the policy, so evaluations
    at different training steps compare policies on the same start states, and re-evaluating a
    saved deterministic policy reproduces the logged number. Returns (returns, lengths), each (episodes,).
    """
    returns = np.zeros(episodes)
    lengths = np.zeros(episodes, dtype=np.int64)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            returns[i] += float(reward)
            lengths[i] += 1
            done = terminated or truncated
    return returns, lengths


def evaluate(env: gym.Env, policy: Policy, episodes: int, seed: int) -> dict[str, float]:
    """`run_episodes` summarised as the `eval/...` metrics both training loops log."""
    returns, lengths = run_episodes(env, policy, episodes, seed)
    return {
        "eval/return_mean": float(returns.mean()),
        "eval/return_std": float(returns.std()),
        "eval/length_mean": float(lengths.mean()),
    }
