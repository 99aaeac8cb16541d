"""The SAC agent: owns the networks, target critics, temperature and optimizers; losses live in `losses.py`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from sac.batch import Batch
from sac.beta import BetaPolicy
from sac.config import ActorEstimator, AgentConfig, EncoderConfig
from sac.encoders import StateEncoder
from sac.losses import actor_loss, actor_loss_score, critic_loss, soft_target
from sac.mixture import TanhGaussianMixture
from sac.networks import Actor, CriticEnsemble, Distribution
from sac.parts import SoftTarget, Temperature
from sac.speed import CudaGraphUpdate, adam, adam_step, autocast, compile_losses, zero_grad


class SAC:
    """Soft Actor-Critic with twin (ensemble) critics, Polyak targets and learned temperature.

    `update` returns its metrics as detached device tensors: nothing in it syncs with the host,
    so the caller decides when (and whether) to pay for moving them. `compile`, `cudagraphs` (GPU, encoder none)
    and `bf16` (the hidden layers' matmuls in the updates) are the speed switches of `speed.py`.
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        cfg: AgentConfig,
        device: torch.device,
        encoder: EncoderConfig | None = None,
        compile: bool = False,
        cudagraphs: bool = False,
        bf16: bool = False,
    ) -> None:
        self.cfg = cfg
        self.device = device
        self.bf16 = bf16
        self.encoder = StateEncoder(obs_dim, encoder or EncoderConfig()).to(device)
        feature_dim = self.encoder.out_dim
        self.actor = Actor(
            feature_dim, act_dim, cfg.hidden_sizes, cfg.log_std_min, cfg.log_std_max, cfg.policy, cfg.mixture.components
        )
        self.actor = self.actor.to(device)
        self.critic = CriticEnsemble(feature_dim, act_dim, cfg.hidden_sizes, cfg.num_critics).to(device)
        self.critic_target = SoftTarget(self.critic, cfg.tau)
        target_entropy = float(-act_dim if cfg.target_entropy is None else cfg.target_entropy)
        self.temperature = Temperature(cfg.init_alpha, target_entropy, cfg.learn_alpha, device)
        self.updates = 0

        vae = self.encoder.vae
        actor_groups = [{"params": list(self.actor.parameters()), "lr": cfg.actor_lr}]
        self.actor_optim = adam(actor_groups + self.temperature.param_groups(cfg.alpha_lr), cfg.actor_lr, cudagraphs)
        # The critic's loss trains the encoder too (SAC-AE); the actor's never does.
        encoder_params = list(vae.encoder.parameters()) if vae is not None else []
        self.critic_optim = adam([*self.critic.parameters(), *encoder_params], cfg.critic_lr, cudagraphs)
        self.vae_optim = None
        if vae is not None:
            self.vae_optim = adam([*vae.encoder.parameters(), *vae.decoder.parameters()], self.encoder.cfg.lr)

        if compile:
            self.critic_loss = compile_losses(self.critic_loss)  # type: ignore[method-assign]
            self.actor_loss = compile_losses(self.actor_loss)  # type: ignore[method-assign]
        if cudagraphs and vae is not None:
            raise ValueError("cudagraphs: the VAE's every-k-updates step is host control flow a graph cannot hold")
        self._update = CudaGraphUpdate(self._device_update) if cudagraphs else self._device_update

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """One action in [-1, 1] for one observation (obs_dim,) -> (act_dim,)."""
        return self.actions(torch.as_tensor(obs, device=self.device).unsqueeze(0), deterministic)[0].cpu().numpy()

    def actions(self, obs: Tensor, deterministic: bool = False) -> Tensor:
        """Actions for observations (B, obs_dim) -> (B, act_dim): sampled, or the deterministic one."""
        dist = self.actor(self.encoder.features(obs, deterministic=True))
        return dist.mode() if deterministic else dist.rsample()[0]

    def critic_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        with torch.no_grad():
            next_action, logp_next = self.actor(self.encoder.features(batch.next_obs)).rsample()  # (B, act_dim), (B,)
            q_next = self.critic_target.net(self.encoder.target_features(batch.next_obs), next_action)  # (E, B)
            alpha = self.temperature.alpha
            target = soft_target(batch.reward, batch.terminated, self.cfg.gamma, q_next, alpha, logp_next)
        q = self.critic(self.encoder.features(batch.obs), batch.action)  # (E, B); trains the encoder too
        loss = critic_loss(q, target)
        return loss, {"train/critic_loss": loss, "train/q_mean": q.mean(), "train/target_q_mean": target.mean()}

    def actor_loss(self, obs: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """Actor loss with the configured estimator; returns (loss, logp of the sampled actions, metrics)."""
        features = self.encoder.features(obs).detach()  # the actor's loss never trains the encoder
        dist = self.actor(features)
        loss, logp = self.actor_objective(dist, features, self.cfg.actor_estimator)
        metrics = {"train/actor_loss": loss, "train/entropy": -logp.mean()}
        if isinstance(dist, BetaPolicy):
            metrics["train/concentration"] = (dist.concentration1 + dist.concentration0).mean()
        else:
            metrics["train/log_std"] = dist.log_std.mean()
        if isinstance(dist, TanhGaussianMixture):  # how many components the policy uses: log K down to 0
            metrics["train/component_entropy"] = dist.component_entropy().mean()
        return loss, logp, metrics

    def actor_objective(
        self, dist: Distribution, obs: Tensor, estimator: ActorEstimator, samples: int | None = None
    ) -> tuple[Tensor, Tensor]:
        """A loss whose gradient in the actor's parameters estimates grad J_pi. -> (loss, logp)

        `obs` are the features the actor and critics see (the state, or its latent with an encoder).
        reparam: reparameterised samples, differentiated through a: pathwise for the tanh-Gaussian
        (a = tanh(mu + std * eps)), implicit for the Beta, truncated-normal and mixture policies; logp (B,), or
        (K, B) when `samples` (default agent.reparam_samples) K > 1 averages K of them per state.
        score: K (default agent.score_samples) actions per state sampled without gradient, differentiated
        through log pi only; logp (K, B).
        Both estimate the gradient of the same objective; the critics' weights get no gradient either way,
        and each sample costs one critic evaluation.
        """
        if estimator == ActorEstimator.reparam:
            k = samples or self.cfg.reparam_samples
            if k == 1:
                action, logp = dist.rsample()
                q = self.critic(obs, action, detach_params=True)  # (E, B)
                return actor_loss(self.temperature.alpha, logp, q), logp
            actions, logp = dist.rsample_n(k)  # (K, B, act_dim), (K, B)
            b, act_dim = actions.shape[1:]
            q = self.critic(obs.repeat(k, 1), actions.reshape(k * b, act_dim), detach_params=True)  # (E, K * B)
            return actor_loss(self.temperature.alpha, logp.reshape(k * b), q), logp
        k = samples or self.cfg.score_samples
        actions, logp = dist.score_samples(k)  # (K, B, act_dim) without gradient; (K, B) with
        b, act_dim = actions.shape[1:]
        with torch.no_grad():
            q = self.critic(obs.repeat(k, 1), actions.reshape(k * b, act_dim))  # (E, K * B)
        return actor_loss_score(self.temperature.alpha, logp, q.view(-1, k, b)), logp

    def update(self, batch: Batch) -> dict[str, Tensor]:
        """One gradient step on critics (and encoder), actor, temperature and VAE, then the Polyak updates."""
        metrics = self._update(batch)
        self.updates += 1
        return metrics

    def _device_update(self, batch: Batch) -> dict[str, Tensor]:
        vae = self.encoder.vae
        if vae is not None:
            vae.normalizer.update(batch.obs)
        metrics = sac_step(self, batch, autocast(self.device, self.bf16))
        if self.vae_optim is not None and vae is not None and self.updates % self.encoder.cfg.update_every == 0:
            loss_vae, vae_metrics = vae.loss(batch.obs, self.encoder.cfg.kl_weight)
            gradient_step(self.vae_optim, loss_vae)
            metrics |= vae_metrics
        self.encoder.update_target()
        return {key: value.detach() for key, value in metrics.items()}

    def parameter_groups(self) -> dict[str, list[Tensor]]:
        """The trained parameters by part, for the NaN guard."""
        return parameter_groups(self)

    def state_dict(self) -> dict[str, Any]:
        state = core_state(self) | {"encoder": self.encoder.state_dict()}
        if self.vae_optim is not None:
            state["vae_optim"] = self.vae_optim.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        load_core_state(self, state)
        self.encoder.load_state_dict(state["encoder"])
        if self.vae_optim is not None:
            self.vae_optim.load_state_dict(state["vae_optim"])


class SoftActorCritic(Protocol):
    """What SAC and DiscreteSAC (sac/discrete.py) share: the parts the functions below step and save."""

    updates: int

    @property
    def actor(self) -> nn.Module: ...

    @property
    def critic(self) -> nn.Module: ...

    @property
    def critic_target(self) -> SoftTarget[Any]: ...

    @property
    def temperature(self) -> Temperature: ...

    @property
    def actor_optim(self) -> torch.optim.Optimizer: ...

    @property
    def critic_optim(self) -> torch.optim.Optimizer: ...

    def critic_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]: ...

    def actor_loss(self, obs: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]: ...


