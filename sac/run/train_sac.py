"""The off-policy loop of SAC: collect, update, and the periodic work (log, evaluate, diagnose, checkpoint).

Its mutable state is one `LoopState`, which checkpoints save and restore whole, so a resumed run
continues exactly where the checkpoint was taken (tests/test_resume.py kills a run and checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from envs import env_id
from envs.make import dims, is_discrete, make_env
from envs.state import get_env_state, set_env_state
from sac.agent import SAC
from sac.config import (
    TrainConfig,
    as_dict,
    validate_action_space,
    validate_train,
)
from sac.discrete import DiscreteSAC
from sac.estimators import actor_gradient_diagnostics
from sac.run.checkpoint import CheckpointError, restore
from sac.run.device import resolve_device
from sac.run.registry import build, sac_identity
from sac.run.replay import ReplayBuffer
from sac.run.rollout import Action
from sac.run.rundir import Identity, RunDir
from sac.run.session import Session, Snapshot, Throughput, due, rng_state, set_rng_state

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


def train(c: TrainConfig, run_dir: Path, resume: bool = False) -> dict[str, float]:
    """Train SAC as configured, writing logs and checkpoints under `run_dir`; returns the last eval metrics.

    With `resume`, continue from `run_dir/checkpoints/latest`: networks, optimizers, log_alpha, replay
    buffer, RNG states, loop state and the episode in progress are restored, so on a deterministic
    device the continuation logs exactly what an uninterrupted run would have.
    """
    validate_train(c)
    device = resolve_device(c.device, needs_cuda="cudagraphs=true" if c.cudagraphs else None)
    torch.manual_seed(c.seed)
    env = make_env(c.env, seed=c.seed)
    try:
        obs_dim, act_dim = dims(env.observation_space, env.action_space)
        agent, identity, action_columns = build_agent(c, obs_dim, act_dim, is_discrete(env.action_space), device)
        # A run of total_steps fills at most 2 * total_steps rows (an episode's final state takes a row).
        buffer = ReplayBuffer(obs_dim, action_columns, min(c.buffer_size, 2 * c.total_steps), device, seed=c.seed)
        meta = {
            **identity.fields(),
            "env_id": env_id(c.env.name),
            "obs_dim": obs_dim,
            "act_dim": act_dim,
            "config": as_dict(c),
        }
        session = Session(RunDir(run_dir), c, meta, resume)
        state = _restore(session, agent, buffer, env, c) if session.resumed else LoopState(0, env.reset()[0])
        with session:
            return _run(c, session, state, env, agent, buffer)
    finally:
        env.close()


def build_agent(
    c: TrainConfig, obs_dim: int, act_dim: int, discrete: bool, device: torch.device
) -> tuple[Agent, Identity, int]:
    """The agent for the env's action space (through the registry), its identity, and the columns a replay row
    stores for an action: act_dim for a Box, one index for Discrete(act_dim)."""
    validate_action_space(c, c.env.name, discrete)
    identity = sac_identity(c, discrete)
    agent = build(identity, obs_dim, act_dim, c.agent, device, c.encoder, c.compile, c.cudagraphs)
    return agent, identity, 1 if discrete else act_dim


def _run(
    c: TrainConfig, session: Session, state: LoopState, env: gym.Env, agent: Agent, buffer: ReplayBuffer
) -> dict[str, float]:
    throughput = Throughput(state.step)

    def policy(obs: np.ndarray) -> Action:
        return agent.act(obs, deterministic=True)

    def snapshot() -> Snapshot:
        tensors = {"agent": agent.state_dict(), **rng_state(agent.device), "obs": torch.as_tensor(state.obs),
                   "metrics": state.metrics}  # fmt: skip
        loop = {"updates_due": state.updates_due, "env": get_env_state(env)}
        replay = buffer.state_dict() if c.checkpoint_buffer else None
        return Snapshot(tensors, loop, replay, agent.parameter_groups())

    while state.step < c.total_steps:
        before = state.step
        state.step += 1
        collect(c, env, agent, buffer, state, session)
        update(c, agent, buffer, state)
        if due(c.log_every, before, state.step):
            session.log(state.step, {**state.metrics, "perf/steps_per_sec": throughput.rate(state.step)})
        with throughput.paused():
            if due(c.diagnostics.grad_variance_every, before, state.step) and state.step >= c.learning_starts:
                session.logger.log(state.step, diagnose(c, agent, buffer, state.step))
            if session.after_step(before, state.step, policy, snapshot):
                return session.eval_metrics
    return session.finish()


def collect(
    c: TrainConfig, env: gym.Env, agent: Agent, buffer: ReplayBuffer, state: LoopState, session: Session
) -> None:
    """One env step: uniform random actions before learning_starts, the policy's samples after."""
    action = env.action_space.sample() if state.step <= c.learning_starts else agent.act(state.obs)
    next_obs, reward, terminated, truncated, info = env.step(action)
    buffer.add(state.obs, action, float(reward), next_obs, terminated, truncated)
    state.obs = next_obs
    if terminated or truncated:
        episode = info["episode"]
        session.logger.log(
            state.step, {"train/episode_return": float(episode["r"]), "train/episode_length": int(episode["l"])}
        )
        state.obs, _ = env.reset()


def update(c: TrainConfig, agent: Agent, buffer: ReplayBuffer, state: LoopState) -> None:
    """utd_ratio gradient updates per env step from learning_starts on; a fraction accumulates."""
    if state.step < c.learning_starts:
        return
    state.updates_due += c.utd_ratio
    while state.updates_due >= 1.0:
        state.metrics = agent.update(buffer.sample(c.agent.batch_size))
        state.updates_due -= 1.0


def diagnose(c: TrainConfig, agent: Agent, buffer: ReplayBuffer, step: int) -> dict[str, Tensor]:
    """Both actor-gradient estimators on one replay batch. Their own generator and seed per call:
    neither the replay sampling stream nor the global RNG moves, so training is the same with or without."""
    generator = torch.Generator().manual_seed(c.seed + step)
    obs = buffer.sample(c.agent.batch_size, generator=generator).obs
    d = c.diagnostics
    return actor_gradient_diagnostics(agent, obs, d.samples, d.reference_samples, seed=c.seed + step)


def _restore(session: Session, agent: Agent, buffer: ReplayBuffer, env: gym.Env, c: TrainConfig) -> LoopState:
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
