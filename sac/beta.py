"""The Beta policy (Chou et al. 2017): a = 2x - 1 with x ~ Beta(c1, c0) per action dimension, c1 and c0 its two
concentrations (`concentration1`, `concentration0` in torch.distributions.Beta's names; often alpha and beta, names
this package keeps for SAC's temperature and for nothing).

Bounded like the action space itself, so no squashing correction is needed: log pi(a|s) =
sum_i [log Beta(x_i; c1_i, c0_i)] - act_dim * log 2 (the affine map's Jacobian). Samples carry the
*implicit* reparameterisation gradient (Figurnov et al. 2018), dx/dtheta = -(dF(x; theta)/dtheta) / p(x; theta),
computed as `torch.distributions.Beta.rsample` does, through the two-component Dirichlet sampler and torch's
`_dirichlet_grad` (`_implicit_beta_sample` below: the same draws and gradients, written as an autograd.Function
that `torch.func.vmap` can batch, which batched seeds need): no closed-form inverse CDF is needed, yet the
gradient is as exact as the pathwise one.

Concentrations are 1 + softplus(.) > 1 (Chou et al.), so the density is unimodal and bounded. In float32 a
sample can round to exactly 0 or 1, where the log-density is infinite; samples are therefore kept
EPS = 1e-6 inside (0, 1). The log-prob is then that of the clamped point, a bias of at most the mass the
distribution puts within 1e-6 of a bound.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.distributions import Beta

EPS = 1e-6
_LOG_2 = math.log(2.0)


class BetaPolicy:
    """pi(a|s) on [-1, 1]^act_dim; concentration1, concentration0 (B, act_dim), each > 1."""

    def __init__(self, concentration1: Tensor, concentration0: Tensor) -> None:
        self.concentration1 = concentration1
        self.concentration0 = concentration0
        self.base = Beta(concentration1, concentration0, validate_args=False)

    def rsample(self) -> tuple[Tensor, Tensor]:
        """Implicitly reparameterised sample: (action (B, act_dim), log_prob (B,)); gradients reach both
        concentrations through the action."""
        x = _implicit_beta_sample(self.concentration1, self.concentration0, ()).clamp(EPS, 1.0 - EPS)
        return 2.0 * x - 1.0, self.log_prob(x)

    def rsample_n(self, k: int) -> tuple[Tensor, Tensor]:
        """k implicitly reparameterised samples per state: (actions (k, B, act_dim), log_probs (k, B))."""
        x = _implicit_beta_sample(self.concentration1, self.concentration0, (k,)).clamp(EPS, 1.0 - EPS)
        return 2.0 * x - 1.0, self.log_prob(x)

    def score_samples(self, k: int) -> tuple[Tensor, Tensor]:
        """k actions per state drawn without gradient, and their log-probs, differentiable in the
        concentrations: what the score-function estimator needs. -> ((k, B, act_dim), (k, B))."""
        with torch.no_grad():
            x = self.base.sample((k,)).clamp(EPS, 1.0 - EPS)
        return 2.0 * x - 1.0, self.log_prob(x)

    def log_prob(self, x: Tensor) -> Tensor:
        """log pi(2x - 1 | s) for x (..., B, act_dim) in (0, 1) -> (...)."""
        return (self.base.log_prob(x) - _LOG_2).sum(-1)

    def mode(self) -> Tensor:
        """The deterministic action: the mean, 2 * c1 / (c1 + c0) - 1 (B, act_dim).

        The mean rather than the mode: the mode, (c1 - 1) / (c1 + c0 - 2), is 0/0 at the uniform c1 = c0 = 1
        that softplus approaches and jumps between the bounds near it; the mean is smooth.
        """
        return 2.0 * self.concentration1 / (self.concentration1 + self.concentration0) - 1.0


def _implicit_beta_sample(c1: Tensor, c0: Tensor, sample_shape: tuple[int, ...]) -> Tensor:
    """x ~ Beta(c1, c0), (*sample_shape, *c1.shape), differentiable in both concentrations by the implicit
    gradient: the first component of a Dirichlet(c1, c0) draw, as torch.distributions.Beta samples it."""
    concentration = torch.stack([c1, c0], -1)
    return _DirichletSample.apply(concentration.expand(*sample_shape, *concentration.shape))[..., 0]


class _DirichletSample(torch.autograd.Function):
    """x ~ Dirichlet(c) over the last axis; backward by implicit differentiation of the CDF (Figurnov et al.
    2018) through torch's `_dirichlet_grad`, projected onto the simplex (sum_i dx_i = 0)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(concentration: Tensor) -> Tensor:
        return torch._sample_dirichlet(concentration)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor], output: Tensor) -> None:
        ctx.save_for_backward(output, inputs[0])

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        x, concentration = ctx.saved_tensors
        total = concentration.sum(-1, keepdim=True).expand_as(concentration)
        dx_dc = torch._dirichlet_grad(x, concentration, total)
        return dx_dc * (grad_output - (x * grad_output).sum(-1, keepdim=True))
