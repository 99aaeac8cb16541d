"""The seed's manual NumPy reparameterisation against torch autograd, and the package's own code against it."""

import numpy as np
import pytest
import torch

from sac.distributions import TanhGaussian, reparameterize
from sac.encoders import VAE
from sac.numpy_reference import LinearDecoder, reparameterise_and_grad, sample_gaussian_reparam


def problem(seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    b, d, x = 5, 3, 4
    return (rng.normal(size=(b, d)), rng.normal(size=(b, d)), rng.normal(size=(b, d)),
            rng.normal(size=(d, x)), rng.normal(size=x), rng.normal(size=(b, x)))  # fmt: skip


def test_hand_derived_gradients_equal_torch_autograd_in_float64() -> None:
    mu, log_var, eps, w, bias, x_true = problem()
    got = reparameterise_and_grad(mu, log_var, LinearDecoder(w, bias), x_true, eps=eps)

    t = {k: torch.tensor(v, requires_grad=k in ("mu", "log_var")) for k, v in
         {"mu": mu, "log_var": log_var, "eps": eps, "w": w, "b": bias, "x": x_true}.items()}  # fmt: skip
    z = t["mu"] + torch.exp(0.5 * t["log_var"]) * t["eps"]
    loss = ((z @ t["w"] + t["b"] - t["x"]) ** 2).mean()
    loss.backward()
    assert t["mu"].dtype == torch.float64
    np.testing.assert_allclose(got.z, z.detach().numpy(), rtol=0, atol=1e-10)
    assert got.loss == pytest.approx(loss.item(), abs=1e-10)
    np.testing.assert_allclose(got.grad_mu, t["mu"].grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.grad_log_var, t["log_var"].grad.numpy(), rtol=0, atol=1e-10)


def test_sampling_has_the_right_shape_and_moments() -> None:
    mu, log_var = np.array([1.0, -2.0]), np.log(np.array([0.25, 4.0]))
    z = sample_gaussian_reparam(mu, log_var, n_samples=200_000, rng=np.random.default_rng(1))
    assert z.shape == (200_000, 2)
    se = np.sqrt(np.exp(log_var) / len(z))
    assert np.all(np.abs(z.mean(0) - mu) < 5 * se)
    np.testing.assert_allclose(z.var(0), np.exp(log_var), rtol=0.02)
    assert sample_gaussian_reparam(np.zeros((7, 3)), np.zeros((7, 3)), n_samples=4).shape == (4, 7, 3)


def test_package_reparameterisation_matches_the_reference() -> None:
    # The policy's u = mu + std * eps and the VAE's z = mu + exp(0.5 log_var) * eps, and their gradients,
    # against the NumPy reference on the same noise.
    mu, log_var, eps, w, bias, x_true = problem(3)
    ref = reparameterise_and_grad(mu, log_var, LinearDecoder(w, bias), x_true, eps=eps)
    t_mu = torch.tensor(mu, requires_grad=True)
    t_log_var = torch.tensor(log_var, requires_grad=True)
    for z in (
        VAE.sample(t_mu, t_log_var, torch.tensor(eps)),
        reparameterize(t_mu, (0.5 * t_log_var).exp(), torch.tensor(eps)),
    ):
        t_mu.grad = t_log_var.grad = None
        ((z @ torch.tensor(w) + torch.tensor(bias) - torch.tensor(x_true)) ** 2).mean().backward()
        np.testing.assert_allclose(z.detach().numpy(), ref.z, rtol=0, atol=1e-10)
        np.testing.assert_allclose(t_mu.grad.numpy(), ref.grad_mu, rtol=0, atol=1e-10)
        np.testing.assert_allclose(t_log_var.grad.numpy(), ref.grad_log_var, rtol=0, atol=1e-10)
    # The policy samples u = mu + std * eps before the tanh: the same z for std = exp(0.5 log_var).
    dist = TanhGaussian(torch.tensor(mu), torch.tensor(0.5 * log_var))
    action, _ = dist.rsample(torch.tensor(eps))
    np.testing.assert_allclose(action.numpy(), np.tanh(ref.z), rtol=0, atol=1e-10)
