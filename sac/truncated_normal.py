"""The truncated-normal policy: per action dimension N(mu, std^2) truncated to [-1, 1], implicitly reparameterised.

Bounded like the action space itself, so there is no squashing and no log-determinant: with z = (x - mu) / std,
alpha = (-1 - mu) / std, beta = (1 - mu) / std and Z = Phi(beta) - Phi(alpha) (the mass left in [-1, 1]),

    log pi(x|s) = sum_i [log phi(z_i) - log std_i - log Z_i],
    H = sum_i [log(sqrt(2 pi e) std_i Z_i) + (alpha_i phi(alpha_i) - beta_i phi(beta_i)) / (2 Z_i)].

**Sampling** is the inverse CDF, x = mu + std * Phi^-1(p) with p = Phi(alpha) + v Z and v ~ U(0, 1), done in
float64 and in log space. The interval [-1, 1] is symmetric, so negating mu and x (where mu < 0) puts it left of the
mean, where Phi is small but held to full relative precision by log Phi (`log_ndtr`): there
log p = log Phi(beta) + log(v + (1 - v) Phi(alpha) / Phi(beta)), and Phi^-1 is taken of exp(log p), or past
float64's range (log p < -700, the interval more than 37 stds from the mean) by Newton's method on log Phi. So the
sample stays exact where [-1, 1] lies far in a tail of N(mu, std^2) (mu = 3, std = 0.1: the interval 20 to 40 stds
away), where p rounds to 0 and plain inverse-CDF sampling returns -inf, a bound once clamped.

**The gradient** is implicit (Figurnov, Mohamed & Mnih 2018): x solves F(x; mu, std) = v, so
dx/dtheta = -(dF(x; theta)/dtheta) / p(x; theta), which in closed form is

    dx/dmu  = 1 - w_a - w_b,         w_a = (1 - F) phi(alpha) / phi(z),
    dx/dstd = z - alpha w_a - beta w_b,   w_b = F phi(beta) / phi(z),

(1 and z, the untruncated pathwise gradients, less what the bounds hold back). The weights are formed in log space,
log w_a = log(1 - F) + (z^2 - alpha^2) / 2, and lie in [0, 1] up to rounding, so the gradient is always finite; F is
the uniform draw itself, so no CDF is differenced. Where [-1, 1] lies deep in a tail, 1 - w_a - w_b cancels and the
relative error grows like the depth squared (against a 50-digit reference, docs/implicit_policies.md: below 1e-7
within 80 stds of the mean, 2e-3 at 1,900, where dx/dmu itself is below 1e-6). The sample carries this gradient as
x + dx/dmu (mu - stop(mu)) + dx/dstd (std - stop(std)): its value is the sample and its first derivative the implicit
one, in plain tensor ops that torch.func's grad and vmap (the diagnostics, batched seeds) trace.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.special import erfc, erfcx, ndtri

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_HALF_LOG_2PIE = 0.5 * math.log(2.0 * math.pi * math.e)
_SQRT_HALF = math.sqrt(0.5)
_NDTRI_FLOOR = -700.0
"""log p below which exp(log p) leaves float64's normal range and Phi^-1 is found by Newton's method instead."""
_NEWTON_STEPS = 2


class TruncatedNormal:
    """pi(x|s) on [-1, 1]^act_dim: N(mu, std^2) per dimension, truncated; mu, log_std (B, act_dim)."""

    def __init__(self, mu: Tensor, log_std: Tensor) -> None:
        self.mu = mu
        self.log_std = log_std
        self.std = log_std.exp()

    def rsample(self) -> tuple[Tensor, Tensor]:
        """Implicitly reparameterised sample: (action (B, act_dim), log_prob (B,))."""
        x = implicit_sample(self.mu, self.std, torch.rand(self.mu.shape, device=self.mu.device, dtype=torch.float64))
        return x, self.log_prob(x)

    def rsample_n(self, k: int) -> tuple[Tensor, Tensor]:
        """k implicitly reparameterised samples per state: (actions (k, B, act_dim), log_probs (k, B))."""
        v = torch.rand((k, *self.mu.shape), device=self.mu.device, dtype=torch.float64)
        x = implicit_sample(self.mu, self.std, v)
        return x, self.log_prob(x)

    def score_samples(self, k: int) -> tuple[Tensor, Tensor]:
        """k actions per state drawn without gradient, and their log-probs, differentiable in mu and log_std:
        what the score-function estimator needs. -> ((k, B, act_dim), (k, B))."""
        v = torch.rand((k, *self.mu.shape), device=self.mu.device, dtype=torch.float64)
        x = sample(self.mu.detach(), self.std.detach(), v)
        return x, self.log_prob(x)

    def log_prob(self, x: Tensor) -> Tensor:
        """log pi(x|s) for x (..., B, act_dim) in [-1, 1] -> (..., B)."""
        z = (x - self.mu) / self.std
        return (-0.5 * z.pow(2) - _LOG_SQRT_2PI - self.log_std - log_mass(self.mu, self.std)).sum(-1)

    def entropy(self) -> Tensor:
        """The closed-form entropy (B,), summed over dimensions."""
        alpha, beta = (-1.0 - self.mu) / self.std, (1.0 - self.mu) / self.std
        log_z = log_mass(self.mu, self.std)
        # alpha phi(alpha) / Z with phi(alpha) / Z formed in log space: Z may underflow where phi / Z does not.
        edge_a = alpha * torch.exp(-0.5 * alpha.pow(2) - _LOG_SQRT_2PI - log_z)
        edge_b = beta * torch.exp(-0.5 * beta.pow(2) - _LOG_SQRT_2PI - log_z)
        return (_HALF_LOG_2PIE + self.log_std + log_z + 0.5 * (edge_a - edge_b)).sum(-1)

    def mode(self) -> Tensor:
        """The deterministic action, the density's maximum clamp(mu, -1, 1) (B, act_dim)."""
        return self.mu.clamp(-1.0, 1.0)


