"""The truncated-normal policy: its sampler against an independent high-precision CDF (in the far tails too), its
log-density and entropy against quadrature, its implicit gradient against the explicit inverse-CDF gradient, finite
differences and the derivative of E[f(x)] computed independently, and vmap."""

import math

import mpmath
import numpy as np
import pytest
import torch
from torch.special import ndtr, ndtri

from sac import truncated_normal as tn
from sac.truncated_normal import TruncatedNormal, implicit_sample, log_ndtr, sample

mpmath.mp.dps = 40
# (mu, std): inside, wide, skewed, [-1, 1] 20-40 stds (mu = 3), 380-420 stds (mu = -20) and 7,000-15,000 stds
# (mu = -50) into a tail.
CASES = [(0.3, 0.5), (-0.9, 2.0), (1.5, 0.3), (3.0, 0.1), (-20.0, 0.05), (-50.0, 0.007)]


def mp_cdf(x: float, mu: float, std: float) -> mpmath.mpf:
    """F(x; mu, std) at 40 digits, independently of the code under test. Phi's arbitrary-precision exponent holds
    a far left tail exactly; a far right one, where Phi rounds to 1, is taken as 1 - F of the mirrored law."""
    if mu < 0:
        return 1 - mp_cdf(-x, -mu, std)
    phi = lambda t: mpmath.ncdf((t - mpmath.mpf(mu)) / std)  # noqa: E731
    return (phi(x) - phi(-1)) / (phi(1) - phi(-1))


def mp_density(x: mpmath.mpf, mu: float, std: float) -> mpmath.mpf:
    m = abs(mpmath.mpf(mu))  # the mass in [-1, 1] is the same for mu and -mu
    mass = mpmath.ncdf((1 - m) / std) - mpmath.ncdf((-1 - m) / std)
    return mpmath.npdf(x, mu, std) / mass


