"""REINFORCE with a learned value baseline: the score-function (log-derivative) estimator on whole episodes.

    grad J = E[ sum_t grad log pi(a_t|s_t) * (G_t - V(s_t)) ],   G_t = sum_{t' >= t} gamma^(t'-t) r_t'

The policy is a Gaussian with a state-dependent mean and a state-independent log-std (the classic
REINFORCE/TRPO parameterisation): unsquashed, so log pi is exact for the sampled action, which is
clipped to [-1, 1] only on its way to the env. Episodes cut by a time limit are bootstrapped with
V(final state); terminal ones are not. Advantages are normalised per batch. Its training loop is
sac/run/train_reinforce.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.distributions import Normal

from sac.config import ReinforceAgentConfig
from sac.networks import mlp


class GaussianPolicy(nn.Module):
    """obs (B, obs_dim) -> N(mean(obs), diag(exp(log_std))^2) over (B, act_dim)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden_sizes: list[int], init_log_std: float) -> None:
        super().__init__()
        self.mean = mlp(obs_dim, hidden_sizes, act_dim)
        self.log_std = nn.Parameter(torch.full((act_dim,), init_log_std))

    def forward(self, obs: Tensor) -> Normal:
        return Normal(self.mean(obs), self.log_std.exp())


def reward_to_go(rewards: np.ndarray, gamma: float, bootstrap: float) -> np.ndarray:
    """G_t = r_t + gamma * G_{t+1}, with G_T = bootstrap (0 at a terminal state, V(s_T) at a time limit). (T,)"""
    returns = np.empty(len(rewards))
    running = bootstrap
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


class Reinforce:
    def __init__(self, obs_dim: int, act_dim: int, cfg: ReinforceAgentConfig, device: torch.device) -> None:
        self.cfg = cfg
        self.device = device
        self.policy = GaussianPolicy(obs_dim, act_dim, cfg.hidden_sizes, cfg.init_log_std).to(device)
        self.value = mlp(obs_dim, cfg.hidden_sizes, 1).to(device)
        self.policy_optim = torch.optim.Adam(self.policy.parameters(), lr=cfg.policy_lr)
        self.value_optim = torch.optim.Adam(self.value.parameters(), lr=cfg.value_lr)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Actions (N, act_dim), unclipped, for observations (N, obs_dim)."""
        dist = self.policy(torch.as_tensor(obs, device=self.device))
        return (dist.mean if deterministic else dist.sample()).cpu().numpy()

    @torch.no_grad()
    def state_value(self, obs: np.ndarray) -> float:
        return float(self.value(torch.as_tensor(obs, device=self.device).unsqueeze(0)))

    def update(self, obs: Tensor, actions: Tensor, returns: Tensor) -> dict[str, Tensor]:
        """One policy-gradient step and a value fit on a batch of whole episodes (T, ...)."""
        with torch.no_grad():
            advantages = returns - self.value(obs).squeeze(-1)  # (T,)
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        dist = self.policy(obs)
        logp = dist.log_prob(actions).sum(-1)  # (T,)
        policy_loss = -(logp * advantages).mean()
        self.policy_optim.zero_grad()
        policy_loss.backward()
        self.policy_optim.step()

        value_losses = []
        for _ in range(self.cfg.value_epochs):
            for idx in torch.randperm(len(obs), device=obs.device).split(self.cfg.value_minibatch):
                value_loss = 0.5 * (self.value(obs[idx]).squeeze(-1) - returns[idx]).pow(2).mean()
                self.value_optim.zero_grad()
                value_loss.backward()
                self.value_optim.step()
                value_losses.append(value_loss.detach())
        with torch.no_grad():
            residual = returns - self.value(obs).squeeze(-1)
        return {
            "train/policy_loss": policy_loss.detach(),
            "train/value_loss": torch.stack(value_losses).mean(),
            "train/explained_variance": 1.0 - residual.var() / returns.var().clamp_min(1e-8),
            "train/entropy": dist.entropy().sum(-1).mean().detach(),
            "train/log_std": self.policy.log_std.mean().detach(),
        }

    def parameter_groups(self) -> dict[str, list[Tensor]]:
        """The trained parameters by part, for the NaN guard."""
        return {"policy": list(self.policy.parameters()), "value": list(self.value.parameters())}

    def state_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.state_dict(),
            "value": self.value.state_dict(),
            "policy_optim": self.policy_optim.state_dict(),
            "value_optim": self.value_optim.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.value.load_state_dict(state["value"])
        self.policy_optim.load_state_dict(state["policy_optim"])
        self.value_optim.load_state_dict(state["value_optim"])
