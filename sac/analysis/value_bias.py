"""How far a SAC agent's critics are from the soft return its policy then collects: value overestimation, measured.

Fujimoto et al. (2018, TD3, sec. 4.1 and fig. 1) measure a critic's bias as its estimate Q(s, a) at visited states
against the discounted return the policy collects from there. SAC's critics estimate the *soft* return, so the
Monte-Carlo target adds the entropy bonus of every later action (Haarnoja et al. 2018, eqs. 2-3):

    G_t = r_t + gamma * (1 - terminated_t) * (G_{t+1} - alpha * log pi(a_{t+1} | s_{t+1}))

which is the critic's own target (`losses.soft_target`) with the collected return in place of min_j Q'_j.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from torch import Tensor


def soft_returns(reward: Tensor, terminated: Tensor, logp: Tensor, gamma: float, alpha: float) -> Tensor:
    """Monte-Carlo soft returns of one episode's steps: reward, terminated and logp (of the actions taken) (T,)
    -> G (T,). Nothing follows the last step: exact when the episode terminated; when a time limit cut it, G_t
    misses at most gamma^(T - t) of the tail, which `q_bias` keeps small by leaving the last steps out."""
    g = torch.zeros_like(reward)
    after = reward.new_zeros(())  # G_{t+1} - alpha * log pi(a_{t+1} | s_{t+1}); zero past the last step
    for t in reversed(range(reward.shape[0])):
        g[t] = reward[t] + gamma * (1.0 - terminated[t]) * after
        after = g[t] - alpha * logp[t]
    return g


@torch.no_grad()
def q_bias(agent: Any, env: gym.Env, episodes: int, seed: int, tail: int = 500) -> dict[str, float]:
    """Critic estimates against collected soft returns over `episodes` episodes of the stochastic policy (episode
    i from `reset(seed=seed + i)`; actions from the global torch RNG).

    Every step of a terminated episode counts; of one cut by its time limit, all but the last `tail` steps
    (their returns miss at most gamma^tail of the unseen future: 0.0066 of it at gamma 0.99, tail 500).
    Returns the states counted, alpha, the mean soft return, the mean of min_j Q_j (what the targets use) and of
    the ensemble mean, and each one's bias (Q - G) absolute and relative to the mean |G|."""
    gamma, alpha = float(agent.cfg.gamma), float(agent.temperature.alpha)
    q_all, g_all = [], []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        qs, rewards, ends, logps = [], [], [], []
        done = terminated = False
        while not done:
            features = agent.encoder.features(torch.as_tensor(obs, device=agent.device).unsqueeze(0), True)
            action, logp = agent.actor(features).rsample()  # (1, act_dim), (1,)
            qs.append(agent.critic(features, action)[:, 0])  # (E,)
            obs, reward, terminated, truncated, _ = env.step(action[0].cpu().numpy())
            rewards.append(float(reward))
            ends.append(float(terminated))
            logps.append(float(logp[0]))
            done = terminated or truncated
        r, d, lp = (torch.tensor(v, dtype=torch.float64) for v in (rewards, ends, logps))
        g = soft_returns(r, d, lp, gamma, alpha)
        keep = len(g) if terminated else max(len(g) - tail, 0)
        q_all.append(torch.stack(qs)[:keep].double().cpu())
        g_all.append(g[:keep])
    q, g = torch.cat(q_all), torch.cat(g_all)  # (N, E), (N,)
    scale = float(g.abs().mean())
    out = {"states": float(len(g)), "alpha": alpha, "return": float(g.mean())}
    for name, estimate in (("q_min", q.min(dim=1).values), ("q_mean", q.mean(dim=1))):
        bias = float((estimate - g).mean())
        out |= {name: float(estimate.mean()), f"{name}_bias": bias, f"{name}_bias_rel": bias / scale}
    return out
