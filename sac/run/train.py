"""THE off-policy loop, written once: act, step the envs, store, update, and the periodic work (log, diagnose,
evaluate, checkpoint). It drives S >= 1 seeds through one interface, `Learner`: one seed is `SingleSeed` (the
agent's own update, nothing in between), S seeds batched in one model is `seeds.SeedLearner` (the same update
vectorised over a seed axis).

Its mutable state is one `LoopState`, which each seed's checkpoint saves and restores whole (`snapshot`,
`restore_seed`: the one place the layout of a SAC checkpoint is written and read), so a resumed run continues
exactly where the checkpoint was taken (tests/test_resume.py kills a run and checks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from envs.state import get_env_state, set_env_state
from sac.agent import SAC
from sac.config import TrainConfig
from sac.discrete import DiscreteSAC
from sac.estimators import actor_gradient_diagnostics
from sac.run.checkpoint import CheckpointError, drop_older_replays, restore
from sac.run.checkpointer import Snapshot
from sac.run.options import validate_action_space
from sac.run.registry import build, sac_identity
from sac.run.replay import ReplayBuffer
from sac.run.rollout import ActFn, Action
from sac.run.rundir import Identity
from sac.run.schedule import due
from sac.run.session import Session, Throughput, rng_state, set_rng_state

Agent = SAC | DiscreteSAC


class Learner(Protocol):
    """What the loop drives: the agents and replay buffers of S seeds. Lists are indexed by seed."""

    agents: list[Agent]
    """Each seed's single agent: what its checkpoint saves (after `export`) and what a resume restores into."""
    buffers: list[ReplayBuffer]
    """Each seed's replay buffer, as a single run of that seed holds it."""

    def act(self, obs: list[np.ndarray]) -> list[Action]:
        """One sampled action per seed for its observation (obs_dim,)."""
        ...

    def store(self, obs: list[np.ndarray], actions: list[Action], stepped: list[tuple[Any, ...]]) -> None:
        """Each seed's transition: `stepped` holds what its env.step returned."""
        ...

    def update(self, batch_size: int) -> None:
        """One gradient step of every seed on a batch from its own buffer."""
        ...

    def metrics(self, k: int) -> dict[str, Tensor]:
        """Seed k's metrics of the last update (device tensors): what its checkpoint keeps."""
        ...

    def logged_metrics(self) -> list[Mapping[str, Tensor | float]]:
        """Every seed's metrics of the last update, for the logger."""
        ...

    def export(self, k: int) -> Agent:
        """Seed k's single agent holding its current weights and optimiser state."""
        ...

    def act_fn(self, k: int) -> ActFn:
        """How seed k acts when evaluated: deterministically."""
        ...

    def resumed(self, metrics: list[dict[str, Tensor]]) -> None:
        """The agents and buffers have been restored from checkpoints, with these last metrics."""
        ...


class SingleSeed:
    """One seed: its agent updates itself; the lists have one entry."""

    def __init__(self, agent: Agent, buffer: ReplayBuffer) -> None:
        self.agents, self.buffers = [agent], [buffer]
        self._metrics: dict[str, Tensor] = {}

    def act(self, obs: list[np.ndarray]) -> list[Action]:
        return [self.agents[0].act(obs[0])]

    def store(self, obs: list[np.ndarray], actions: list[Action], stepped: list[tuple[Any, ...]]) -> None:
        next_obs, reward, terminated, truncated, _ = stepped[0]
        self.buffers[0].add(obs[0], actions[0], float(reward), next_obs, terminated, truncated)

    def update(self, batch_size: int) -> None:
        self._metrics = self.agents[0].update(self.buffers[0].sample(batch_size))

    def metrics(self, k: int) -> dict[str, Tensor]:
        return self._metrics

    def logged_metrics(self) -> list[Mapping[str, Tensor | float]]:
        return [self._metrics]

    def export(self, k: int) -> Agent:
        return self.agents[0]

    def act_fn(self, k: int) -> ActFn:
        agent = self.agents[0]
        return lambda obs: agent.act(obs, deterministic=True)

    def resumed(self, metrics: list[dict[str, Tensor]]) -> None:
        self._metrics = metrics[0]


@dataclass
class LoopState:
    """Everything the loop changes between steps, for S seeds (one shared step and update count)."""

    step: int
    obs: list[np.ndarray]
    """Each seed's (obs_dim,) observation that its next action is taken in."""
    updates_due: float = 0.0
    """Gradient updates owed under a fractional utd_ratio."""


def build_agent(
    c: TrainConfig, obs_dim: int, act_dim: int, discrete: bool, device: torch.device, bf16: bool = False
) -> tuple[Agent, Identity, int]:
    """The agent for the env's action space (through the registry), its identity, and the columns a replay row
    stores for an action: act_dim for a Box, one index for Discrete(act_dim). `bf16`: the resolved precision."""
    validate_action_space(c, c.env.name, discrete)
    identity = sac_identity(c, discrete)
    agent = build(identity, obs_dim, act_dim, c.agent, device, c.encoder, c.compile, c.cudagraphs, bf16)
    return agent, identity, 1 if discrete else act_dim