def log_mass(mu: Tensor, std: Tensor) -> Tensor:
    """log Z = log(Phi(beta) - Phi(alpha)), the log of N(mu, std^2)'s mass in [-1, 1]; elementwise.

    Z is symmetric in mu, so it is taken at |mu|, where [-1, 1] lies left of the mean and both Phis are held in log
    space: log Phi(beta) + log(1 - Phi(alpha) / Phi(beta)) (the last term to an absolute 1e-16 wherever
    Phi(alpha) / Phi(beta) is below that, all that log Z needs)."""
    m = mu.abs()
    log_a, log_b = log_ndtr_left((-1.0 - m) / std), log_ndtr((1.0 - m) / std)
    return log_b + torch.log(-torch.expm1(log_a - log_b))


def log_ndtr(x: Tensor) -> Tensor:
    """log Phi(x), accurate in both tails, as torch.special.log_ndtr computes it; written through erfcx, which
    torch.func.vmap batches (it has no batching rule for log_ndtr). Left: `log_ndtr_left`; right:
    log1p(-Phi(-x)). Each side sees its own half-line only, so neither overflows nor turns a gradient NaN."""
    log_right = torch.log1p(-0.5 * erfc(x.clamp(min=0.0) * _SQRT_HALF))
    return torch.where(x < 0, log_ndtr_left(x.clamp(max=0.0)), log_right)


def log_ndtr_left(x: Tensor) -> Tensor:
    """log Phi(x) for x <= 0: Phi(x) = erfcx(-x / sqrt 2) e^(-x^2/2) / 2, finite however far left."""
    return torch.log(0.5 * erfcx(-x * _SQRT_HALF)) - 0.5 * x.pow(2)


def sample(mu: Tensor, std: Tensor, v: Tensor) -> Tensor:
    """x = F^-1(v; mu, std) for v (..., B, d) in [0, 1) (float64), exact in both tails; no gradient. -> mu's dtype."""
    return sample64(mu, std, v).to(mu.dtype)


def sample64(mu: Tensor, std: Tensor, v: Tensor) -> Tensor:
    """`sample` in float64, the precision its implicit gradient is taken at."""
    with torch.no_grad():
        mu64, std64 = mu.double(), std.double()
        flip = mu64 < 0  # negate so that [-1, 1] lies left of the mean
        m = mu64.abs()
        alpha, beta = (-1.0 - m) / std64, (1.0 - m) / std64
        log_a, log_b = log_ndtr_left(alpha), log_ndtr(beta)
        # In the flipped frame the draw is 1 - v, so that F(x) = v holds in the original one.
        u = torch.where(flip, 1.0 - v, v)
        log_p = log_b + torch.log(u + (1.0 - u) * torch.exp(log_a - log_b))
        z = log_ndtri(log_p).clamp(torch.broadcast_to(alpha, log_p.shape), torch.broadcast_to(beta, log_p.shape))
        x = (m + std64 * z).clamp(-1.0, 1.0)
        return torch.where(flip, -x, x)


def log_ndtri(log_p: Tensor) -> Tensor:
    """Phi^-1(exp(log_p)) for float64 log_p <= 0, also where exp(log_p) underflows: there Newton's method on
    log Phi, from the tail's asymptote, where ndtri cannot take the probability."""
    direct = ndtri(log_p.exp())
    deep = log_p.clamp(max=_NDTRI_FLOOR)
    # The tail's asymptote, log p = -z^2 / 2 - log(-z) - log(2 pi) / 2, solved once for z: within 4e-6 of the root
    # there, and Newton doubles the digits per step.
    z = -torch.sqrt(-2.0 * deep - torch.log(-2.0 * deep) - 2.0 * _LOG_SQRT_2PI)
    for _ in range(_NEWTON_STEPS):
        log_cdf = log_ndtr_left(z)
        z = z - (log_cdf - deep) * torch.exp(log_cdf + 0.5 * z.pow(2) + _LOG_SQRT_2PI)
    return torch.where(log_p < _NDTRI_FLOOR, z, direct)


def implicit_gradients(x: Tensor, mu: Tensor, std: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """(dx/dmu, dx/dstd) of the sample x = F^-1(v; mu, std), by implicit differentiation of F (module docstring),
    in float64. All arguments (..., B, d); v is F(x), the uniform draw."""
    x64, mu64, std64 = x.double(), mu.double(), std.double()
    z = (x64 - mu64) / std64
    alpha, beta = (-1.0 - mu64) / std64, (1.0 - mu64) / std64
    w_a = torch.exp(torch.log1p(-v) + 0.5 * (z.pow(2) - alpha.pow(2)))
    w_b = torch.exp(torch.log(v) + 0.5 * (z.pow(2) - beta.pow(2)))
    return 1.0 - w_a - w_b, z - alpha * w_a - beta * w_b


def implicit_sample(mu: Tensor, std: Tensor, v: Tensor) -> Tensor:
    """The sample F^-1(v; mu, std) (..., B, d), carrying the implicit gradient to mu and std (B, d)."""
    x = sample64(mu, std, v)
    with torch.no_grad():  # at the float64 sample: a float32 one would move z by 1e-7 / std
        dx_dmu, dx_dstd = (g.to(mu.dtype) for g in implicit_gradients(x, mu, std, v))
    return x.to(mu.dtype) + dx_dmu * (mu - mu.detach()) + dx_dstd * (std - std.detach())
