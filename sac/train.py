"""The off-policy loop: collect, update, evaluate, checkpoint, log; resumable exactly."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from envs import env_id, get_env_state, make_env, set_env_state
from sac.agent import SAC
from sac.checkpoint import CheckpointError, load_checkpoint, restore, save_checkpoint
from sac.config import TrainConfig, UserError, as_dict, resolve_device, resume_config, to_object, validate
from sac.estimators import actor_gradient_diagnostics
from sac.evaluate import EVAL_SEED_OFFSET, evaluate, record_video
from sac.logger import Logger, create_run_dir, to_floats
from sac.replay import ReplayBuffer

class TrainingDiverged(UserError):
    """A loss or a parameter became NaN or infinite."""


def train_sac(cfg: DictConfig) -> Path:
    """Hydra entry point: a new run in Hydra's run directory, or `resume=RUN_DIR` continues one.

    In a multirun, W&B runs are grouped by sweep and torch threads are shared out among the launcher's
    parallel jobs; with `relaunch=true` a job whose directory holds a finished run is skipped and an
    unfinished one is resumed.
    """
    hydra_cfg = HydraConfig.get()
    config = to_object(cfg, TrainConfig)
    torch.set_num_threads(job_threads(config.threads, hydra_cfg))
    if config.resume is not None:
        run_dir = Path(config.resume)
        train(resume_config(run_dir, cfg, hydra_cfg.overrides.task), run_dir, resume=True)
        return run_dir
    run_dir = Path(hydra_cfg.runtime.output_dir)
    if hydra_cfg.mode == RunMode.MULTIRUN and config.wandb.group is None:
        config.wandb.group = sweep_group(hydra_cfg)
    status = run_status(run_dir)
    if config.relaunch and status == "finished":
        print(f"{run_dir}: finished earlier, skipped")
    elif config.relaunch and status == "unfinished":
        saved = OmegaConf.load(run_dir / "config.yaml")
        saved.relaunch = True  # the only difference a re-launch itself makes
        if OmegaConf.to_container(saved) != as_dict(config):
            raise UserError(f"relaunch: {run_dir} holds a run with another config; use a new hydra.sweep.dir")
        print(f"{run_dir}: unfinished, resuming from its latest checkpoint")
        train(config, run_dir, resume=True)
    else:
        train(config, run_dir)
    return run_dir


def run_status(run_dir: Path) -> str:
    """'finished', 'unfinished' (a checkpoint to resume from) or 'new'."""
    info = run_dir / "run.json"
    if info.exists() and json.loads(info.read_text()).get("finished"):
        return "finished"
    return "unfinished" if (run_dir / "checkpoints" / "latest").exists() else "new"


def sweep_group(hydra_cfg: Any) -> str:
    """W&B group of a sweep's runs: its directory, e.g. multirun/2026-11-25/10-00-00 -> 2026-11-25_10-00-00."""
    sweep_dir = Path(hydra_cfg.sweep.dir)
    return f"{sweep_dir.parent.name}_{sweep_dir.name}"


