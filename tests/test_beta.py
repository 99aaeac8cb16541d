"""The Beta policy: log-probs against torch.distributions, the implicit reparameterisation gradient against
the Beta CDF, its Monte-Carlo mean against the closed form and finiteness (the agent wired to it:
tests/test_agent.py)."""

import math

import pytest
import torch
from torch.distributions import AffineTransform, Beta, TransformedDistribution

from sac import beta as beta_module
from sac.beta import EPS, BetaPolicy


def test_log_prob_matches_torch_beta_through_the_affine_map_including_near_the_bounds() -> None:
    alpha = torch.tensor([[1.2, 3.0, 50.0], [2.0, 1.01, 7.0]], dtype=torch.float64)
    beta = torch.tensor([[4.0, 1.5, 60.0], [1.3, 9.0, 7.0]], dtype=torch.float64)
    x = torch.tensor([[1e-5, 0.5, 0.45], [1 - 1e-5, 0.02, 0.999]], dtype=torch.float64)
    reference = TransformedDistribution(Beta(alpha, beta), AffineTransform(-1.0, 2.0))
    expected = reference.log_prob(2 * x - 1).sum(-1)
    torch.testing.assert_close(BetaPolicy(alpha, beta).log_prob(x), expected, rtol=1e-12, atol=1e-12)


def test_rsample_returns_actions_in_bounds_and_their_log_prob() -> None:
    torch.manual_seed(0)
    concentration = torch.full((4096, 2), 1.05, requires_grad=True)  # mass near both bounds
    dist = BetaPolicy(concentration, concentration)
    action, logp = dist.rsample()
    assert action.abs().max() <= 1 - 2 * EPS + 1e-7 and torch.isfinite(logp).all()
    torch.testing.assert_close(logp, dist.log_prob((action + 1) / 2), rtol=1e-5, atol=1e-4)
    # The score estimator's samples carry no gradient; their log-probs do.
    actions, logps = dist.score_samples(3)
    assert actions.shape == (3, 4096, 2) and logps.shape == (3, 4096)
    assert not actions.requires_grad and logps.requires_grad


def test_samples_that_round_onto_a_bound_are_kept_inside(monkeypatch: pytest.MonkeyPatch) -> None:
    # In float32 a Beta sample can round to exactly 0 or 1, where the log-density is infinite.
    dist = BetaPolicy(torch.full((1, 2), 1.5), torch.full((1, 2), 1.5))
    monkeypatch.setattr(beta_module, "_implicit_beta_sample", lambda *_: torch.tensor([[0.0, 1.0]]))
    monkeypatch.setattr(dist.base, "sample", lambda *_: torch.tensor([[[0.0, 1.0]]]))
    for action, logp in (dist.rsample(), dist.score_samples(1)):
        assert torch.isfinite(logp).all()
        torch.testing.assert_close(action.flatten(), torch.tensor([-1 + 2 * EPS, 1 - 2 * EPS]))


def beta_cdf(x: float, a: float, b: float, n: int = 200_001) -> float:
    """F(x; a, b) by the trapezoid rule on the density in float64 (bounded for a, b > 1)."""
    t = torch.linspace(0.0, x, n, dtype=torch.float64)
    density = torch.exp(
        Beta(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)).log_prob(t.clamp_min(1e-300))
    )
    return float(torch.trapezoid(density, t))


@pytest.mark.parametrize(("a", "b"), [(2.0, 3.0), (1.5, 1.5), (8.0, 2.5)])
def test_implicit_gradient_equals_minus_cdf_derivative_over_density(a: float, b: float) -> None:
    # Figurnov et al. 2018, eq. 5: dx/da = -(dF(x; a, b)/da) / p(x; a, b) at the sampled x.
    torch.manual_seed(1)
    alpha = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    beta = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    for _ in range(3):
        x = beta_module._implicit_beta_sample(alpha, beta, ())
        dx_da, dx_db = torch.autograd.grad(x, (alpha, beta))
        xv, h = float(x.detach()), 1e-4
        density = math.exp(float(Beta(alpha, beta).log_prob(x)))
        dF_da = (beta_cdf(xv, a + h, b) - beta_cdf(xv, a - h, b)) / (2 * h)
        dF_db = (beta_cdf(xv, a, b + h) - beta_cdf(xv, a, b - h)) / (2 * h)
        assert float(dx_da) == pytest.approx(-dF_da / density, rel=1e-3, abs=1e-6)
        assert float(dx_db) == pytest.approx(-dF_db / density, rel=1e-3, abs=1e-6)


