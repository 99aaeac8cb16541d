"""The VAE state-encoder: closed forms, training, gradient routing inside SAC, persistence."""

import math

import pytest
import torch
from helpers import random_batch
from torch.distributions import Normal

from sac.agent import SAC
from sac.config import AgentConfig, EncoderConfig
from sac.encoders import VAE, RunningNormalizer, kl_standard_normal
from sac.run.checkpoint import load_checkpoint, restore, save_checkpoint

CPU = torch.device("cpu")
VAE_CFG = EncoderConfig(name="vae", latent_dim=8, hidden_sizes=[64, 64])


def test_kl_matches_monte_carlo() -> None:
    torch.manual_seed(0)
    mu, log_var = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    n = 400_000
    z = VAE.sample(mu.expand(n, 4, 3), log_var.expand(n, 4, 3))
    log_ratio = Normal(mu, (0.5 * log_var).exp()).log_prob(z) - Normal(0.0, 1.0).log_prob(z)  # (n, 4, 3)
    estimate, stderr = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(n)
    assert (estimate - kl_standard_normal(mu, log_var)).abs().le(5 * stderr).all()


def test_reparameterised_latent_gradients() -> None:
    mu = torch.randn(16, 5, requires_grad=True)
    log_var = torch.randn(16, 5, requires_grad=True)
    eps = torch.randn(16, 5)
    z = VAE.sample(mu, log_var, eps)
    dz_dmu, dz_dlog_var = torch.autograd.grad(z.sum(), [mu, log_var])
    assert torch.equal(dz_dmu, torch.ones_like(mu))
    torch.testing.assert_close(dz_dlog_var, 0.5 * (0.5 * log_var.detach()).exp() * eps)


def test_running_normalizer_matches_batch_statistics() -> None:
    x = torch.randn(1000, 3) * torch.tensor([1.0, 5.0, 0.1]) + torch.tensor([2.0, -1.0, 0.0])
    norm = RunningNormalizer(3)
    for chunk in x.split(64):
        norm.update(chunk)
    torch.testing.assert_close(norm.mean, x.mean(0), atol=1e-4, rtol=0)
    torch.testing.assert_close(norm.var, x.var(0, unbiased=False), rtol=1e-3, atol=1e-4)


def test_gradient_routing_in_sac() -> None:
    torch.manual_seed(0)
    agent = SAC(5, 3, AgentConfig(hidden_sizes=[32, 32]), CPU, VAE_CFG)
    vae = agent.encoder.vae
    batch = random_batch()

    agent.actor_loss(batch.obs)[0].backward()
    assert all(p.grad is None for p in vae.parameters())  # the actor never trains the encoder

    agent.critic_loss(batch)[0].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in vae.encoder.parameters())
    assert all(p.grad is None for p in vae.decoder.parameters())
    assert all(p.grad is None for p in agent.encoder.target.parameters())  # targets take no gradient

    vae.zero_grad()
    vae.loss(batch.obs, kl_weight=1.0)[0].backward()
    assert all(
        p.grad is not None and p.grad.abs().sum() > 0 for p in [*vae.encoder.parameters(), *vae.decoder.parameters()]
    )


def test_update_logs_vae_metrics_and_moves_the_target_encoder_slowly() -> None:
    torch.manual_seed(0)
    agent = SAC(5, 3, AgentConfig(hidden_sizes=[32, 32]), CPU, VAE_CFG)
    before = [p.clone() for p in agent.encoder.target.parameters()]
    metrics = agent.update(random_batch())
    assert {"vae/recon_loss", "vae/kl", "vae/active_units", "vae/latent_mean", "vae/latent_std"} <= metrics.keys()
    for old, target, online in zip(
        before, agent.encoder.target.parameters(), agent.encoder.vae.parameters(), strict=True
    ):
        torch.testing.assert_close(target, 0.95 * old + 0.05 * online)
    torch.testing.assert_close(agent.encoder.target.normalizer.mean, agent.encoder.vae.normalizer.mean)


def test_checkpoint_holds_encoder_target_and_normalizer(tmp_path) -> None:
    torch.manual_seed(0)
    agent = SAC(5, 3, AgentConfig(hidden_sizes=[32, 32]), CPU, VAE_CFG)
    for _ in range(3):
        agent.update(random_batch())
    path = save_checkpoint(tmp_path, 3, agent.state_dict(), {}, None)
    fresh = SAC(5, 3, AgentConfig(hidden_sizes=[32, 32]), CPU, VAE_CFG)
    restore(fresh, load_checkpoint(path)[0], path)
    assert fresh.updates == 3
    assert torch.equal(fresh.encoder.vae.normalizer.var, agent.encoder.vae.normalizer.var)
    for p, q in zip(fresh.encoder.state_dict().values(), agent.encoder.state_dict().values(), strict=True):
        assert torch.equal(p, q)
    obs = torch.randn(5).numpy()
    assert (fresh.act(obs, deterministic=True) == agent.act(obs, deterministic=True)).all()
    with pytest.raises(Exception, match="does not fit this run"):
        restore(SAC(5, 3, AgentConfig(hidden_sizes=[32, 32]), CPU), load_checkpoint(path)[0], path)