def quadrature_nodes(pieces: int = 400, order: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Composite Gauss-Legendre nodes and weights on [-1, 1] (float64): pieces of width 0.005, fine enough for the
    steepest density below (mu = 3, std = 0.1 falls by e within 0.005 of the bound)."""
    unit_x, unit_w = (torch.from_numpy(a) for a in np.polynomial.legendre.leggauss(order))
    left = torch.linspace(-1.0, 1.0, pieces + 1, dtype=torch.float64)[:-1]
    half = 1.0 / pieces
    return (left[:, None] + half * (unit_x + 1)).flatten(), (half * unit_w).repeat(pieces)


def reference_density(x: torch.Tensor, mu: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """The textbook truncated-normal density in float64, written independently of sac/truncated_normal.py: the
    mass Phi(beta) - Phi(alpha) from torch's own log_ndtr, as Phi(beta) (1 - Phi(alpha) / Phi(beta)), which holds
    for the cases below (none lies far in a right tail, where Phi rounds to 1)."""
    log_a, log_b = torch.special.log_ndtr((-1 - mu) / std), torch.special.log_ndtr((1 - mu) / std)
    log_mass = log_b + torch.log1p(-torch.exp(log_a - log_b))
    return torch.exp(-0.5 * ((x - mu) / std) ** 2 - log_mass) / (std * math.sqrt(2 * math.pi))


def test_log_ndtr_equals_torchs_and_vmap_batches_it() -> None:
    x = torch.cat([torch.linspace(-2000.0, 40.0, 2_041, dtype=torch.float64), torch.tensor([0.0, 1e-300])])
    expected = torch.special.log_ndtr(x)
    torch.testing.assert_close(log_ndtr(x), expected, rtol=1e-14, atol=1e-300)
    torch.testing.assert_close(torch.func.vmap(log_ndtr)(x.view(-1, 1)).flatten(), log_ndtr(x))
    leaf = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(log_ndtr(leaf).sum(), leaf)
    assert torch.isfinite(grad).all() and float(grad[0]) == pytest.approx(2000.0, rel=1e-6)


@pytest.mark.parametrize(("mu", "std"), CASES)
def test_samples_invert_an_independent_cdf_in_every_tail(mu: float, std: float) -> None:
    v = torch.tensor([0.0, 1e-12, 0.01, 0.3, 0.5, 0.9, 1 - 1e-9], dtype=torch.float64)
    x = sample(torch.full_like(v, mu), torch.full_like(v, std), v)
    assert ((x >= -1) & (x <= 1)).all()
    for xi, vi in zip(x.tolist(), v.tolist(), strict=True):
        # The draw v must be F(x): the CDF error over the density is the sample's error in x.
        error = abs(mp_cdf(xi, mu, std) - vi) / mp_density(mpmath.mpf(xi), mu, std)
        assert error < 1e-9 * (std + 1e-3), (mu, std, vi, xi, float(error))


def test_plain_inverse_cdf_sampling_fails_where_ours_does_not() -> None:
    # mu = 3, std = 0.1: Phi(alpha) + v Z rounds to 0 in float64, so the textbook sampler returns -inf, clamped
    # to a bound: every sample the same and outside the mass (which lies within 0.07 of 1).
    mu, std = torch.tensor(3.0, dtype=torch.float64), torch.tensor(0.1, dtype=torch.float64)
    v = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    alpha, beta = (-1 - mu) / std, (1 - mu) / std
    plain = (mu + std * ndtri(ndtr(alpha) + v * (ndtr(beta) - ndtr(alpha)))).clamp(-1, 1)
    assert (plain == -1).all()
    ours = sample(mu.expand(3), std.expand(3), v)
    assert (ours > 0.9).all() and ours.unique().numel() == 3


@pytest.mark.parametrize(("mu", "std"), CASES[:4])
def test_log_density_integrates_to_one_and_entropy_matches_quadrature(mu: float, std: float) -> None:
    x, w = quadrature_nodes()
    dist = TruncatedNormal(
        torch.tensor([[mu]], dtype=torch.float64), torch.tensor([[math.log(std)]], dtype=torch.float64)
    )
    log_p = dist.log_prob(x[:, None, None])  # (nodes, 1)
    assert float((w * log_p.flatten().exp()).sum()) == pytest.approx(1.0, abs=1e-12)
    reference = reference_density(x, torch.tensor(mu, dtype=torch.float64), torch.tensor(std, dtype=torch.float64))
    inside = reference > 1e-300  # where the reference density has not underflowed
    torch.testing.assert_close(log_p.flatten()[inside], reference[inside].log(), rtol=1e-12, atol=1e-10)
    entropy = -(w * torch.special.xlogy(reference, reference)).sum()
    assert float(dist.entropy()) == pytest.approx(float(entropy), rel=1e-10, abs=1e-10)


def test_the_mode_is_mu_clamped_into_the_interval() -> None:
    mu = torch.tensor([[-3.0, 0.2, 7.0]])
    torch.testing.assert_close(TruncatedNormal(mu, torch.zeros(1, 3)).mode(), torch.tensor([[-1.0, 0.2, 1.0]]))


@pytest.mark.parametrize(("mu", "std"), CASES[:3])
def test_implicit_gradient_equals_the_explicit_inverse_cdf_gradient_where_that_is_stable(mu: float, std: float) -> None:
    v = torch.linspace(0.01, 0.99, 25, dtype=torch.float64)
    m = torch.full_like(v, mu, requires_grad=True)
    s = torch.full_like(v, std, requires_grad=True)
    implicit = torch.autograd.grad(implicit_sample(m, s, v).sum(), (m, s))
    alpha, beta = (-1 - m) / s, (1 - m) / s
    explicit_x = m + s * ndtri(ndtr(alpha) + v * (ndtr(beta) - ndtr(alpha)))
    explicit = torch.autograd.grad(explicit_x.sum(), (m, s))
    for a, b in zip(implicit, explicit, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize(("mu", "std"), CASES[:5])
def test_gradcheck_in_float64(mu: float, std: float) -> None:
    v = torch.tensor([0.05, 0.5, 0.95], dtype=torch.float64)
    m = torch.full_like(v, mu, requires_grad=True)
    s = torch.full_like(v, std, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: implicit_sample(a, b, v), (m, s), eps=1e-4 * std, atol=1e-6)


FUNCTIONS = {"linear": lambda x: 2 * x, "quadratic": lambda x: x**2, "periodic": lambda x: torch.sin(5 * x)}


@pytest.mark.parametrize("f", FUNCTIONS)
@pytest.mark.parametrize(("mu", "std"), CASES[:4])
def test_monte_carlo_gradient_matches_the_derivative_of_the_expectation(f: str, mu: float, std: float) -> None:
    # E[f'(x) dx/dtheta] = d/dtheta E[f(x)]; the reference differentiates E[f(x)] = int f p by Gauss-Legendre
    # quadrature of the textbook density, through autograd in float64.
    fn = FUNCTIONS[f]
    x_nodes, w = quadrature_nodes()
    mu_r = torch.tensor(mu, dtype=torch.float64, requires_grad=True)
    std_r = torch.tensor(std, dtype=torch.float64, requires_grad=True)
    references = torch.autograd.grad((w * fn(x_nodes) * reference_density(x_nodes, mu_r, std_r)).sum(), (mu_r, std_r))
    n = 200_000
    torch.manual_seed(11)
    m = torch.full((n,), mu, dtype=torch.float64, requires_grad=True)
    s = torch.full((n,), std, dtype=torch.float64, requires_grad=True)
    x = implicit_sample(m, s, torch.rand(n, dtype=torch.float64))
    per_sample = torch.autograd.grad(fn(x).sum(), (m, s))  # f'(x) dx/dtheta, one per sample
    for estimates, reference in zip(per_sample, references, strict=True):
        mean, se = float(estimates.mean()), float(estimates.std()) / math.sqrt(n)
        print(f"truncated normal mu={mu} std={std} f={f}: {mean:.6f} ± {se:.6f} against {float(reference):.6f}")
        assert abs(mean - float(reference)) < 5 * se, (f, mu, std, mean, se, float(reference))


def test_vmap_batches_the_sampler_with_different_noise_per_seed() -> None:
    mu = torch.randn(3, 4, 2, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    log_std = torch.full((3, 4, 2), -1.0, requires_grad=True)
    draws = torch.func.vmap(lambda a, b: TruncatedNormal(a, b).rsample()[0], randomness="different")(mu, log_std)
    (grad_mu,) = torch.autograd.grad(draws.sum(), mu)
    assert draws.shape == (3, 4, 2) and not torch.equal(draws[0], draws[1]) and torch.isfinite(grad_mu).all()


def test_newton_inverse_of_log_phi_past_float64s_range() -> None:
    log_p = torch.tensor([-650.0, -701.0, -5_000.0, -1e6, -2.5e7, -1e9], dtype=torch.float64)
    z = tn.log_ndtri(log_p)
    torch.testing.assert_close(log_ndtr(z), log_p, rtol=1e-13, atol=0.0)
