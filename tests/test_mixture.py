"""The Gaussian-mixture policy: its log-density against torch.distributions, its samples' moments, its gradient
through the distributional transform against finite differences of the transform inverted by bisection, and the
Monte-Carlo mean of that gradient against the derivative of closed-form expectations, weights included."""

import math
from collections.abc import Callable

import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from sac.distributions import tanh_log_det_jacobian
from sac.mixture import TanhGaussianMixture

F64 = torch.float64


def parameters(k: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Well-separated components: logits (K,), means (K, d), log-stds (K, d), float64."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(k, generator=g, dtype=F64)
    mu = 1.5 * torch.randn(k, d, generator=g, dtype=F64)
    log_std = -0.7 + 0.3 * torch.randn(k, d, generator=g, dtype=F64)
    return logits, mu, log_std


def test_log_prob_matches_torch_mixture_same_family_with_the_tanh_correction() -> None:
    logits, mu, log_std = parameters(3, 2, seed=0)
    u = torch.randn(5, 7, 2, generator=torch.Generator().manual_seed(1), dtype=F64) * 2  # (S, B, d)
    batch = lambda t: t.expand(7, *t.shape)  # noqa: E731  (B = 7 states with the same parameters)
    reference = MixtureSameFamily(
        Categorical(logits=batch(logits)), Independent(Normal(batch(mu), batch(log_std).exp()), 1)
    )
    expected = reference.log_prob(u) - tanh_log_det_jacobian(u)
    ours = TanhGaussianMixture(batch(logits), batch(mu), batch(log_std)).log_prob_pre_tanh(u)
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-12)


def test_samples_have_the_mixtures_moments() -> None:
    logits, mu, log_std = parameters(3, 2, seed=2)
    n = 200_000
    torch.manual_seed(3)
    u = TanhGaussianMixture(logits[None], mu[None], log_std[None]).draw((n,))[:, 0]  # (n, d)
    w = logits.softmax(0)
    mean = w @ mu
    second = w @ (mu**2 + (2 * log_std).exp())
    torch.testing.assert_close(u.mean(0), mean, atol=5 * float((second - mean**2).sqrt().max()) / math.sqrt(n), rtol=0)
    torch.testing.assert_close(u.pow(2).mean(0), second, rtol=0.02, atol=0.0)


def reference_conditional_cdf(u: torch.Tensor, i: int, logits: torch.Tensor, mu: torch.Tensor, std: torch.Tensor):
    """F_i(u_i | u_<i) for one point u (d,), written out with torch.distributions.Normal, independently of sac/."""
    log_w = logits.log_softmax(0) + sum((Normal(mu[:, j], std[:, j]).log_prob(u[j]) for j in range(i)), torch.zeros(1))
    return (log_w.softmax(0) * Normal(mu[:, i], std[:, i]).cdf(u[i])).sum()


