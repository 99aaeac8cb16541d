"""SAC training as configured: one seed, or `seeds=[...]` batched in one model (seeds.py) or as processes of their
own. This module builds the envs, agents, replay and sessions; the loop itself is train.py's, written once.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

from envs.make import dims, is_discrete, make_env
from sac.config import Precision, SeedsMode, TrainConfig
from sac.run import train as loop
from sac.run.device import available_cores, resolve_device, resolve_precision
from sac.run.options import as_dict, validate_train
from sac.run.replay import ReplayBuffer, capacity
from sac.run.rundir import Identity, RunDir, seed_dir
from sac.run.seeds import SeedLearner, SeedReplay, seed_sessions
from sac.run.session import Session, run_meta
from sac.run.signals import catch_stop_signals


def train(c: TrainConfig, run_dir: Path, resume: bool = False) -> dict[str, float]:
    """Train SAC as configured, writing logs and checkpoints under `run_dir`; returns the last eval metrics.

    With `resume`, continue from `run_dir/checkpoints/latest`: networks, optimizers, log_alpha, replay
    buffer, RNG states, loop state and the episode in progress are restored, so on a deterministic
    device the continuation logs exactly what an uninterrupted run would have. With `c.seeds`, every seed
    listed trains, seed k into `run_dir/seed<k>`, batched in this process or in processes of their own
    (`seeds_mode`); their metrics are returned keyed `seed<k>/...`.
    """
    validate_train(c)
    device = resolve_device(c.device, needs_cuda="cudagraphs=true" if c.cudagraphs else None)
    precision = resolve_precision(c.precision, device, c.agent.hidden_sizes, c.encoder.name)
    if c.seeds is not None and not (
        c.seeds_mode == SeedsMode.batched or (c.seeds_mode == SeedsMode.auto and device.type == "cuda")
    ):
        return train_seed_processes(c, run_dir, resume)
    # Seed k of a batch is configured as the single run of seed k, in a W&B group with the batch's other seeds.
    group = dataclasses.replace(c.wandb, group=c.wandb.group or run_dir.name)
    configs = [c] if c.seeds is None else [dataclasses.replace(c, seed=s, seeds=None, resume=None, wandb=group)
                                           for s in c.seeds]  # fmt: skip
    envs: list[gym.Env] = []
    try:
        bf16 = precision == Precision.bf16
        agents, identity, obs_dim, act_dim, action_columns = build_seeds(
            configs, device, envs, c.seeds is not None, bf16
        )
        if identity.algorithm != "sac":  # bf16 is a continuous-SAC switch: discrete SAC runs in fp32
            precision, bf16 = Precision.fp32, False
        # The precision this machine resolved (auto -> fp32 or bf16), beside the CPU flags each segment records.
        metas = [run_meta(identity, ck, obs_dim, act_dim) | {"precision": precision.value} for ck in configs]
        rows = capacity(c.buffer_size, c.total_steps)
        learner: loop.Learner
        if c.seeds is None:
            learner = loop.SingleSeed(agents[0], ReplayBuffer(obs_dim, action_columns, rows, device, seed=c.seed))
            sessions = [Session(RunDir(run_dir), c, metas[0], resume)]
        else:
            replay = SeedReplay(list(c.seeds), obs_dim, action_columns, rows, device)
            learner = SeedLearner(agents, replay, c.compile, c.cudagraphs, bf16)
            sessions = seed_sessions(c, configs, metas, run_dir, resume)
        state = loop.start(sessions, envs, learner)
        with ExitStack() as stack:
            for session in sessions:
                stack.enter_context(session)
            loop.run(c, configs, sessions, envs, learner, state, stopped=None if c.seeds is None else stopped(run_dir))
            return loop.results(configs, sessions)
    finally:
        for env in envs:
            env.close()


def build_seeds(
    configs: list[TrainConfig], device: torch.device, envs: list[gym.Env], batched: bool, bf16: bool = False
) -> tuple[list[loop.Agent], Identity, int, int, int]:
    """Each seed's env (appended to `envs`) and agent, built as the single run of that seed builds them; the agents'
    identity, obs_dim, act_dim and the replay columns of an action. A batch vectorises the single agents' losses
    itself (seeds.SeedAxis), so with `batched` they are built without compile and CUDA graphs."""
    agents = []
    for ck in configs:
        torch.manual_seed(ck.seed)  # before anything else draws: seed k's initial weights are the single run's
        envs.append(make_env(ck.env, seed=ck.seed))
        obs_dim, act_dim = dims(envs[-1].observation_space, envs[-1].action_space)
        plain = dataclasses.replace(ck, compile=False, cudagraphs=False) if batched else ck
        agent, identity, action_columns = loop.build_agent(
            plain, obs_dim, act_dim, is_discrete(envs[-1].action_space), device, bf16
        )
        agents.append(agent)
    return agents, identity, obs_dim, act_dim, action_columns


def stopped(run_dir: Path) -> Callable[[int], None]:
    """What a batch of seeds says when a stop request ended it (a single run's session says it itself)."""
    return lambda step: print(f"stopped at step {step}: checkpoints saved; continue with resume={run_dir}")


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
    cores = c.threads or available_cores()
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