@pytest.mark.parametrize(("a", "b"), [(1.2, 1.2), (2.0, 5.0), (30.0, 3.0)])
def test_monte_carlo_mean_gradient_matches_the_closed_form(a: float, b: float) -> None:
    # E[x] = a / (a + b), so E[dx/da] = b / (a + b)^2 and E[dx/db] = -a / (a + b)^2.
    torch.manual_seed(2)
    n = 100_000
    alpha = torch.full((n,), a, dtype=torch.float64, requires_grad=True)
    beta = torch.full((n,), b, dtype=torch.float64, requires_grad=True)
    dx_da, dx_db = torch.autograd.grad(beta_module._implicit_beta_sample(alpha, beta, ()).sum(), (alpha, beta))
    for samples, expected in ((dx_da, b / (a + b) ** 2), (dx_db, -a / (a + b) ** 2)):
        se = samples.std() / math.sqrt(n)
        assert abs(float(samples.mean()) - expected) < 5 * float(se), (float(samples.mean()), expected, float(se))


def test_the_sampler_is_torchs_beta_sampler_and_vmap_batches_it() -> None:
    # The same draws and implicit gradients as torch.distributions.Beta.rsample, which vmap cannot batch (its
    # Dirichlet sampler is an autograd.Function without a vmap rule); batched seeds need vmap (sac/run/seeds.py).
    alpha = (torch.rand(4, 3, generator=torch.Generator().manual_seed(0)) + 1.1).requires_grad_(True)
    beta = (torch.rand(4, 3, generator=torch.Generator().manual_seed(1)) + 1.1).requires_grad_(True)
    weights = torch.arange(1.0, 25.0).view(2, 4, 3)
    torch.manual_seed(7)
    ours = beta_module._implicit_beta_sample(alpha, beta, (2,))
    torch.manual_seed(7)
    theirs = Beta(alpha, beta).rsample((2,))
    assert torch.equal(ours, theirs)
    for g, h in zip(torch.autograd.grad((ours * weights).sum(), (alpha, beta)),
                    torch.autograd.grad((theirs * weights).sum(), (alpha, beta)), strict=True):  # fmt: skip
        assert torch.equal(g, h)
    stacked = torch.stack([alpha, 2 * alpha]).detach().requires_grad_(True)  # (S=2, 4, 3)
    draws = torch.func.vmap(lambda a: BetaPolicy(a, a).rsample()[0], randomness="different")(stacked)
    (grad,) = torch.autograd.grad(draws.sum(), stacked)
    assert draws.shape == (2, 4, 3) and not torch.equal(draws[0], draws[1]) and torch.isfinite(grad).all()


@pytest.mark.parametrize("concentration", [1.0, 1.001, 10.0, 1e3, 1e4])
def test_gradients_are_finite_for_concentrations_from_1_to_1e4(concentration: float) -> None:
    torch.manual_seed(3)
    alpha = torch.full((2048, 2), concentration, requires_grad=True)
    beta = torch.full((2048, 2), concentration, requires_grad=True)
    beta_skewed = beta * torch.tensor([1.0, 0.5])  # a second, asymmetric case in the other column
    action, logp = BetaPolicy(alpha, beta_skewed).rsample()
    (action.sum() + logp.sum()).backward()
    assert torch.isfinite(action).all() and torch.isfinite(logp).all()
    assert torch.isfinite(alpha.grad).all() and torch.isfinite(beta.grad).all()


def test_deterministic_action_is_the_mean() -> None:
    alpha, beta = torch.tensor([[2.0, 5.0]]), torch.tensor([[6.0, 1.0]])
    torch.testing.assert_close(BetaPolicy(alpha, beta).mode(), 2 * alpha / (alpha + beta) - 1)
