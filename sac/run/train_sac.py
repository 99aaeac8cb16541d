"""The off-policy loop of SAC: collect, update, and the periodic work (log, evaluate, diagnose, checkpoint).

Its mutable state is one `LoopState` (offpolicy.py), which checkpoints save and restore whole, so a resumed run
continues exactly where the checkpoint was taken (tests/test_resume.py kills a run and checks). With `seeds=[...]`
the seeds train together in one process (seeds.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from envs import env_id
from envs.make import dims, is_discrete, make_env
from envs.state import get_env_state
from sac.config import (
    SeedsMode,
    TrainConfig,
    as_dict,
    validate_train,
)
from sac.run.device import resolve_device
from sac.run.offpolicy import Agent, LoopState, build_agent, diagnose, env_step, restore_loop
from sac.run.replay import ReplayBuffer, capacity
from sac.run.rollout import Action
from sac.run.rundir import RunDir, seed_dir
from sac.run.seeds import train_seeds
from sac.run.session import Session, Snapshot, Throughput, catch_stop_signals, due, rng_state


def train(c: TrainConfig, run_dir: Path, resume: bool = False) -> dict[str, float]:
    """Train SAC as configured, writing logs and checkpoints under `run_dir`; returns the last eval metrics.

    With `resume`, continue from `run_dir/checkpoints/latest`: networks, optimizers, log_alpha, replay
    buffer, RNG states, loop state and the episode in progress are restored, so on a deterministic
    device the continuation logs exactly what an uninterrupted run would have. With `c.seeds`, every seed
    listed trains in this process (seeds.train_seeds; its metrics keyed `seed<k>/...`).
    """
    if c.seeds is not None:
        validate_train(c)
        device = resolve_device(c.device, needs_cuda="cudagraphs=true" if c.cudagraphs else None)
        if c.seeds_mode == SeedsMode.batched or (c.seeds_mode == SeedsMode.auto and device.type == "cuda"):
            return train_seeds(c, run_dir, device, resume)
        return train_seed_processes(c, run_dir, resume)
    validate_train(c)
    device = resolve_device(c.device, needs_cuda="cudagraphs=true" if c.cudagraphs else None)
    torch.manual_seed(c.seed)
    env = make_env(c.env, seed=c.seed)
    try:
        obs_dim, act_dim = dims(env.observation_space, env.action_space)
        agent, identity, action_columns = build_agent(c, obs_dim, act_dim, is_discrete(env.action_space), device)
        buffer = ReplayBuffer(obs_dim, action_columns, capacity(c.buffer_size, c.total_steps), device, seed=c.seed)
        meta = {
            **identity.fields(),
            "env_id": env_id(c.env.name),
            "obs_dim": obs_dim,
            "act_dim": act_dim,
            "config": as_dict(c),
        }
        session = Session(RunDir(run_dir), c, meta, resume)
        state = restore_loop(session, agent, buffer, env, c) if session.resumed else LoopState(0, env.reset()[0])
        with session:
            return _run(c, session, state, env, agent, buffer)
    finally:
        env.close()


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
    state.obs = env_step(env, buffer, state.obs, action, state.step, session)


def update(c: TrainConfig, agent: Agent, buffer: ReplayBuffer, state: LoopState) -> None:
    """utd_ratio gradient updates per env step from learning_starts on; a fraction accumulates."""
    if state.step < c.learning_starts:
        return
    state.updates_due += c.utd_ratio
    while state.updates_due >= 1.0:
        state.metrics = agent.update(buffer.sample(c.agent.batch_size))
        state.updates_due -= 1.0


def train_seed_processes(c: TrainConfig, run_dir: Path, resume: bool = False) -> dict[str, float]:
    """`seeds_mode=processes` (and `auto` on a CPU): each seed of `c.seeds` as the single run of that seed, in
    `run_dir/seed<k>`, in processes of their own, as many at a time as `threads` (0: the cores), sharing the cores.

    On a CPU one model of S seeds is slower than S processes (docs/seeds.md measures both): the CPU is at its
    matmul capacity either way and one process cannot keep its cores as busy. SIGINT / SIGTERM reach every seed,
    each saves a checkpoint; `resume=run_dir` resumes the seeds that saved one and starts the others.
    Returns each seed's last eval metrics as `seed<k>/<metric>`.
    """
    seeds = list(c.seeds or [])
    if not resume:
        RunDir(run_dir).create(as_dict(c))
    cores = c.threads or len(os.sched_getaffinity(0))
    workers = min(len(seeds), cores)
    group = c.wandb.group or run_dir.name  # the seeds of one batch side by side in W&B
    jobs = []
    for seed in seeds:
        path = seed_dir(run_dir, seed)
        wandb = dataclasses.replace(c.wandb, group=group)
        config = dataclasses.replace(
            c, seed=seed, seeds=None, resume=None, threads=max(1, cores // workers), wandb=wandb
        )
        jobs.append((config, path, resume and RunDir(path).latest.exists()))
    stop: list[int] = []
    with ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_die_with_parent
    ) as pool:
        previous = _forward_stop_signals(stop)
        try:
            futures = [pool.submit(_train_one, *job) for job in jobs]
            results: dict[str, float] = {}
            for (config, _, _), future in zip(jobs, futures, strict=True):
                if stop:
                    future.cancel()
                if not future.cancelled():
                    results |= {f"seed{config.seed}/{k}": v for k, v in future.result().items()}
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    if stop:
        print(f"stopped: every running seed saved a checkpoint; continue with resume={run_dir}")
    return results


def _train_one(c: TrainConfig, run_dir: Path, resume: bool) -> dict[str, float]:
    torch.set_num_threads(c.threads)
    return train(c, run_dir, resume)


def _die_with_parent() -> None:
    """A seed's process ends with the process that started it (Linux; elsewhere nothing changes): a killed batch
    must not leave its seeds writing into the run directories a resumed batch writes into."""
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _forward_stop_signals(stop: list[int]) -> dict[int, Any]:
    """SIGINT / SIGTERM to this process reach every seed's process (each then saves a checkpoint and returns) and
    stop the seeds not yet started; returns the handlers to restore."""

    def forward(signum: int) -> None:
        stop.append(signum)
        for child in multiprocessing.active_children():
            if child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)

    return catch_stop_signals(forward)