def job_threads(threads: int, hydra_cfg: Any) -> int:
    """`threads`, or with 0 the cores divided among the jobs a launcher runs at once (at least 1)."""
    if threads > 0:
        return threads
    cores = len(os.sched_getaffinity(0))
    n_jobs = OmegaConf.select(hydra_cfg, "launcher.n_jobs", default=1) if hydra_cfg.mode == RunMode.MULTIRUN else 1
    if n_jobs is None or n_jobs < 1:  # joblib: -1 means one job per core
        n_jobs = cores
    return max(1, cores // n_jobs)


def train(c: TrainConfig, run_dir: Path, resume: bool = False) -> dict[str, float]:
    """Train SAC as configured, writing logs and checkpoints under `run_dir`; returns the last eval metrics.

    With `resume`, continue from `run_dir/checkpoints/latest`: networks, optimizers, log_alpha, replay
    buffer, RNG states and the episode in progress are restored, so on a deterministic device the
    continuation logs exactly what an uninterrupted run would have.
    """
    validate(c)
    device = resolve_device(c.device)
    torch.manual_seed(c.seed)
    env = make_env(c.env, seed=c.seed)
    eval_env = make_env(c.env, seed=c.seed + EVAL_SEED_OFFSET)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    agent = SAC(obs_dim, act_dim, c.agent, device, c.encoder, compile=c.compile, cudagraphs=c.cudagraphs)
    # A run of total_steps fills at most 2 * total_steps rows (an episode's final state takes a row).
    buffer = ReplayBuffer(obs_dim, act_dim, min(c.buffer_size, 2 * c.total_steps), device, seed=c.seed)
    checkpoints = run_dir / "checkpoints"
    config_dict = as_dict(c)
    meta = {"algorithm": "sac", "env_id": env_id(c.env.name), "obs_dim": obs_dim, "act_dim": act_dim, "config": config_dict}

    if resume:
        start, obs, updates_due = _restore(checkpoints / "latest", meta, agent, buffer, env)
        _truncate_metrics(run_dir / "metrics.jsonl", start)
    else:
        create_run_dir(run_dir, config_dict)
        start, updates_due = 0, 0.0
        obs, _ = env.reset()
    logger = Logger(run_dir, config_dict, c.wandb, c.total_steps, job_type=f"sac-{c.agent.actor_estimator}", resume=resume)

    def save(step: int) -> None:
        _check_finite(step, update_metrics, checkpoints, agent)
        state = {"agent": agent.state_dict(), "torch_rng": torch.get_rng_state(), "obs": torch.as_tensor(obs)}
        if device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(device)
        loop = {"updates_due": updates_due, "env": get_env_state(env)}
        replay = buffer.state_dict() if c.checkpoint_buffer else None
        save_checkpoint(checkpoints, step, state, {**meta, "loop": loop}, replay)

    def diagnose(step: int) -> dict[str, torch.Tensor]:
        # Own generator and seed per call: neither the replay sampling stream nor the global RNG moves.
        generator = torch.Generator().manual_seed(c.seed + step)
        batch_obs = buffer.sample(c.agent.batch_size, generator=generator).obs
        d = c.diagnostics
        return actor_gradient_diagnostics(agent, batch_obs, d.samples, d.reference_samples, seed=c.seed + step)

    def policy(o: np.ndarray) -> np.ndarray:
        return agent.act(o, deterministic=True)

    update_metrics: dict[str, torch.Tensor] = {}
    eval_metrics: dict[str, float] = {}
    window_start, window_step = time.perf_counter(), start
    step = start
    exit_code = 1
    try:
        with _stop_requests() as stop_requested:
            for step in range(start + 1, c.total_steps + 1):
                action = env.action_space.sample() if step <= c.learning_starts else agent.act(obs)
                next_obs, reward, terminated, truncated, info = env.step(action)
                buffer.add(obs, action, float(reward), next_obs, terminated, truncated)
                obs = next_obs
                if terminated or truncated:
                    episode = info["episode"]
                    logger.log(step, {"train/episode_return": float(episode["r"]), "train/episode_length": int(episode["l"])})
                    obs, _ = env.reset()

                if step >= c.learning_starts:
                    updates_due += c.utd_ratio
                    while updates_due >= 1.0:
                        update_metrics = agent.update(buffer.sample(c.agent.batch_size))
                        updates_due -= 1.0

                if step % c.log_every == 0:
                    now = time.perf_counter()
                    steps_per_sec = (step - window_step) / (now - window_start)
                    window_start, window_step = now, step
                    logged = logger.log(step, {**update_metrics, "perf/steps_per_sec": steps_per_sec})
                    _check_finite(step, logged, checkpoints)

                paused = time.perf_counter()  # evaluation, diagnostics and checkpoints do not count against steps/s
                every = c.diagnostics.grad_variance_every
                if every and step % every == 0 and step >= c.learning_starts:
                    logger.log(step, diagnose(step))
                if step % c.eval_every == 0 or step == c.total_steps:
                    eval_metrics = evaluate(eval_env, policy, c.eval_episodes, seed=c.seed + EVAL_SEED_OFFSET)
                    logger.log(step, eval_metrics)
                    if c.video_every and (step // c.eval_every) % c.video_every == 0:
                        path = run_dir / "videos" / f"step_{step:09d}.mp4"
                        record_video(c.env, policy, seed=c.seed + EVAL_SEED_OFFSET, path=path)
                        logger.log_video(step, "eval/video", path)
                if step % c.checkpoint_every == 0 or step == c.total_steps:
                    save(step)
                window_start += time.perf_counter() - paused

                if stop_requested():
                    save(step)
                    print(f"stopped at step {step}: checkpoint saved; continue with resume={run_dir}")
                    break
        exit_code = 0
    finally:
        logger.close(exit_code, finished=exit_code == 0 and step == c.total_steps)
        env.close()
        eval_env.close()
    return eval_metrics


def _restore(
    path: Path, meta: dict[str, Any], agent: SAC, buffer: ReplayBuffer, env: Any
) -> tuple[int, np.ndarray, float]:
    """Load `path` into the agent, buffer, RNG and env. Returns (step, current obs, pending updates)."""
    if not path.exists():
        raise CheckpointError(f"cannot resume: {path} does not exist (the run saved no checkpoint)")
    state, saved, replay = load_checkpoint(path)
    if saved.get("algorithm") != "sac" or (saved.get("env_id"), saved.get("obs_dim"), saved.get("act_dim")) != (
        meta["env_id"], meta["obs_dim"], meta["act_dim"]
    ):
        raise CheckpointError(
            f"checkpoint {path} is a {saved.get('algorithm')} run on {saved.get('env_id')}, "
            f"not a sac run on {meta['env_id']}"
        )
    if replay is None:
        raise CheckpointError(f"checkpoint {path} holds no replay buffer (checkpoint_buffer=false): it cannot be resumed")
    restore(agent, state["agent"], path)
    restore(buffer, replay, path)
    torch.set_rng_state(state["torch_rng"])
    if "cuda_rng" in state and agent.device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"], agent.device)
    set_env_state(env, saved["loop"]["env"])
    return int(saved["step"]), state["obs"].numpy(), float(saved["loop"]["updates_due"])


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop the records a crashed run wrote after its checkpoint at `step`; they will be logged again."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= step:
                kept.append(line)
        except (json.JSONDecodeError, KeyError):  # a line cut short by the crash
            continue
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(line + "\n" for line in kept))
    os.replace(tmp, path)


def _check_finite(step: int, values: dict[str, Any], checkpoints: Path, agent: SAC | None = None) -> None:
    """Stop with one line naming the step and the first non-finite loss (or, given the agent, parameter set)."""
    floats = to_floats(values)
    bad = [f"{k} is {v}" for k, v in floats.items() if not np.isfinite(v)]
    if agent is not None and not bad:
        parts = {"actor": list(agent.actor.parameters()), "critic": list(agent.critic.parameters()), "log_alpha": [agent.log_alpha]}
        finite = torch.stack([torch.stack([p.isfinite().all() for p in ps]).all() for ps in parts.values()]).tolist()
        bad = [f"{name} parameters are not finite" for name, ok in zip(parts, finite) if not ok]
    if bad:
        latest = checkpoints / "latest"
        kept = f"the last good checkpoint, {latest.resolve().name}, is intact" if latest.exists() else "no checkpoint was saved"
        raise TrainingDiverged(f"step {step}: {bad[0]}; training stopped and {kept}")


@contextmanager
def _stop_requests() -> Iterator[Callable[[], bool]]:
    """SIGINT / SIGTERM set a flag the loop checks after each step, so it can save and close cleanly."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():  # signals can only be caught there
        yield lambda: False
        return
    previous = {s: signal.signal(s, lambda signum, _: received.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: bool(received)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
