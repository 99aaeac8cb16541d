"""What every SAC agent holds, written once: a soft (Polyak-averaged) target of a module, and the learned temperature.

`agent.SAC` and `discrete.DiscreteSAC` each own one of both; the VAE encoder's target is a `SoftTarget` too.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Generic, TypeVar

import torch
from torch import Tensor, nn

from sac.losses import temperature_loss

M = TypeVar("M", bound=nn.Module)


class SoftTarget(Generic[M]):
    """A frozen copy `net` of a module that trails it: theta' <- (1 - tau) theta' + tau theta at each `update`
    (Lillicrap et al. 2016; SAC's target critics, Haarnoja et al. 2018, eq. 8).

    Made after the module is on its device; `update` is one fused op over all tensors, so it can sit in a CUDA graph.
    """

    def __init__(self, online: M, tau: float) -> None:
        self.net: M = copy.deepcopy(online).requires_grad_(False)
        self.tau = tau
        self._target_params: list[Tensor] = list(self.net.parameters())
        self._online_params: list[Tensor] = list(online.parameters())

    @torch.no_grad()
    def update(self) -> None:
        torch._foreach_lerp_(self._target_params, self._online_params, self.tau)


class Temperature(nn.Module):
    """alpha = exp(log_alpha), tuned so that the policy's entropy stays near `target_entropy` (Haarnoja et al.
    2018, "SAC: Algorithms and Applications", sec. 5); fixed at `init_alpha` when not learned.

    Its optimizer is the actor's (one param group each): their losses touch disjoint parameters, so one backward
    and one step serve both. A module with `log_alpha` as its parameter, so that `torch.func.functional_call`
    can swap it like the networks' weights (batched seeds, sac/run/seeds.py).
    """

    def __init__(self, init_alpha: float, target_entropy: float, learn: bool, device: torch.device) -> None:
        super().__init__()
        self.log_alpha = nn.Parameter(torch.tensor(math.log(init_alpha), device=device), requires_grad=learn)
        self.target_entropy = target_entropy
        self.learn = learn

    @property
    def alpha(self) -> Tensor:
        """The current alpha, detached: every loss but the temperature's own treats it as a constant."""
        return self.log_alpha.exp().detach()

    def loss(self, logp: Tensor) -> Tensor:
        """J(alpha) on the log-probs (B,) or (K, B) of the actor loss's actions (discrete SAC: minus the entropy)."""
        return temperature_loss(self.log_alpha, logp, self.target_entropy)

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """[] when alpha is fixed, else its Adam param group."""
        return [{"params": [self.log_alpha], "lr": lr}] if self.learn else []
