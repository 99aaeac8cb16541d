"""The saved-policy evaluation command (scripts/evaluate.py): load a checkpoint's policy, run it, report."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from envs import env_id
from envs.make import dims, make_env
from sac.config import EncoderConfig, EnvConfig, EvaluateConfig, UserError, WandbMode
from sac.run.checkpoint import META_FILE, CheckpointError, load_checkpoint, restore
from sac.run.device import resolve_device
from sac.run.logger import Logger
from sac.run.options import to_object, upgrade_saved_config, validate_evaluate
from sac.run.registry import REGISTRY, build
from sac.run.rollout import EVAL_SEED_OFFSET, Action, run_episodes
from sac.run.rundir import Identity, RunDir


def load_policy(path: Path, device: torch.device) -> tuple[Callable[[np.ndarray, bool], Action], dict[str, Any]]:
    """A saved SAC, discrete SAC or REINFORCE policy as `act(obs (obs_dim,), deterministic) -> action` (in [-1, 1],
    or an action index), and its checkpoint's metadata."""
    agent, meta = load_agent(path, device)
    if Identity.read(meta).algorithm == "reinforce":  # an unsquashed Gaussian: its actions are clipped for the env

        def act(obs: np.ndarray, deterministic: bool) -> np.ndarray:
            return np.clip(agent.act(obs[None], deterministic)[0], -1.0, 1.0)

        return act, meta
    return agent.act, meta


def load_agent(path: Path, device: torch.device) -> tuple[Any, dict[str, Any]]:
    """A saved agent rebuilt through the registry with its networks' weights (critics and temperature too), and
    its checkpoint's metadata (its config upgraded to the current schema)."""
    state, meta, _ = load_checkpoint(path)
    try:
        identity = Identity.read(meta)
        meta["config"] = upgrade_saved_config(meta["config"])
        agent_cfg = meta["config"]["agent"]
        obs_dim, act_dim = int(meta["obs_dim"]), int(meta["act_dim"])
    except UserError as e:
        raise CheckpointError(f"checkpoint {path} is of an {e}") from None
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"checkpoint {path} has incomplete metadata (config, obs_dim, act_dim)") from None
    entry = REGISTRY[identity.algorithm]
    encoder = _typed(EncoderConfig, meta["config"].get("encoder", {}), path) if identity.algorithm == "sac" else None
    agent = build(identity, obs_dim, act_dim, _typed(entry.agent_schema, agent_cfg, path), device, encoder)
    restore(agent, state["agent"], path)
    return agent, meta


def checkpoint_path(path: Path) -> Path:
    """A checkpoint directory as given; a run directory stands for its newest checkpoint (checkpoints/latest)."""
    latest = RunDir(path).latest
    return latest if not (path / META_FILE).exists() and latest.exists() else path


def _typed(schema: type, values: Any, path: Path) -> Any:
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), values))
    except Exception as e:  # OmegaConf raises several types for a malformed config
        raise CheckpointError(f"checkpoint {path} has an invalid agent config ({type(e).__name__})") from None


def _env_for(c: EvaluateConfig, meta: dict[str, Any]) -> tuple[EnvConfig, gym.Env]:
    """The env to evaluate on: the checkpoint's own, or `env_name` with the same observation and action sizes."""
    saved_env = meta["config"]["env"]
    env_cfg = EnvConfig(
        name=c.env_name or saved_env["name"],
        max_episode_steps=c.max_episode_steps or saved_env.get("max_episode_steps"),
    )
    env = make_env(env_cfg, seed=0, render_mode="rgb_array" if c.video else None)
    shapes = dims(env.observation_space, env.action_space)
    if shapes != (meta["obs_dim"], meta["act_dim"]):
        env.close()
        raise UserError(
            f"env_name={env_cfg.name} has (obs, act) sizes {shapes} but the checkpoint's policy takes "
            f"{(meta['obs_dim'], meta['act_dim'])} ({meta['env_id']})"
        )
    return env_cfg, env


def evaluate_checkpoint(cfg: DictConfig) -> dict[str, Any]:
    """Hydra entry point of scripts/evaluate.py: evaluate, print a summary, optionally write JSON, video, W&B."""
    c = to_object(cfg, EvaluateConfig)
    validate_evaluate(c)
    if c.output:
        _check_writable(c.output)
    path = checkpoint_path(Path(c.checkpoint))
    act, meta = load_policy(path, resolve_device(c.device))
    env_cfg, env = _env_for(c, meta)
    seed = c.seed if c.seed is not None else int(meta["config"]["seed"]) + EVAL_SEED_OFFSET
    torch.manual_seed(seed)  # stochastic evaluation draws its actions from the global torch RNG
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    videos = [out_dir / "videos" / f"episode_{i}.mp4" for i in range(c.episodes)] if c.video else None
    try:
        returns, lengths = run_episodes(env, lambda o: act(o, c.deterministic), c.episodes, seed, videos)
    finally:
        env.close()

    summary = {
        "checkpoint": str(path),
        "algorithm": Identity.read(meta).label,
        "checkpoint_step": meta["step"],
        "env_id": env_id(env_cfg.name),
        "deterministic": c.deterministic,
        "seed": seed,
        "return_mean": float(returns.mean()),
        "return_std": float(returns.std()),
        "length_mean": float(lengths.mean()),
        "episodes": [
            {"return": float(r), "length": int(n), **({"video": str(videos[i])} if videos else {})}
            for i, (r, n) in enumerate(zip(returns, lengths, strict=True))
        ],
    }
    _print_summary(summary)
    if c.output:
        Path(c.output).write_text(json.dumps(summary, indent=1))
    if c.wandb.mode != WandbMode.disabled:
        _log_to_wandb(c, summary, out_dir)
    return summary


def _check_writable(output: str) -> None:
    """Before any episode runs: an output path that cannot be written would otherwise fail only at the end."""
    target = Path(output)
    try:
        if target.is_dir():
            raise IsADirectoryError(21, "it is a directory")
        with tempfile.NamedTemporaryFile(dir=target.resolve().parent):
            pass
    except OSError as e:
        raise UserError(
            f"output={output} cannot be written ({e.strerror}): pass a file path in a writable directory"
        ) from None


def _print_summary(s: dict[str, Any]) -> None:
    mode = "deterministic" if s["deterministic"] else "stochastic"
    print(
        f"{s['algorithm']} policy at step {s['checkpoint_step']} on {s['env_id']}: "
        f"{len(s['episodes'])} {mode} episodes, seed {s['seed']}"
    )
    print(f"{'episode':>8} {'return':>12} {'length':>8}")
    for i, e in enumerate(s["episodes"]):
        print(f"{i:>8} {e['return']:>12.2f} {e['length']:>8}")
    print(f"return {s['return_mean']:.2f} ± {s['return_std']:.2f}, length {s['length_mean']:.1f}")


def _log_to_wandb(c: EvaluateConfig, summary: dict[str, Any], out_dir: Path) -> None:
    logger = Logger(RunDir(out_dir), summary, c.wandb, total_steps=int(summary["checkpoint_step"]), job_type="evaluate")
    logger.log(int(summary["checkpoint_step"]), {
        "eval/return_mean": summary["return_mean"], "eval/return_std": summary["return_std"],
        "eval/length_mean": summary["length_mean"],
    })  # fmt: skip
    for i, episode in enumerate(summary["episodes"]):
        if "video" in episode:
            logger.log_video(int(summary["checkpoint_step"]), f"eval/video_{i}", Path(episode["video"]))
    logger.close()
    if not math.isfinite(summary["return_mean"]):
        raise UserError("evaluation returned a non-finite mean return")
