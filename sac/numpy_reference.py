"""The seed's manual reparameterisation trick in NumPy: the reference the torch code is tested against.

    z = mu + sigma * eps,   sigma = exp(0.5 * log_var),   eps ~ N(0, I)
    dz/dmu = 1,   dz/dsigma = eps,   dz/dlog_var = 0.5 * sigma * eps

so for any loss L(z), dL/dmu = dL/dz and dL/dlog_var = dL/dz * 0.5 * sigma * eps: the noise is drawn once,
outside the graph, and both gradients are the downstream gradient times a known factor. Here the
downstream part is a linear decoder and an MSE reconstruction loss, whose Jacobians are written by hand,
so every gradient below is derived, not differentiated by a library.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def sample_gaussian_reparam(
    mu: np.ndarray, log_var: np.ndarray, n_samples: int = 1, rng: np.random.Generator | None = None
) -> np.ndarray:
    """n_samples reparameterised draws of N(mu, exp(log_var)): mu, log_var (..., D) -> (n_samples, ..., D)."""
    rng = rng or np.random.default_rng()
    eps = rng.standard_normal((n_samples, *np.shape(mu)))  # (N, ..., D)
    return mu + np.exp(0.5 * log_var) * eps


@dataclass
class LinearDecoder:
    """x_hat = z @ W + b: (B, D) -> (B, X), with its vector-Jacobian product written out."""

    weight: np.ndarray  # (D, X)
    bias: np.ndarray  # (X,)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return z @ self.weight + self.bias

    def backward(self, grad_x_hat: np.ndarray) -> np.ndarray:
        """dL/dz = dL/dx_hat @ W^T: (B, X) -> (B, D)."""
        return grad_x_hat @ self.weight.T


@dataclass
class ReparamGrad:
    z: np.ndarray  # (B, D)
    loss: float
    grad_mu: np.ndarray  # (B, D) dL/dmu
    grad_log_var: np.ndarray  # (B, D) dL/dlog_var


def reparameterise_and_grad(
    mu: np.ndarray,
    log_var: np.ndarray,
    decoder: LinearDecoder,
    x_true: np.ndarray,
    eps: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> ReparamGrad:
    """Forward pass and hand-derived gradients of L = mean((decoder(z) - x_true)^2), z = mu + sigma * eps.

    mu, log_var (B, D); x_true (B, X); `eps` (B, D) fixes the noise (drawn from `rng` otherwise).
    """
    if eps is None:
        eps = (rng or np.random.default_rng()).standard_normal(np.shape(mu))
    std = np.exp(0.5 * log_var)  # (B, D)
    z = mu + std * eps  # (B, D)
    x_hat = decoder(z)  # (B, X)
    residual = x_hat - x_true
    loss = float(np.mean(residual**2))
    grad_z = decoder.backward(2.0 * residual / residual.size)  # dL/dz, (B, D)
    return ReparamGrad(z=z, loss=loss, grad_mu=grad_z, grad_log_var=grad_z * 0.5 * std * eps)
