"""The Gaussian-mixture policy: K diagonal Gaussians per state, tanh-squashed, reparameterised through the whole
mixture (the multimodal policy of SAC's first version, Haarnoja et al. 2018, arXiv v1, with its gradient complete).

u ~ sum_k w_k N(mu_k, diag(std_k^2)) in R^d, a = tanh(u). Per state: weights w = softmax(logits) (B, K), means and
log-stds (B, K, d). The log-density is a logsumexp over components with the tanh correction of `distributions.py`:

    log pi(a|s) = logsumexp_k [log w_k + sum_i log N(u_i; mu_ki, std_ki)] - sum_i log(1 - tanh(u_i)^2).

**The gradient.** SAC v1 sampled the component and reparameterised only within it, so no gradient reached the
weights. Here the sample carries the gradient of the *multivariate distributional transform* (Graves 2016,
"Stochastic backpropagation through mixture density distributions"; Figurnov, Mohamed & Mnih 2018): u is the
solution of F_i(u_i | u_<i; theta) = v_i for i = 1..d, where F_i is the CDF of dimension i given the ones before it,
itself a mixture whose weights are the posteriors given u_<i:

    F_i = sum_k pi_ik Phi(z_ik),   z_ik = (u_i - mu_ki) / std_ki,   pi_ik ∝ w_k prod_{j<i} N(u_j; mu_kj, std_kj).

Implicit differentiation of that triangular system gives du/dtheta = -J^-1 dF/dtheta, where J = dF/du is lower
triangular: its diagonal the conditional densities p_i = sum_k pi_ik phi(z_ik) / std_ki, and below it
J_ij = sum_k Phi(z_ik) pi_ik (s_kj - sum_m pi_im s_mj) with s_kj = -z_kj / std_kj (the posterior weights move with
u_j). No CDF is inverted: v = F(u) is uniform for any exact sample, so u is drawn ancestrally (a component by
Gumbel-max, then its Gaussian) and only its value enters the gradient. The sample carries it as
u + solve(J, -(F - stop(F))), zero in value and -J^-1 dF/dtheta in derivative, in plain tensor ops that torch.func's
grad and vmap trace; J and the solve are in float64, where a small conditional density cannot underflow.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F
from torch.special import ndtr

from sac.distributions import tanh_log_det_jacobian

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class TanhGaussianMixture:
    """pi(a|s) = tanh(sum_k w_k N(mu_k, diag(std_k^2))): logits (B, K), mu and log_std (B, K, act_dim)."""

    def __init__(self, logits: Tensor, mu: Tensor, log_std: Tensor) -> None:
        self.logits = logits
        self.mu = mu
        self.log_std = log_std
        self.std = log_std.exp()

    def rsample(self) -> tuple[Tensor, Tensor]:
        """Reparameterised sample through the whole mixture: (action (B, act_dim), log_prob (B,))."""
        u = self.transform_gradient(self.draw(()))
        return torch.tanh(u), self.log_prob_pre_tanh(u)

    def rsample_n(self, k: int) -> tuple[Tensor, Tensor]:
        """k reparameterised samples per state: (actions (k, B, act_dim), log_probs (k, B))."""
        u = self.transform_gradient(self.draw((k,)))
        return torch.tanh(u), self.log_prob_pre_tanh(u)

    def score_samples(self, k: int) -> tuple[Tensor, Tensor]:
        """k actions per state drawn without gradient, and their log-probs, differentiable in every parameter:
        what the score-function estimator needs. -> ((k, B, act_dim), (k, B))."""
        u = self.draw((k,))
        return torch.tanh(u), self.log_prob_pre_tanh(u)

    def draw(self, sample_shape: tuple[int, ...]) -> Tensor:
        """Exact samples u (*sample_shape, B, act_dim) before the tanh, without gradient: a component per sample
        by Gumbel-max on the logits, then that component's Gaussian."""
        with torch.no_grad():
            shape = (*sample_shape, *self.logits.shape)
            gumbel = -torch.log(-torch.log(torch.rand(shape, device=self.logits.device).clamp_min(1e-20)))
            chosen = (self.logits + gumbel).argmax(-1, keepdim=True)  # (..., B, 1)
            # A one-hot product rather than a gather: the same value, and simpler for vmap to batch.
            one_hot = (chosen == torch.arange(self.logits.shape[-1], device=chosen.device)).to(self.mu.dtype)
            mu = (one_hot.unsqueeze(-1) * self.mu).sum(-2)  # (..., B, d)
            std = (one_hot.unsqueeze(-1) * self.std).sum(-2)
            return mu + std * torch.randn_like(mu)

    def log_prob_pre_tanh(self, u: Tensor) -> Tensor:
        """log pi(tanh(u)|s) for u (..., B, act_dim) -> (..., B), differentiable in u and every parameter."""
        z = (u.unsqueeze(-2) - self.mu) / self.std  # (..., B, K, d)
        log_normal = (-0.5 * z.pow(2) - self.log_std - _LOG_SQRT_2PI).sum(-1)  # (..., B, K)
        return torch.logsumexp(F.log_softmax(self.logits, -1) + log_normal, -1) - tanh_log_det_jacobian(u)

    def transform_gradient(self, u0: Tensor) -> Tensor:
        """u0 (..., B, d), an exact sample, as a tensor whose derivative in the parameters is the distributional
        transform's -J^-1 dF/dtheta (module docstring) and whose value is u0."""
        cdf = conditional_cdfs(u0, self.logits, self.mu, self.std)  # (..., B, d), differentiable in theta
        with torch.no_grad():
            jacobian = transform_jacobian(u0.double(), self.logits.double(), self.mu.double(), self.std.double())
        step = torch.linalg.solve_triangular(jacobian, (cdf.detach() - cdf).double().unsqueeze(-1), upper=False)
        return u0 + step.squeeze(-1).to(u0.dtype)

    def component_entropy(self) -> Tensor:
        """The entropy of the component weights (B,): log K when all are used, 0 when one holds all the mass."""
        log_w = F.log_softmax(self.logits, -1)
        return -(log_w.exp() * log_w).sum(-1)

    def mode(self) -> Tensor:
        """The deterministic action (B, act_dim): tanh of the mean of the heaviest component."""
        heaviest = self.logits.argmax(-1, keepdim=True)  # (B, 1)
        one_hot = (heaviest == torch.arange(self.logits.shape[-1], device=heaviest.device)).to(self.mu.dtype)
        return torch.tanh((one_hot.unsqueeze(-1) * self.mu).sum(-2))


