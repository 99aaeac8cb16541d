"""The tanh-squashed diagonal Gaussian of SAC (Haarnoja et al. 2018, appendix C).

u ~ N(mu, std^2), a = tanh(u). By change of variables
    log pi(a|s) = log N(u; mu, std) - sum_i log(1 - tanh(u_i)^2),
and the Jacobian term is computed as 2 * (log 2 - u - softplus(-2u)), which is exact and stays
finite for any u, where the naive log(1 - tanh(u)^2) is -inf once tanh(u) rounds to 1 (|u| > 9 in float32).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_2 = math.log(2.0)


def reparameterize(mu: Tensor, std: Tensor, eps: Tensor) -> Tensor:
    """The reparameterisation trick: z = mu + std * eps with eps ~ N(0, I), so dz/dmu = 1, dz/dstd = eps."""
    return mu + std * eps


def tanh_log_det_jacobian(u: Tensor) -> Tensor:
    """log |d tanh(u) / du| = log(1 - tanh(u)^2), summed over the last dim. (..., d) -> (...)."""
    return (2.0 * (_LOG_2 - u - F.softplus(-2.0 * u))).sum(-1)


class TanhGaussian:
    """pi(a|s) = tanh(N(mu, diag(std^2))), batch-first: mu, log_std are (B, act_dim)."""

    def __init__(self, mu: Tensor, log_std: Tensor) -> None:
        self.mu = mu
        self.log_std = log_std
        self.std = log_std.exp()

    def rsample(self, eps: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Reparameterised sample. Returns (action (B, act_dim) in (-1, 1), log_prob (B,)).

        Gradients flow to mu and log_std through the action (the pathwise estimator).
        `eps` (B, act_dim) may be given to fix the noise; by default it is drawn fresh.
        """
        if eps is None:
            eps = torch.randn_like(self.mu)
        u = reparameterize(self.mu, self.std, eps)  # (B, act_dim)
        # (u - mu) / std == eps: using eps directly avoids a cancellation in the Gaussian term.
        gaussian = (-0.5 * eps.pow(2) - self.log_std - _LOG_SQRT_2PI).sum(-1)  # (B,)
        return torch.tanh(u), gaussian - tanh_log_det_jacobian(u)

    def rsample_n(self, k: int) -> tuple[Tensor, Tensor]:
        """k reparameterised samples per state: (actions (k, B, act_dim), log_probs (k, B))."""
        return self.rsample(torch.randn((k, *self.mu.shape), device=self.mu.device, dtype=self.mu.dtype))

    def log_prob_pre_tanh(self, u: Tensor) -> Tensor:
        """log pi(tanh(u)|s) for given pre-squash samples u (..., B, act_dim) -> (..., B).

        Differentiable in mu and log_std with u held fixed: the score function the log-derivative
        estimator needs. Taking u rather than the action avoids atanh, ill-conditioned near |a| = 1.
        """
        z = (u - self.mu) / self.std
        gaussian = (-0.5 * z.pow(2) - self.log_std - _LOG_SQRT_2PI).sum(-1)
        return gaussian - tanh_log_det_jacobian(u)

    def score_samples(self, k: int) -> tuple[Tensor, Tensor]:
        """k actions per state drawn without gradient, and their log-probs, differentiable in mu and log_std:
        what the score-function estimator needs. -> ((k, B, act_dim), (k, B))."""
        eps = torch.randn((k, *self.mu.shape), device=self.mu.device, dtype=self.mu.dtype)
        u = reparameterize(self.mu, self.std, eps).detach()  # (k, B, act_dim)
        return torch.tanh(u), self.log_prob_pre_tanh(u)

    def mode(self) -> Tensor:
        """The deterministic action tanh(mu) (B, act_dim), used for evaluation."""
        return torch.tanh(self.mu)
