"""sac/analysis/value_bias.py: Monte-Carlo soft returns against closed forms and the critic's own target."""

from types import SimpleNamespace
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from sac.analysis.value_bias import q_bias, soft_returns
from sac.losses import soft_target


def closed_form(t: int, steps: int, reward: float, logp: float, gamma: float, alpha: float) -> float:
    """G_t of `steps` steps of constant reward and log-prob: sum_k gamma^k r - alpha logp sum_{k>=1} gamma^k."""
    n = steps - t
    return reward * sum(gamma**k for k in range(n)) - alpha * logp * sum(gamma**k for k in range(1, n))


def test_soft_returns_closed_form_and_the_critics_target() -> None:
    g = soft_returns(torch.full((6,), 2.0, dtype=torch.float64), torch.zeros(6), torch.full((6,), -1.5), 0.9, 0.2)
    expected = [closed_form(t, 6, 2.0, -1.5, 0.9, 0.2) for t in range(6)]
    assert torch.allclose(g, torch.tensor(expected, dtype=torch.float64))
    # Random steps, a terminal one in the middle: each G_t is the critic's target with G_{t+1} in place of Q'.
    gen = torch.Generator().manual_seed(0)
    reward, logp = (
        torch.randn(9, generator=gen, dtype=torch.float64),
        torch.randn(9, generator=gen, dtype=torch.float64),
    )
    terminated = torch.zeros(9, dtype=torch.float64)
    terminated[4] = 1.0
    g = soft_returns(reward, terminated, logp, 0.99, 0.3)
    target = soft_target(reward[:-1], terminated[:-1], 0.99, g[1:].unsqueeze(0), torch.tensor(0.3), logp[1:])
    assert torch.allclose(g[:-1], target) and g[4] == reward[4] and g[-1] == reward[-1]


class Corridor(gym.Env[np.ndarray, np.ndarray]):
    """Reward 1 a step; terminates after `end` steps when `terminates`, else runs until a time limit cuts it."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def __init__(self, end: int, terminates: bool) -> None:
        self.end, self.terminates, self.t = end, terminates, 0

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict[str, Any]]:
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.t += 1
        return np.zeros(2, np.float32), 1.0, self.terminates and self.t == self.end, False, {}


def fake_agent(gamma: float, alpha: float, logp: float, q: tuple[float, float]) -> Any:
    """An agent with the parts q_bias reads: a constant log-prob and two constant critics."""
    dist = SimpleNamespace(rsample=lambda: (torch.zeros(1, 1), torch.tensor([logp])))
    return SimpleNamespace(
        cfg=SimpleNamespace(gamma=gamma),
        temperature=SimpleNamespace(alpha=torch.tensor(alpha)),
        device=torch.device("cpu"),
        encoder=SimpleNamespace(features=lambda obs, deterministic: obs),
        actor=lambda features: dist,
        critic=lambda features, action: torch.tensor([[q[0]], [q[1]]]),
    )


@pytest.mark.parametrize("terminates", [True, False])
def test_q_bias_counts_the_right_states(terminates: bool) -> None:
    gamma, alpha, logp = 0.5, 0.1, -1.0
    agent = fake_agent(gamma, alpha, logp, (3.0, 5.0))
    env = gym.wrappers.TimeLimit(Corridor(end=5, terminates=terminates), max_episode_steps=8)
    r = q_bias(agent, env, episodes=2, seed=0, tail=3)
    # Terminated after 5 steps: every state counts. Cut at 8 steps: the last 3 are left out, 5 count, and their
    # returns are the 8-step ones.
    steps = 5 if terminates else 8
    mean_g = np.mean([closed_form(t, steps, 1.0, logp, gamma, alpha) for t in range(5)])
    assert r["states"] == 10 and r["alpha"] == pytest.approx(alpha) and r["return"] == pytest.approx(mean_g)
    assert r["q_min"] == 3.0 and r["q_mean"] == 4.0
    assert r["q_min_bias"] == pytest.approx(3.0 - mean_g) and r["q_mean_bias"] == pytest.approx(4.0 - mean_g)
    assert r["q_min_bias_rel"] == pytest.approx((3.0 - mean_g) / mean_g)
