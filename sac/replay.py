"""Uniform replay buffer in preallocated tensors on the training device."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor


class Batch(NamedTuple):
    obs: Tensor  # (B, obs_dim)
    action: Tensor  # (B, act_dim)
    reward: Tensor  # (B,)
    next_obs: Tensor  # (B, obs_dim)
    terminated: Tensor  # (B,) float 0/1: 1 only at true terminal states, never at time limits


class ReplayBuffer:
    """A ring buffer of transitions (s, a, r, s', terminated, truncated).

    `terminated` and `truncated` are stored apart: the critic target cuts the bootstrap at
    `terminated` only, so an episode ended by a time limit is still bootstrapped from s'.
    """

    _FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "truncated")

    def __init__(self, obs_dim: int, act_dim: int, capacity: int, device: torch.device, seed: int = 0) -> None:
        self.capacity = capacity
        self.device = device
        self.obs = torch.empty(capacity, obs_dim, device=device)
        self.action = torch.empty(capacity, act_dim, device=device)
        self.reward = torch.empty(capacity, device=device)
        self.next_obs = torch.empty(capacity, obs_dim, device=device)
        self.terminated = torch.empty(capacity, dtype=torch.bool, device=device)
        self.truncated = torch.empty(capacity, dtype=torch.bool, device=device)
        self.ptr = 0
        self.size = 0
        # A generator of its own: sampling neither perturbs nor depends on the global torch RNG.
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return self.size

    def add(
        self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray, terminated: bool, truncated: bool
    ) -> None:
        i = self.ptr
        self.obs[i] = torch.as_tensor(obs)
        self.action[i] = torch.as_tensor(action)
        self.reward[i] = float(reward)
        self.next_obs[i] = torch.as_tensor(next_obs)
        self.terminated[i] = bool(terminated)
        self.truncated[i] = bool(truncated)
        self.ptr = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """Uniform batch with replacement; `generator` replaces the buffer's own (diagnostics use one)."""
        idx = torch.randint(self.size, (batch_size,), device=self.device, generator=generator or self.generator)  # (B,)
        return Batch(
            obs=self.obs[idx],
            action=self.action[idx],
            reward=self.reward[idx],
            next_obs=self.next_obs[idx],
            terminated=self.terminated[idx].float(),
        )

    def state_dict(self) -> dict[str, Tensor]:
        """The filled part only, plus the write position and the sampling RNG state."""
        state = {name: getattr(self, name)[: self.size] for name in self._FIELDS}
        state["ptr"] = torch.tensor(self.ptr)
        state["rng"] = self.generator.get_state()
        return state

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        size = state["obs"].shape[0]
        if size > self.capacity:
            raise ValueError(f"saved buffer holds {size} transitions, more than capacity {self.capacity}")
        for name in self._FIELDS:
            getattr(self, name)[:size] = state[name].to(self.device)
        self.size = size
        self.ptr = int(state["ptr"])
        self.generator.set_state(state["rng"].cpu())