def run(
    c: TrainConfig,
    configs: list[TrainConfig],
    sessions: list[Session],
    envs: list[gym.Env],
    learner: Learner,
    state: LoopState,
    stopped: Callable[[int], None] | None = None,
) -> None:
    """Train every seed from `state` to `c.total_steps` (`configs[k]` is seed k's own config). Returns when done or
    when a stop was requested (each seed then saved a checkpoint; `stopped(step)` says how to continue)."""
    throughput = Throughput(state.step)
    seeds = range(len(sessions))
    while state.step < c.total_steps:
        before = state.step
        state.step += 1
        collect(c, sessions, envs, learner, state)
        if state.step >= c.learning_starts:  # utd_ratio updates per env step; a fraction accumulates
            state.updates_due += c.utd_ratio
            while state.updates_due >= 1.0:
                learner.update(c.agent.batch_size)
                state.updates_due -= 1.0
        if due(c.log_every, before, state.step):
            rate = throughput.rate(state.step)
            for session, metrics in zip(sessions, learner.logged_metrics(), strict=True):
                session.log(state.step, {**metrics, "perf/steps_per_sec": rate})
        with throughput.paused():
            if due(c.diagnostics.grad_variance_every, before, state.step) and state.step >= c.learning_starts:
                for k in seeds:
                    diagnostics = diagnose(configs[k], learner.export(k), learner.buffers[k], state.step)
                    sessions[k].log(state.step, diagnostics)
            if periodic(c, sessions, envs, learner, state, before):
                if stopped is not None:
                    stopped(state.step)
                return
    for session in sessions:
        session.finish()


def collect(c: TrainConfig, sessions: list[Session], envs: list[gym.Env], learner: Learner, state: LoopState) -> None:
    """One env step of every seed: uniform random actions up to learning_starts, the policy's samples after; the
    transitions stored, ended episodes logged and their envs reset."""
    if state.step <= c.learning_starts:
        actions: list[Action] = [env.action_space.sample() for env in envs]
    else:
        actions = learner.act(state.obs)
    stepped = [env.step(action) for env, action in zip(envs, actions, strict=True)]
    learner.store(state.obs, actions, stepped)
    for k, (next_obs, _, terminated, truncated, info) in enumerate(stepped):
        state.obs[k] = next_obs
        if terminated or truncated:
            episode = info["episode"]
            sessions[k].log(state.step, {"train/episode_return": float(episode["r"]),
                                         "train/episode_length": int(episode["l"])})  # fmt: skip
            state.obs[k], _ = envs[k].reset()


def periodic(
    c: TrainConfig, sessions: list[Session], envs: list[gym.Env], learner: Learner, state: LoopState, before: int
) -> bool:
    """Each seed's evaluation and checkpoint when due, and on a stop request; True when the loop must stop."""

    def take(k: int) -> Callable[[], Snapshot]:
        return lambda: snapshot(c, learner, k, envs[k], state)

    stop = [session.after_step(before, state.step, learner.act_fn(k), take(k)) for k, session in enumerate(sessions)]
    if sessions[0].batch is not None:
        saved = [session.saved for session in sessions]
        if all(p is not None and p.name == f"step_{state.step:09d}" for p in saved):
            for path in saved:  # every seed of the batch has saved this step: the older buffers are not needed
                assert path is not None
                drop_older_replays(path)
    return any(stop)


def snapshot(c: TrainConfig, learner: Learner, k: int, env: gym.Env, state: LoopState) -> Snapshot:
    """Seed k's checkpoint: its agent, the RNG states, the observation and metrics in hand, the loop's counters and
    env state, its replay buffer (`restore_seed` reads the same layout back)."""
    agent = learner.export(k)
    tensors = {"agent": agent.state_dict(), **rng_state(agent.device), "obs": torch.as_tensor(state.obs[k]),
               "metrics": learner.metrics(k)}  # fmt: skip
    loop = {"updates_due": state.updates_due, "env": get_env_state(env)}
    replay = learner.buffers[k].state_dict() if c.checkpoint_buffer else None
    return Snapshot(tensors, loop, replay, agent.parameter_groups())


def restore_seed(
    session: Session, agent: Agent, buffer: ReplayBuffer, env: gym.Env
) -> tuple[np.ndarray, float, dict[str, Tensor]]:
    """The resumed checkpoint of `session` restored into the agent, the buffer, the RNGs and the env; the
    observation to act in, the updates owed and the last update's metrics."""
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
    return obs, float(resumed.loop["updates_due"]), resumed.state.get("metrics", {})


def start(sessions: list[Session], envs: list[gym.Env], learner: Learner) -> LoopState:
    """The loop's state at its start: every seed restored from its checkpoint, or fresh envs at step 0."""
    if sessions[0].resumed is None:
        return LoopState(0, [env.reset()[0] for env in envs])
    restored = [restore_seed(s, learner.agents[k], learner.buffers[k], envs[k]) for k, s in enumerate(sessions)]
    obs, updates_due, metrics = (list(column) for column in zip(*restored, strict=True))
    learner.resumed(metrics)
    return LoopState(sessions[0].start_step, obs, updates_due[0])


def diagnose(c: TrainConfig, agent: Agent, buffer: ReplayBuffer, step: int) -> dict[str, Tensor]:
    """Both actor-gradient estimators on one replay batch. Their own generator and seed per call:
    neither the replay sampling stream nor the global RNG moves, so training is the same with or without."""
    generator = torch.Generator().manual_seed(c.seed + step)
    obs = buffer.sample(c.agent.batch_size, generator=generator).obs
    d = c.diagnostics
    return actor_gradient_diagnostics(agent, obs, d.samples, d.reference_samples, seed=c.seed + step)


def results(configs: list[TrainConfig], sessions: list[Session]) -> dict[str, float]:
    """The last eval metrics: a single run's as they are, a batch's as `seed<k>/<metric>`."""
    if sessions[0].batch is None:
        return sessions[0].eval_metrics
    return {f"seed{ck.seed}/{key}": v for ck, s in zip(configs, sessions, strict=True)
            for key, v in s.eval_metrics.items()}  # fmt: skip
