"""State encoders SAC acts and evaluates on: the identity, or a variational autoencoder (Kingma & Welling 2014).

VAE: q(z|s) = N(mu(s), diag(exp(log_var(s)))), z = mu + exp(0.5 * log_var) * eps (the reparameterisation
trick, a second time in this package), a decoder reconstructs the normalised state, and
    loss = ||s_norm - decoder(z)||^2 + kl_weight * KL(q(z|s) || N(0, I))          (per state, batch-averaged)
is the negative ELBO of a unit-variance Gaussian decoder up to constants, the KL weighted as in a beta-VAE
(Higgins et al. 2017: their beta is `kl_weight`).

Wiring into SAC follows SAC-AE (Yarats et al. 2019): the critic's gradient trains the encoder together
with the reconstruction loss, the actor sees a detached latent, and critic targets use a slower-moving
copy of the encoder. States are normalised by running statistics of the batches the VAE trains on.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sac.config import EncoderConfig, EncoderName, Latent
from sac.distributions import reparameterize
from sac.networks import mlp
from sac.parts import SoftTarget


def kl_standard_normal(mu: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(mu, exp(log_var)) || N(0, 1)) per dimension, in closed form: (B, latent_dim)."""
    return 0.5 * (log_var.exp() + mu.pow(2) - 1.0 - log_var)


class RunningNormalizer(nn.Module):
    """Running mean and variance (Chan et al.'s parallel update), saved with the model as buffers."""

    mean: Tensor  # (dim,)
    var: Tensor  # (dim,)
    count: Tensor  # ()

    def __init__(self, dim: int, eps: float = 1e-4) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.tensor(eps))

    @torch.no_grad()
    def update(self, x: Tensor) -> None:
        """Fold a batch (B, dim) into the statistics."""
        n = x.shape[0]
        batch_mean, batch_var = x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * n / total
        self.var.copy_((self.var * self.count + batch_var * n + delta.pow(2) * self.count * n / total) / total)
        self.count.copy_(total)

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / (self.var.sqrt() + 1e-6)


class VAE(nn.Module):
    """Encoder (B, obs_dim) -> (mu, log_var) each (B, latent_dim); decoder (B, latent_dim) -> (B, obs_dim)."""

    def __init__(self, obs_dim: int, cfg: EncoderConfig) -> None:
        super().__init__()
        self.normalizer = RunningNormalizer(obs_dim)
        self.encoder = mlp(obs_dim, cfg.hidden_sizes, 2 * cfg.latent_dim)
        self.decoder = mlp(cfg.latent_dim, cfg.hidden_sizes, obs_dim)

    def encode(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        mu, log_var = self.encoder(self.normalizer(obs)).chunk(2, dim=-1)
        # Bounded log-variance: keeps exp(log_var) finite while the critic's gradient also moves the encoder.
        return mu, log_var.clamp(-10.0, 4.0)

    @staticmethod
    def sample(mu: Tensor, log_var: Tensor, eps: Tensor | None = None) -> Tensor:
        """z = mu + exp(0.5 log_var) * eps; dz/dmu = 1, dz/dlog_var = 0.5 * std * eps."""
        if eps is None:
            eps = torch.randn_like(mu)
        return reparameterize(mu, (0.5 * log_var).exp(), eps)

    def loss(self, obs: Tensor, kl_weight: float) -> tuple[Tensor, dict[str, Tensor]]:
        """Negative ELBO with the KL weighted by `kl_weight`, on a batch of raw states (B, obs_dim); its parts as
        metrics."""
        target = self.normalizer(obs)
        mu, log_var = self.encode(obs)
        reconstruction = self.decoder(self.sample(mu, log_var))
        recon = (reconstruction - target).pow(2).sum(-1).mean()
        kl_per_dim = kl_standard_normal(mu, log_var).mean(0)  # (latent_dim,)
        loss = recon + kl_weight * kl_per_dim.sum()
        return loss, {
            "vae/loss": loss,
            "vae/recon_loss": recon,
            "vae/kl": kl_per_dim.sum(),
            "vae/active_units": (kl_per_dim > 0.01).sum().float(),
            "vae/latent_mean": mu.mean(),
            "vae/latent_std": mu.std(0).mean(),
            "vae/posterior_std": (0.5 * log_var).exp().mean(),
        }


class StateEncoder(nn.Module):
    """What the actor and critics see: the raw state (encoder=none) or a VAE latent.

    `features(obs)` is the online latent (gradients reach the encoder), `target_features(obs)` the
    Polyak-averaged target encoder's mean (no gradient). With the identity both return obs.
    """

    def __init__(self, obs_dim: int, cfg: EncoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.vae = VAE(obs_dim, cfg) if cfg.name == EncoderName.vae else None
        self.soft_target = SoftTarget(self.vae, cfg.tau) if self.vae is not None else None
        # Registered as a submodule: it moves with the encoder and its state_dict keys are "target.*".
        self.target = self.soft_target.net if self.soft_target is not None else None
        self.out_dim = cfg.latent_dim if self.vae is not None else obs_dim

    def features(self, obs: Tensor, deterministic: bool = False) -> Tensor:
        """(B, obs_dim) -> (B, out_dim): the mean when acting (`deterministic`) or with encoder.latent=mean."""
        if self.vae is None:
            return obs
        mu, log_var = self.vae.encode(obs)
        return mu if deterministic or self.cfg.latent == Latent.mean else self.vae.sample(mu, log_var)

    @torch.no_grad()
    def target_features(self, obs: Tensor) -> Tensor:
        if self.target is None:
            return obs
        return self.target.encode(obs)[0]

    @torch.no_grad()
    def update_target(self) -> None:
        if self.vae is not None and self.soft_target is not None:
            self.soft_target.update()
            self.soft_target.net.normalizer.load_state_dict(self.vae.normalizer.state_dict())