def inverse_transform(v: torch.Tensor, logits: torch.Tensor, mu: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """u = F^-1(v), dimension by dimension, by bisection in float64 (no gradient): the map whose derivative the
    distributional transform's gradient must equal."""
    std, u = log_std.exp(), torch.zeros(v.shape[0], dtype=F64)
    with torch.no_grad():
        for i in range(v.shape[0]):
            lo, hi = -30.0, 30.0
            for _ in range(64):  # 60 / 2^64: below float64 resolution
                mid = 0.5 * (lo + hi)
                u[i] = mid
                lo, hi = (mid, hi) if reference_conditional_cdf(u, i, logits, mu, std) < v[i] else (lo, mid)
            u[i] = 0.5 * (lo + hi)
    return u


@pytest.mark.parametrize(
    ("k", "d", "seed"), [(2, 1, 0), (3, 2, 1), pytest.param(4, 3, 2, marks=pytest.mark.slow)]
)  # the bisection is a Python loop: the 3-D case costs 10 s
def test_gradcheck_against_the_transform_inverted_by_bisection(k: int, d: int, seed: int) -> None:
    logits, mu, log_std = (t.requires_grad_(True) for t in parameters(k, d, seed))
    v = torch.rand(d, generator=torch.Generator().manual_seed(seed + 10), dtype=F64) * 0.9 + 0.05

    def u_of(lg: torch.Tensor, m: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        u0 = inverse_transform(v, lg.detach(), m.detach(), s.detach())  # the value: exact at any parameters
        return TanhGaussianMixture(lg[None], m[None], s[None]).transform_gradient(u0[None])[0]  # its derivative

    assert torch.autograd.gradcheck(u_of, (logits, mu, log_std), eps=1e-6, atol=1e-6)


def closed_forms() -> dict[str, Callable[..., torch.Tensor]]:
    """E[f(u)] under the mixture, in closed form, for f of one dimension and f coupling two: (w, mu, std) -> E."""
    gauss = lambda m, s: torch.exp(-0.5 * s**2)  # noqa: E731  E[cos(s eps)] for eps ~ N(0, 1)
    return {
        "linear": lambda w, mu, std: w @ (3 * mu[:, 0]),
        "quadratic": lambda w, mu, std: w @ (mu[:, 0] ** 2 + std[:, 0] ** 2),
        "periodic": lambda w, mu, std: w @ (torch.cos(2 * mu[:, 1]) * gauss(None, 2 * std[:, 1])),
        "product": lambda w, mu, std: w @ (mu[:, 0] * mu[:, 1]),
        "coupled periodic": lambda w, mu, std: (
            w @ (torch.sin(mu[:, 0] + 2 * mu[:, 1]) * torch.exp(-0.5 * (std[:, 0] ** 2 + 4 * std[:, 1] ** 2)))
        ),
    }


FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "linear": lambda u: 3 * u[..., 0],
    "quadratic": lambda u: u[..., 0] ** 2,
    "periodic": lambda u: torch.cos(2 * u[..., 1]),
    "product": lambda u: u[..., 0] * u[..., 1],
    "coupled periodic": lambda u: torch.sin(u[..., 0] + 2 * u[..., 1]),
}


@pytest.mark.parametrize("f", FUNCTIONS)
def test_monte_carlo_gradient_matches_the_derivative_of_the_closed_form_expectation(f: str) -> None:
    # A 2-D mixture of three components whose dimensions interact in f ("product", "coupled periodic"): each
    # sample's f'(u) du/dtheta averages to d/dtheta E[f(u)], for the weights' logits, means and log-stds alike.
    logits, mu, log_std = parameters(3, 2, seed=4)
    leaves = [logits.requires_grad_(True), mu.requires_grad_(True), log_std.requires_grad_(True)]
    expectation = closed_forms()[f](logits.softmax(0), mu, log_std.exp())
    grads = torch.autograd.grad(expectation, leaves, allow_unused=True)  # E[u_0] and E[u_0 u_1] ignore the stds
    reference = [torch.zeros_like(t) if g is None else g for g, t in zip(grads, leaves, strict=True)]
    n = 100_000
    per_state = [t.detach().expand(n, *t.shape).clone().requires_grad_(True) for t in leaves]
    torch.manual_seed(5)
    dist = TanhGaussianMixture(*per_state)
    u = dist.transform_gradient(dist.draw(()))  # (n, d)
    estimates = torch.autograd.grad(FUNCTIONS[f](u).sum(), per_state)  # one gradient per sample
    for name, est, ref in zip(("logits", "mu", "log_std"), estimates, reference, strict=True):
        mean, se = est.mean(0), est.std(0) / math.sqrt(n)
        for m, s, r in zip(mean.flatten().tolist(), se.flatten().tolist(), ref.flatten().tolist(), strict=True):
            print(f"mixture f={f} d/d{name}: {m:.5f} ± {s:.5f} against {r:.5f}")
            assert abs(m - r) < 5 * s + 1e-9, (f, name, m, s, r)


def test_the_weights_get_a_gradient_and_vmap_batches_the_sampler() -> None:
    logits, mu, log_std = (t.float() for t in parameters(3, 2, seed=6))
    stacked = [t.expand(4, 8, *t.shape).clone().requires_grad_(True) for t in (logits, mu, log_std)]  # (S, B, ...)
    draws = torch.func.vmap(lambda a, b, c: TanhGaussianMixture(a, b, c).rsample()[0], randomness="different")(*stacked)
    grads = torch.autograd.grad(draws.sum(), stacked)
    assert draws.shape == (4, 8, 2) and not torch.equal(draws[0], draws[1])
    assert all(torch.isfinite(g).all() for g in grads) and grads[0].abs().sum() > 0


def test_the_deterministic_action_is_the_heaviest_components_mean() -> None:
    logits = torch.tensor([[0.1, 2.0, -1.0]])
    mu = torch.tensor([[[0.5, -0.5], [1.0, 0.2], [-2.0, 3.0]]])
    torch.testing.assert_close(TanhGaussianMixture(logits, mu, torch.zeros(1, 3, 2)).mode(), torch.tanh(mu[:, 1]))