def gradient_step(optimizer: torch.optim.Optimizer, loss: Tensor) -> None:
    zero_grad(optimizer)
    loss.backward()
    adam_step(optimizer)


Losses = Callable[[Any], tuple[Tensor, dict[str, Tensor]]]


def update_step(
    critic_loss: Losses,
    actor_loss: Losses,
    critic_optim: torch.optim.Optimizer,
    actor_optim: torch.optim.Optimizer,
    batch: Batch,
    log_alpha: Tensor,
    update_targets: Callable[[], None],
    amp: contextlib.AbstractContextManager[Any] | None = None,
) -> dict[str, Tensor]:
    """SAC's gradient step (Haarnoja et al. 2018, Algorithm 1): the critics on the soft Bellman residual, then the
    actor and the temperature on the sum of their losses (they touch disjoint parameters, each detaching the
    other's, so one backward and one optimizer step serve both), then the Polyak step of the target critics.
    `critic_loss(batch)` and `actor_loss(obs)` are one agent's, or a batch of seeds' vectorised and summed over
    seeds (sac/run/seeds.py); returns their metrics and alpha (after its step). The losses are computed under `amp`
    (speed.autocast: bf16 hidden layers), the backward passes and the steps outside it."""
    amp = amp or contextlib.nullcontext()
    with amp:
        loss_q, metrics = critic_loss(batch)
    gradient_step(critic_optim, loss_q)
    with amp:
        loss_pi, actor_metrics = actor_loss(batch.obs)
    gradient_step(actor_optim, loss_pi)
    update_targets()
    return metrics | actor_metrics | {"train/alpha": log_alpha.exp()}


