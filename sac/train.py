"""The off-policy loop: collect, update, evaluate, checkpoint, log."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from envs import env_id, make_env
from sac.agent import SAC
from sac.checkpoint import save_checkpoint
from sac.config import TrainConfig, resolve_device, to_object, validate
from sac.estimators import actor_gradient_diagnostics
from sac.evaluate import evaluate
from sac.logger import Logger
from sac.replay import ReplayBuffer

# Evaluation uses its own env instance and start states, away from the training seeds.
EVAL_SEED_OFFSET = 1_000_000


def train_sac(cfg: DictConfig) -> Path:
    """Hydra entry point: train in Hydra's run directory."""
    config = to_object(cfg, TrainConfig)
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    train(config, run_dir)
    return run_dir


def train(c: TrainConfig, run_dir: Path) -> dict[str, float]:
    """Train SAC as configured, writing logs and checkpoints under `run_dir`. Returns the last eval metrics."""
    validate(c)
    device = resolve_device(c.device)
    torch.manual_seed(c.seed)
    env = make_env(c.env, seed=c.seed)
    eval_env = make_env(c.env, seed=c.seed + EVAL_SEED_OFFSET)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    agent = SAC(obs_dim, act_dim, c.agent, device)
    buffer = ReplayBuffer(obs_dim, act_dim, min(c.buffer_size, c.total_steps), device, seed=c.seed)

    config_dict: dict[str, Any] = OmegaConf.to_container(OmegaConf.structured(c))  # type: ignore[assignment]
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(config_dict))
    logger = Logger(run_dir, config_dict, c.wandb, c.total_steps, job_type=f"sac-{c.agent.actor_estimator}")
    meta = {"env_id": env_id(c.env.name), "obs_dim": obs_dim, "act_dim": act_dim, "config": config_dict}

    def diagnose(step: int) -> dict[str, torch.Tensor]:
        # Own generator and seed per call: neither the replay sampling stream nor the global RNG moves.
        generator = torch.Generator(device=device).manual_seed(c.seed + step)
        obs = buffer.sample(c.agent.batch_size, generator=generator).obs
        d = c.diagnostics
        return actor_gradient_diagnostics(agent, obs, d.samples, d.reference_samples, seed=c.seed + step)

    update_metrics: dict[str, torch.Tensor] = {}
    eval_metrics: dict[str, float] = {}
    updates_due = 0.0
    window_start, window_step = time.perf_counter(), 0
    obs, _ = env.reset()
    try:
        for step in range(1, c.total_steps + 1):
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
                logger.log(step, {**update_metrics, "perf/steps_per_sec": steps_per_sec})

            paused = time.perf_counter()  # evaluation, diagnostics and checkpoints do not count against steps/s
            every = c.diagnostics.grad_variance_every
            if every and step % every == 0 and step >= c.learning_starts:
                logger.log(step, diagnose(step))
            if step % c.eval_every == 0 or step == c.total_steps:
                policy = lambda o: agent.act(o, deterministic=True)  # noqa: E731
                eval_metrics = evaluate(eval_env, policy, c.eval_episodes, seed=c.seed + EVAL_SEED_OFFSET)
                logger.log(step, eval_metrics)
            if step % c.checkpoint_every == 0 or step == c.total_steps:
                replay = buffer.state_dict() if c.checkpoint_buffer else None
                save_checkpoint(run_dir / "checkpoints", step, agent.state_dict(), meta, replay)
            window_start += time.perf_counter() - paused
    finally:
        logger.close()
        env.close()
        eval_env.close()
    return eval_metrics
