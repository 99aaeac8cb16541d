"""Discrete SAC (Christodoulou 2019): a categorical actor, critics that give Q(s, .) for every action, and four
estimators of the actor's gradient. The losses live in `losses.py`, the samples in `categorical.py`.

The same interface as `agent.SAC` (act, update, actor_objective, parameter_groups, state_dict), so the loop,
checkpoints, diagnostics and evaluation need no branch of their own. The VAE encoder, the Beta policy and
the speed switches (compile, CUDA graphs, bf16) are continuous-only (options.validate_action_space says so).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sac.agent import core_state, load_core_state, parameter_groups, sac_step
from sac.batch import Batch
from sac.categorical import Categorical
from sac.config import AgentConfig, DiscreteEstimator
from sac.losses import (
    critic_loss,
    discrete_actor_loss,
    discrete_entropy_term,
    discrete_soft_target,
    relaxed_actor_loss,
    score_surrogate,
)
from sac.networks import CategoricalActor, CriticEnsemble
from sac.parts import SoftTarget, Temperature
from sac.speed import adam


class DiscreteSAC:
    """SAC over Discrete(|A|) actions with twin (ensemble) critics, Polyak targets and learned temperature.

    Actions are indices; the replay buffer stores one per row as a float column (B, 1). Metrics are
    returned as detached device tensors, as `agent.SAC.update` does.
    """

    def __init__(self, obs_dim: int, num_actions: int, cfg: AgentConfig, device: torch.device) -> None:
        self.cfg = cfg
        self.device = device
        self.actor = CategoricalActor(obs_dim, num_actions, cfg.hidden_sizes).to(device)
        self.critic = CriticEnsemble(obs_dim, 0, cfg.hidden_sizes, cfg.num_critics, num_actions).to(device)
        self.critic_target = SoftTarget(self.critic, cfg.tau)
        # A fraction of the uniform policy's entropy log|A|. Christodoulou's 0.98 leaves a two-action policy
        # almost no room to prefer an action (0.98 log 2 is the entropy of pi = (0.59, 0.41)), so alpha grows
        # without bound on CartPole; the default is measured (docs/discrete.md).
        default = cfg.discrete.target_entropy_fraction * math.log(num_actions)
        target_entropy = float(default if cfg.target_entropy is None else cfg.target_entropy)
        self.temperature = Temperature(cfg.init_alpha, target_entropy, cfg.learn_alpha, device)
        self.updates = 0

        actor_groups = [{"params": list(self.actor.parameters()), "lr": cfg.actor_lr}]
        self.actor_optim = adam(actor_groups + self.temperature.param_groups(cfg.alpha_lr), cfg.actor_lr)
        self.critic_optim = adam(self.critic.parameters(), cfg.critic_lr)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> int:
        """One action index for one observation (obs_dim,): sampled, or the greedy argmax_a pi(a|s)."""
        return int(self.actions(torch.as_tensor(obs, device=self.device).unsqueeze(0), deterministic)[0])

    def actions(self, obs: Tensor, deterministic: bool = False) -> Tensor:
        """Action indices for observations (B, obs_dim) -> (B,): sampled, or the greedy ones."""
        dist = self.actor(obs)
        return dist.mode() if deterministic else dist.sample()

    def critic_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        with torch.no_grad():
            next_dist = self.actor(batch.next_obs)
            q_next = self.critic_target.net.q_all(batch.next_obs)  # (E, B, |A|)
            target = discrete_soft_target(
                batch.reward, batch.terminated, self.cfg.gamma, q_next, self.temperature.alpha, next_dist.probs,
                next_dist.log_probs,
            )  # fmt: skip
        action = batch.action.long()  # (B, 1): the stored index
        q = self.critic.q_all(batch.obs).gather(2, action.expand(self.cfg.num_critics, -1, -1)).squeeze(-1)  # (E, B)
        loss = critic_loss(q, target)
        return loss, {"train/critic_loss": loss, "train/q_mean": q.mean(), "train/target_q_mean": target.mean()}

    def actor_loss(self, obs: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """Actor loss with the configured estimator; returns (loss, -entropy per state (B,), metrics)."""
        dist = self.actor(obs)
        loss = self.actor_objective(dist, obs, DiscreteEstimator(self.cfg.discrete.estimator))
        neg_entropy = -dist.entropy()
        metrics = {"train/actor_loss": loss, "train/entropy": -neg_entropy.mean(),
                   "train/max_prob": dist.probs.max(dim=-1).values.mean()}  # fmt: skip
        return loss, neg_entropy, metrics

    def actor_objective(self, dist: Categorical, obs: Tensor, estimator: DiscreteEstimator) -> Tensor:
        """A loss whose gradient in the actor's parameters estimates grad J_pi, at obs (B, obs_dim).

        exact: the sum over every action. The sampled estimators estimate only the E_a[min_j Q_j(s, a)] part,
        from agent.discrete.samples samples per state, and take the entropy part exactly
        (losses.discrete_entropy_term says why), so all four estimate the gradient of the same J_pi:
        score: log-derivative with a leave-one-out baseline; gumbel: pathwise through relaxed one-hots at
        agent.discrete.gumbel_temperature, each critic read at y as Q_j(s, .) . y before their minimum (a relaxed
        objective: its bias); straight_through: hard one-hots forward, the relaxed gradient backward. The
        critics get no gradient.
        """
        with torch.no_grad():
            q = self.critic.q_all(obs)  # (E, B, |A|)
        alpha, probs, log_probs = self.temperature.alpha, dist.probs, dist.log_probs
        if estimator == DiscreteEstimator.exact:
            return discrete_actor_loss(alpha, probs, log_probs, q)
        k, tau = self.cfg.discrete.samples, self.cfg.discrete.gumbel_temperature
        if estimator == DiscreteEstimator.score:
            one_hot, logp = dist.score_samples(k)  # (K, B, |A|), (K, B)
            cost = -(one_hot * q.min(dim=0).values).sum(-1)  # (K, B)
            return discrete_entropy_term(alpha, probs, log_probs) + score_surrogate(cost, logp)
        y = dist.gumbel_softmax(k, tau) if estimator == DiscreteEstimator.gumbel else dist.straight_through(k, tau)
        return relaxed_actor_loss(alpha, probs, log_probs, q, y)

    def update(self, batch: Batch) -> dict[str, Tensor]:
        """One gradient step on critics, actor and temperature, then the Polyak update of the target critics.

        The temperature is tuned on the exact entropy, which replaces the sampled log pi(a|s) of continuous SAC
        (Christodoulou 2019, eq. 11)."""
        metrics = sac_step(self, batch)
        self.updates += 1
        return {key: value.detach() for key, value in metrics.items()}

    def parameter_groups(self) -> dict[str, list[Tensor]]:
        """The trained parameters by part, for the NaN guard."""
        return parameter_groups(self)

    def state_dict(self) -> dict[str, Any]:
        return core_state(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        load_core_state(self, state)
