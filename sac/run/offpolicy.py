"""What the SAC loops share, the single-seed one (train_sac.py) and the batch of seeds (seeds.py): the loop state,
building the agent, one env step into the replay buffer, restoring a checkpoint into the loop, and the live
estimator diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from envs.state import set_env_state
from sac.agent import SAC
from sac.config import TrainConfig, validate_action_space
from sac.discrete import DiscreteSAC
from sac.estimators import actor_gradient_diagnostics
from sac.run.checkpoint import CheckpointError, restore
from sac.run.registry import build, sac_identity
from sac.run.replay import ReplayBuffer
from sac.run.rollout import Action
from sac.run.rundir import Identity
from sac.run.session import Session, set_rng_state

Agent = SAC | DiscreteSAC


@dataclass
class LoopState:
    """Everything the loop changes between steps."""

    step: int
    obs: np.ndarray
    """(obs_dim,) the observation the next action is taken in."""
    updates_due: float = 0.0
    """Gradient updates owed under a fractional utd_ratio."""
    metrics: dict[str, Tensor] = field(default_factory=dict)
    """The last update's metrics, logged at the next log event."""


def build_agent(
    c: TrainConfig, obs_dim: int, act_dim: int, discrete: bool, device: torch.device
) -> tuple[Agent, Identity, int]:
    """The agent for the env's action space (through the registry), its identity, and the columns a replay row
    stores for an action: act_dim for a Box, one index for Discrete(act_dim)."""
    validate_action_space(c, c.env.name, discrete)
    identity = sac_identity(c, discrete)
    agent = build(identity, obs_dim, act_dim, c.agent, device, c.encoder, c.compile, c.cudagraphs)
    return agent, identity, 1 if discrete else act_dim


def env_step(
    env: gym.Env, buffer: ReplayBuffer, obs: np.ndarray, action: Action, step: int, session: Session
) -> np.ndarray:
    """Take `action` in `obs`, store the transition and log an episode that ends; the observation to act in next
    (the reset one after an episode's end)."""
    next_obs, reward, terminated, truncated, info = env.step(action)
    buffer.add(obs, action, float(reward), next_obs, terminated, truncated)
    if terminated or truncated:
        episode_end(session, step, info)
        next_obs, _ = env.reset()
    return next_obs


def episode_end(session: Session, step: int, info: dict[str, Any]) -> None:
    """Log the episode that ended at `step` (the env's episode statistics)."""
    episode = info["episode"]
    session.logger.log(step, {"train/episode_return": float(episode["r"]), "train/episode_length": int(episode["l"])})


def diagnose(c: TrainConfig, agent: Agent, buffer: ReplayBuffer, step: int) -> dict[str, Tensor]:
    """Both actor-gradient estimators on one replay batch. Their own generator and seed per call:
    neither the replay sampling stream nor the global RNG moves, so training is the same with or without."""
    generator = torch.Generator().manual_seed(c.seed + step)
    obs = buffer.sample(c.agent.batch_size, generator=generator).obs
    d = c.diagnostics
    return actor_gradient_diagnostics(agent, obs, d.samples, d.reference_samples, seed=c.seed + step)


def restore_loop(session: Session, agent: Agent, buffer: ReplayBuffer, env: gym.Env, c: TrainConfig) -> LoopState:
    """The resumed checkpoint of `session` restored into the agent, the buffer, the RNGs and the env; the loop state."""
    resumed = session.resumed
    assert resumed is not None
    path = session.run.latest
    if resumed.replay is None:
        raise CheckpointError(
            f"checkpoint {path} holds no replay buffer (checkpoint_buffer=false): it cannot be resumed"
        )
    restore(agent, resumed.state["agent"], path)
    restore(buffer, resumed.replay, path)
    set_rng_state(resumed.state, agent.device)
    new_episode = set_env_state(env, resumed.loop["env"])
    obs = resumed.state["obs"].numpy() if new_episode is None else new_episode
    if new_episode is not None:
        buffer.end_episode()
    metrics: dict[str, Any] = resumed.state.get("metrics", {})
    return LoopState(resumed.step, obs, float(resumed.loop["updates_due"]), metrics)
