import math

import pytest
import torch
from torch.distributions import Normal, TanhTransform, TransformedDistribution

from sac.distributions import TanhGaussian, reparameterize, tanh_log_det_jacobian
from sac.networks import Actor


def test_log_prob_matches_torch_transformed_distribution() -> None:
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(512, 3, generator=g)
    log_std = torch.empty(512, 3).uniform_(-1.5, 0.5, generator=g)
    eps = torch.randn(512, 3, generator=g).clamp(-2, 2)
    action, logp = TanhGaussian(mu, log_std).rsample(eps)

    # Reference in float64 on the same u, through the generic change-of-variables machinery.
    u = mu.double() + log_std.double().exp() * eps.double()
    reference = TransformedDistribution(Normal(mu.double(), log_std.double().exp()), TanhTransform())
    expected = reference.log_prob(torch.tanh(u)).sum(-1)
    assert u.abs().max() < 6
    torch.testing.assert_close(logp.double(), expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(action.double(), torch.tanh(u), atol=1e-6, rtol=0)


@pytest.mark.parametrize("u_value", [-20.0, -12.0, -9.0, 9.0, 12.0, 20.0])
def test_log_prob_is_finite_and_accurate_for_saturated_actions(u_value: float) -> None:
    mu = torch.full((4, 2), u_value)
    log_std = torch.full((4, 2), -1.0)
    eps = torch.tensor([[0.0, 0.5], [-0.5, 0.0], [1.0, -1.0], [0.25, 0.25]])
    _, logp = TanhGaussian(mu, log_std).rsample(eps)

    # float64 reference with an independent identity: 1 - tanh(u)^2 = 4 / (e^u + e^-u)^2.
    u = mu.double() + math.exp(-1.0) * eps.double()
    log_det = (math.log(4.0) - 2.0 * torch.logaddexp(u, -u)).sum(-1)
    expected = Normal(mu.double(), math.exp(-1.0)).log_prob(u).sum(-1) - log_det
    assert torch.isfinite(logp).all()
    torch.testing.assert_close(logp.double(), expected, rtol=1e-5, atol=1e-4)
    if abs(u_value) >= 12:  # the naive formula is -inf here: the stable one is what the test exercises
        assert torch.isinf(torch.log(1 - torch.tanh(torch.tensor(u_value)) ** 2))


def test_reparameterisation_gradients_are_exact() -> None:
    mu = torch.randn(64, 4, requires_grad=True)
    std = torch.rand(64, 4).add(0.1).requires_grad_(True)
    eps = torch.randn(64, 4)
    z = reparameterize(mu, std, eps)
    dz_dmu, dz_dstd = torch.autograd.grad(z.sum(), [mu, std])
    assert torch.equal(dz_dmu, torch.ones_like(mu))
    assert torch.equal(dz_dstd, eps)


def test_rsample_is_pathwise_through_tanh() -> None:
    mu = torch.randn(32, 2, requires_grad=True)
    log_std = torch.full((32, 2), -0.3, requires_grad=True)
    eps = torch.randn(32, 2)
    action, _ = TanhGaussian(mu, log_std).rsample(eps)
    u = mu + log_std.exp() * eps
    torch.testing.assert_close(action, torch.tanh(u))
    d_mu, d_log_std = torch.autograd.grad(action.sum(), [mu, log_std])
    torch.testing.assert_close(d_mu, 1 - torch.tanh(u.detach()) ** 2)
    torch.testing.assert_close(d_log_std, (1 - torch.tanh(u.detach()) ** 2) * eps * log_std.exp().detach())


def test_density_integrates_to_one_and_mode_is_tanh_mu() -> None:
    mu, log_std = torch.tensor([[0.7]], dtype=torch.float64), torch.tensor([[-0.2]], dtype=torch.float64)
    dist = TanhGaussian(mu, log_std)
    a = torch.linspace(-1, 1, 200_001, dtype=torch.float64)[1:-1].unsqueeze(-1)  # (N, 1)
    eps = (torch.atanh(a) - mu) / log_std.exp()
    _, logp = TanhGaussian(mu.expand_as(a), log_std.expand_as(a)).rsample(eps)
    assert torch.trapezoid(logp.exp(), a[:, 0]).item() == pytest.approx(1.0, abs=1e-4)
    assert torch.equal(dist.mode(), torch.tanh(mu))


def test_monte_carlo_entropy_matches_quadrature() -> None:
    mu, log_std = torch.tensor([[0.4]], dtype=torch.float64), torch.tensor([[-0.5]], dtype=torch.float64)
    # Quadrature: H = -E[log pi] = H(N(mu, std)) + E[log(1 - tanh(u)^2)].
    u = torch.linspace(-8, 8, 100_001, dtype=torch.float64)
    normal = Normal(mu[0, 0], log_std.exp()[0, 0])
    expected = normal.entropy() + torch.trapezoid(normal.log_prob(u).exp() * tanh_log_det_jacobian(u[:, None]), u)
    torch.manual_seed(0)
    n = 400_000
    _, logp = TanhGaussian(mu.expand(n, 1), log_std.expand(n, 1)).rsample()
    mc_error = 4 * logp.std().item() / math.sqrt(n)
    assert -logp.mean().item() == pytest.approx(expected.item(), abs=mc_error)


def test_actor_log_std_stays_within_bounds() -> None:
    actor = Actor(obs_dim=3, act_dim=2, hidden_sizes=[16], log_std_min=-5.0, log_std_max=2.0)
    dist = actor(torch.randn(100, 3) * 1e4)
    assert dist.log_std.min() >= -5.0 and dist.log_std.max() <= 2.0
    action, logp = dist.rsample()
    assert action.abs().max() <= 1.0 and torch.isfinite(logp).all()


def test_log_prob_pre_tanh_equals_rsample_log_prob_for_the_same_u() -> None:
    g = torch.Generator().manual_seed(3)
    mu, eps = torch.randn(64, 4, generator=g), torch.randn(64, 4, generator=g)
    log_std = 0.5 * torch.randn(64, 4, generator=g)
    dist = TanhGaussian(mu, log_std)
    _, logp = dist.rsample(eps)
    u = reparameterize(mu, log_std.exp(), eps)
    torch.testing.assert_close(dist.log_prob_pre_tanh(u), logp, atol=1e-5, rtol=1e-6)
    torch.testing.assert_close(dist.log_prob_pre_tanh(u.expand(3, -1, -1)), logp.expand(3, -1), atol=1e-5, rtol=1e-6)
