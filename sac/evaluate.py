"""Policy evaluation: whole episodes on an env of its own, optionally filmed; and saved-policy evaluation."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import gymnasium as gym
import numpy as np
import torch
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from omegaconf import MISSING, DictConfig, OmegaConf

from envs import env_id, make_env
from sac.checkpoint import CheckpointError, load_checkpoint, restore
from sac.config import EncoderConfig, EnvConfig, UserError, WandbConfig, resolve_device, to_object

Policy = Callable[[np.ndarray], np.ndarray]

# Training evaluates on start states seeded from seed + EVAL_SEED_OFFSET, away from the training seeds.
EVAL_SEED_OFFSET = 1_000_000


def run_episodes(
    env: gym.Env, policy: Policy, episodes: int, seed: int, videos: list[Path] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Run `episodes` episodes; episode i starts from `reset(seed=seed + i)`.

    Fixed reset seeds make an evaluation a deterministic function of the policy, so evaluations
    at different training steps compare policies on the same start states, and re-evaluating a
    saved deterministic policy reproduces the logged number. With `videos` (one path per episode,
    env in rgb_array mode) each episode is written as mp4, one frame per action: the frame the
    policy acted on. Returns (returns, lengths), each (episodes,).
    """
    import imageio

    returns = np.zeros(episodes)
    lengths = np.zeros(episodes, dtype=np.int64)
    for i in range(episodes):
        writer = None
        if videos is not None:
            videos[i].parent.mkdir(parents=True, exist_ok=True)
            # macro_block_size=1: keep the env's frame size instead of rescaling it to a multiple of 16.
            writer = imageio.get_writer(videos[i], fps=env.metadata.get("render_fps", 30), macro_block_size=1)
        obs, _ = env.reset(seed=seed + i)
        done = False
        while not done:
            if writer is not None:
                writer.append_data(env.render())
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            returns[i] += float(reward)
            lengths[i] += 1
            done = terminated or truncated
        if writer is not None:
            writer.close()
    return returns, lengths


def evaluate(env: gym.Env, policy: Policy, episodes: int, seed: int) -> dict[str, float]:
    """`run_episodes` summarised as the `eval/...` metrics both training loops log."""
    returns, lengths = run_episodes(env, policy, episodes, seed)
    return {
        "eval/return_mean": float(returns.mean()),
        "eval/return_std": float(returns.std()),
        "eval/length_mean": float(lengths.mean()),
    }


def record_video(env_cfg: EnvConfig, policy: Policy, seed: int, path: Path) -> int:
    """Film one evaluation episode (the first of an evaluation) to `path`; returns its length."""
    env = make_env(env_cfg, seed=seed, render_mode="rgb_array")
    try:
        _, lengths = run_episodes(env, policy, 1, seed, videos=[path])
    finally:
        env.close()  # explicitly: interpreter-exit teardown of a GL context is noisy
    return int(lengths[0])


@dataclass
class EvaluateConfig:
    checkpoint: str = MISSING
    """A checkpoint directory (.../checkpoints/step_N or .../checkpoints/latest)."""
    episodes: int = 10
    deterministic: bool = True
    """tanh(mu) for SAC, the mean for REINFORCE; false samples from the policy."""
    seed: Optional[int] = None
    """First episode's reset seed; None: the training run's evaluation seed, which reproduces its eval return."""
    env_name: Optional[str] = None
    """Evaluate on another env (same observation and action sizes); None: the checkpoint's."""
    max_episode_steps: Optional[int] = None
    video: bool = False
    """Write one mp4 per episode under <output dir>/videos."""
    output: Optional[str] = None
    """Also write the summary as JSON to this file."""
    device: str = "cpu"
    wandb: WandbConfig = field(default_factory=lambda: WandbConfig(mode="disabled"))
    """Log the summary (and videos) to a new W&B run of job type `evaluate`."""


ConfigStore.instance().store(name="evaluate_schema", node=EvaluateConfig)