def posteriors(u: Tensor, logits: Tensor, mu: Tensor, std: Tensor) -> tuple[Tensor, Tensor]:
    """(log pi_ik, z_ik): the log-weights of the components for dimension i given u_<i, and the standardised
    u_i of each; (..., B, K, d) each, for u (..., B, d) and the mixture's parameters."""
    z = (u.unsqueeze(-2) - mu) / std  # (..., B, K, d)
    log_normal = -0.5 * z.pow(2) - std.log() - _LOG_SQRT_2PI
    before = log_normal.cumsum(-1) - log_normal  # sum over j < i: the dimensions already fixed
    return F.log_softmax(logits.unsqueeze(-1) + before, dim=-2), z


def conditional_cdfs(u: Tensor, logits: Tensor, mu: Tensor, std: Tensor) -> Tensor:
    """F_i(u_i | u_<i) (..., B, d), the CDF of each dimension given the ones before it."""
    log_pi, z = posteriors(u, logits, mu, std)
    return (log_pi.exp() * ndtr(z)).sum(-2)


def transform_jacobian(u: Tensor, logits: Tensor, mu: Tensor, std: Tensor) -> Tensor:
    """J = dF/du (..., B, d, d), lower triangular: J_ii = p_i(u_i | u_<i), and for j < i
    J_ij = sum_k Phi(z_ik) pi_ik (s_kj - sum_m pi_im s_mj), s_kj = -z_kj / std_kj."""
    log_pi, z = posteriors(u, logits, mu, std)
    pi = log_pi.exp()  # (..., B, K, d)
    s = -z / std  # d log N(u_j; mu_kj, std_kj) / du_j
    weighted = pi * ndtr(z)  # (..., B, K, d_i)
    below = weighted.transpose(-1, -2) @ s - (weighted.sum(-2).unsqueeze(-1) * (pi.transpose(-1, -2) @ s))
    density = (pi * torch.exp(-0.5 * z.pow(2) - _LOG_SQRT_2PI) / std).sum(-2)  # (..., B, d)
    return torch.tril(below, diagonal=-1) + torch.diag_embed(density)