def sac_step(
    agent: SoftActorCritic, batch: Batch, amp: contextlib.AbstractContextManager[Any] | None = None
) -> dict[str, Tensor]:
    """One agent's `update_step`, continuous or discrete."""
    return update_step(
        agent.critic_loss, lambda obs: actor_and_temperature_loss(agent, obs), agent.critic_optim, agent.actor_optim,
        batch, agent.temperature.log_alpha, agent.critic_target.update, amp,
    )  # fmt: skip


def actor_and_temperature_loss(agent: SoftActorCritic, obs: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """The actor's loss at obs (B, obs_dim) plus, when alpha is learned, the temperature's, on the log-probs of the
    actor loss's actions (discrete SAC: minus the exact entropy), (B,) or (K, B); the actor's metrics and the
    temperature's loss."""
    loss_pi, logp, metrics = agent.actor_loss(obs)
    if not agent.temperature.learn:
        return loss_pi, metrics
    loss_alpha = agent.temperature.loss(logp)
    return loss_pi + loss_alpha, metrics | {"train/alpha_loss": loss_alpha}


def parameter_groups(agent: SoftActorCritic) -> dict[str, list[Tensor]]:
    return {
        "actor": list(agent.actor.parameters()),
        "critic": list(agent.critic.parameters()),
        "log_alpha": [agent.temperature.log_alpha],
    }


def core_state(agent: SoftActorCritic) -> dict[str, Any]:
    """Networks, target critics, temperature, optimizers and the update count, for a checkpoint."""
    return {
        "actor": agent.actor.state_dict(),
        "critic": agent.critic.state_dict(),
        "critic_target": agent.critic_target.net.state_dict(),
        "log_alpha": agent.temperature.log_alpha.detach(),
        "actor_optim": agent.actor_optim.state_dict(),
        "critic_optim": agent.critic_optim.state_dict(),
        "updates": agent.updates,
    }


def load_core_state(agent: SoftActorCritic, state: dict[str, Any]) -> None:
    agent.actor.load_state_dict(state["actor"])
    agent.critic.load_state_dict(state["critic"])
    agent.critic_target.net.load_state_dict(state["critic_target"])
    with torch.no_grad():
        agent.temperature.log_alpha.copy_(state["log_alpha"])
    agent.actor_optim.load_state_dict(state["actor_optim"])
    agent.critic_optim.load_state_dict(state["critic_optim"])
    agent.updates = int(state["updates"])