def load_policy(path: Path, device: torch.device) -> tuple[Callable[[np.ndarray, bool], np.ndarray], dict[str, Any]]:
    """A saved SAC or REINFORCE policy as `act(obs (obs_dim,), deterministic) -> action in [-1, 1]`, and its metadata."""
    # Imported here: both training loops import this module for `evaluate`.
    from sac.agent import SAC
    from sac.config import AgentConfig, ReinforceAgentConfig
    from sac.reinforce import Reinforce

    state, meta, _ = load_checkpoint(path)
    algorithm = meta.get("algorithm")
    try:
        agent_cfg = meta["config"]["agent"]
        obs_dim, act_dim = int(meta["obs_dim"]), int(meta["act_dim"])
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"checkpoint {path} has incomplete metadata (config, obs_dim, act_dim)") from None
    if algorithm == "sac":
        encoder = _typed(EncoderConfig, meta["config"].get("encoder", {}), path)
        agent: Any = SAC(obs_dim, act_dim, _typed(AgentConfig, agent_cfg, path), device, encoder)
        act = agent.act
    elif algorithm == "reinforce":
        agent = Reinforce(obs_dim, act_dim, _typed(ReinforceAgentConfig, agent_cfg, path), device)

        def act(obs: np.ndarray, deterministic: bool) -> np.ndarray:
            return np.clip(agent.act(obs[None], deterministic)[0], -1.0, 1.0)

    else:
        raise CheckpointError(f"checkpoint {path} is of an unknown algorithm {algorithm!r} (allowed: sac, reinforce)")
    restore(agent, state["agent"], path)
    return act, meta


def _typed(schema: type, values: Any, path: Path) -> Any:
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), values))
    except Exception as e:  # OmegaConf raises several types for a malformed config
        raise CheckpointError(f"checkpoint {path} has an invalid agent config ({type(e).__name__})") from None


def evaluate_checkpoint(cfg: DictConfig) -> dict[str, Any]:
    """Hydra entry point of scripts/evaluate.py: evaluate, print a summary, optionally write JSON, video, W&B."""
    c = to_object(cfg, EvaluateConfig)
    if c.episodes <= 0:
        raise UserError(f"episodes={c.episodes} is invalid: it must be > 0")
    path = Path(c.checkpoint)
    act, meta = load_policy(path, resolve_device(c.device))
    saved_env = meta["config"]["env"]
    env_cfg = EnvConfig(name=c.env_name or saved_env["name"], max_episode_steps=c.max_episode_steps or saved_env.get("max_episode_steps"))
    try:
        env = make_env(env_cfg, seed=0, render_mode="rgb_array" if c.video else None)
    except ValueError as e:  # UnknownEnvError, or a non-Box action space
        raise UserError(str(e)) from None
    shapes = (env.observation_space.shape[0], env.action_space.shape[0])
    if shapes != (meta["obs_dim"], meta["act_dim"]):
        env.close()
        raise UserError(
            f"env_name={env_cfg.name} has (obs, act) sizes {shapes} but the checkpoint's policy takes "
            f"{(meta['obs_dim'], meta['act_dim'])} ({meta['env_id']})"
        )
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
        "algorithm": meta["algorithm"],
        "checkpoint_step": meta["step"],
        "env_id": env_id(env_cfg.name),
        "deterministic": c.deterministic,
        "seed": seed,
        "return_mean": float(returns.mean()),
        "return_std": float(returns.std()),
        "length_mean": float(lengths.mean()),
        "episodes": [
            {"return": float(r), "length": int(n), **({"video": str(videos[i])} if videos else {})}
            for i, (r, n) in enumerate(zip(returns, lengths))
        ],
    }
    _print_summary(summary)
    if c.output:
        Path(c.output).write_text(json.dumps(summary, indent=1))
    if c.wandb.mode != "disabled":
        _log_to_wandb(c, summary, out_dir)
    return summary


def _print_summary(s: dict[str, Any]) -> None:
    mode = "deterministic" if s["deterministic"] else "stochastic"
    print(f"{s['algorithm']} policy at step {s['checkpoint_step']} on {s['env_id']}: {len(s['episodes'])} {mode} episodes, seed {s['seed']}")
    print(f"{'episode':>8} {'return':>12} {'length':>8}")
    for i, e in enumerate(s["episodes"]):
        print(f"{i:>8} {e['return']:>12.2f} {e['length']:>8}")
    print(f"return {s['return_mean']:.2f} ± {s['return_std']:.2f}, length {s['length_mean']:.1f}")


def _log_to_wandb(c: EvaluateConfig, summary: dict[str, Any], out_dir: Path) -> None:
    from sac.logger import Logger

    logger = Logger(out_dir, summary, c.wandb, total_steps=int(summary["checkpoint_step"]), job_type="evaluate")
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
