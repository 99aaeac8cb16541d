"""REINFORCE's loop: batches of whole episodes from vector envs, one update each, and the periodic work through the
same Session as SAC's loop (logger, evaluation, checkpoints, NaN guard, signals, exact resume)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from envs import EnvError
from envs.make import dims, is_discrete, make_env
from envs.state import get_env_state, set_env_state
from sac.config import ReinforceConfig
from sac.reinforce import Reinforce, reward_to_go
from sac.run.checkpoint import restore
from sac.run.checkpointer import Snapshot
from sac.run.device import resolve_device
from sac.run.options import validate_reinforce
from sac.run.rundir import Identity, RunDir
from sac.run.session import Session, Throughput, rng_state, run_meta, set_rng_state


def train(c: ReinforceConfig, run_dir: Path, resume: bool = False) -> dict[str, float]:
    """Collect batches of whole episodes from vector envs and update; returns the last eval metrics.

    Batches start from a fresh reset of every sub-env, so a checkpoint (always between batches) needs
    only the networks, optimizers, RNG states and each sub-env's RNG to continue exactly (`resume`).
    """
    validate_reinforce(c)
    device = resolve_device(c.device)
    torch.manual_seed(c.seed)
    # SAME_STEP autoreset: a finished sub-env is reset inside the step that ends it, and its last
    # observation (needed to bootstrap a time limit) comes back in info["final_obs"].
    envs = gym.vector.SyncVectorEnv(
        [functools.partial(make_env, c.env, seed=c.seed + i) for i in range(c.num_envs)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    try:
        if is_discrete(envs.single_action_space):
            raise EnvError(
                f"env.name={c.env.name} has discrete actions: REINFORCE here trains a Gaussian policy on Box actions "
                "(train_sac.py trains discrete SAC)"
            )
        obs_dim, act_dim = dims(envs.single_observation_space, envs.single_action_space)
        agent = Reinforce(obs_dim, act_dim, c.agent, device)
        meta = run_meta(Identity("reinforce", "gaussian", "score"), c, obs_dim, act_dim)
        session = Session(RunDir(run_dir), c, meta, resume)
        if session.resumed is not None:
            restore_reinforce(session, agent, envs, device)

        def act(obs: np.ndarray) -> np.ndarray:
            return np.clip(agent.act(obs[None], deterministic=True)[0], -1.0, 1.0)

        def snapshot() -> Snapshot:
            loop = {"envs": [get_env_state(env) for env in envs.envs]}
            return Snapshot({"agent": agent.state_dict(), **rng_state(device)}, loop, None, agent.parameter_groups())

        step = session.start_step
        with session:
            while step < c.total_steps:
                before, throughput = step, Throughput(step)
                episodes, taken = collect_episodes(envs, agent, c, session, before)
                step += taken
                metrics = agent.update(*(torch.as_tensor(np.concatenate(x), dtype=torch.float32, device=device)
                                         for x in zip(*episodes, strict=True)))  # fmt: skip
                session.log(step, {**metrics, "perf/steps_per_sec": throughput.rate(step)})
                if session.after_step(before, step, act, snapshot):
                    return session.eval_metrics
            return session.finish()
    finally:
        envs.close()


def restore_reinforce(session: Session, agent: Reinforce, envs: gym.vector.SyncVectorEnv, device: torch.device) -> None:
    """The resumed checkpoint's networks, optimizers and RNG states, and each sub-env's RNG state."""
    assert session.resumed is not None
    restore(agent, session.resumed.state["agent"], session.run.latest)
    set_rng_state(session.resumed.state, device)
    for env, state in zip(envs.envs, session.resumed.loop["envs"], strict=True):
        set_env_state(env, state)


def collect_episodes(
    envs: gym.vector.VectorEnv, agent: Reinforce, c: ReinforceConfig, session: Session, step: int
) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], int]:
    """Step all envs from a fresh reset until the ended episodes hold `batch_steps` steps.

    Returns ([(obs (T, obs_dim), actions (T, act_dim), returns (T,)) per episode], env steps taken).
    Episodes still running at the end are discarded, so every sample comes from the current policy.
    """
    n = envs.num_envs
    obs, _ = envs.reset()
    paths: list[dict[str, list[Any]]] = [{"obs": [], "act": [], "rew": []} for _ in range(n)]
    episodes: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    taken, in_episodes = 0, 0
    while in_episodes < c.batch_steps:
        actions = agent.act(obs)
        next_obs, rewards, terminated, truncated, info = envs.step(np.clip(actions, -1.0, 1.0))
        taken += n
        for i in range(n):
            paths[i]["obs"].append(obs[i])
            paths[i]["act"].append(actions[i])
            paths[i]["rew"].append(rewards[i])
            if terminated[i] or truncated[i]:
                rew = np.asarray(paths[i]["rew"])
                bootstrap = 0.0 if terminated[i] else agent.state_value(info["final_obs"][i])
                returns = reward_to_go(rew, c.agent.gamma, bootstrap)
                episodes.append((np.stack(paths[i]["obs"]), np.stack(paths[i]["act"]), returns))
                in_episodes += len(rew)
                session.log(step + taken, {"train/episode_return": float(rew.sum()), "train/episode_length": len(rew)})
                paths[i] = {"obs": [], "act": [], "rew": []}
        obs = next_obs
    return episodes, taken
