"""A replay batch: what an agent's update consumes, whatever stored it (sac/run/replay.py)."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor


class Batch(NamedTuple):
    obs: Tensor  # (B, obs_dim)
    action: Tensor  # (B, act_dim), or (B, 1) holding the index of a discrete action
    reward: Tensor  # (B,)
    next_obs: Tensor  # (B, obs_dim)
    terminated: Tensor  # (B,) float 0/1: 1 only at true terminal states, never at time limits
