"""Rollouts of a policy: whole episodes on an env of its own, the `eval/...` summary, and videos."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np

from envs.make import EnvSpec, make_env
from sac.run.schedule import due

Action = np.ndarray | int
"""A continuous action (act_dim,) in [-1, 1], or the index of a discrete one."""
ActFn = Callable[[np.ndarray], Action]
"""How a rollout acts: one observation (obs_dim,) -> one action."""

# Training evaluates on start states seeded from seed + EVAL_SEED_OFFSET, away from the training seeds.
EVAL_SEED_OFFSET = 1_000_000


def run_episodes(
    env: gym.Env, act: ActFn, episodes: int, seed: int, videos: list[Path] | None = None
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
                frame = env.render()  # (H, W, 3) in rgb_array mode
                assert isinstance(frame, np.ndarray)
                writer.append_data(frame)
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            returns[i] += float(reward)
            lengths[i] += 1
            done = terminated or truncated
        if writer is not None:
            writer.close()
    return returns, lengths


def evaluate(env: gym.Env, act: ActFn, episodes: int, seed: int) -> dict[str, float]:
    """`run_episodes` summarised as the `eval/...` metrics both training loops log."""
    returns, lengths = run_episodes(env, act, episodes, seed)
    return {
        "eval/return_mean": float(returns.mean()),
        "eval/return_std": float(returns.std()),
        "eval/length_mean": float(lengths.mean()),
    }


def record_video(env_cfg: EnvSpec, act: ActFn, seed: int, path: Path) -> int:
    """Film one evaluation episode (the first of an evaluation) to `path`; returns its length."""
    env = make_env(env_cfg, seed=seed, render_mode="rgb_array")
    try:
        _, lengths = run_episodes(env, act, 1, seed, videos=[path])
    finally:
        env.close()  # explicitly: interpreter-exit teardown of a GL context is noisy
    return int(lengths[0])


class Evaluator:
    """A training run's evaluations: deterministic, when due (every `every` steps and at the last step), on an env of
    its own whose episodes start from states seeded away from training's (seed + EVAL_SEED_OFFSET), so evaluations
    at different steps compare policies on the same start states; every `video_every`-th evaluation is filmed."""

    def __init__(self, env: EnvSpec, seed: int, episodes: int, every: int, video_every: int, total_steps: int):
        self.env_cfg, self.seed = env, seed + EVAL_SEED_OFFSET
        self.episodes, self.every, self.video_every, self.total_steps = episodes, every, video_every, total_steps
        self.env = make_env(env, seed=self.seed)

    def due(self, before: int, step: int) -> bool:
        return due(self.every, before, step) or step >= self.total_steps

    def evaluate(self, act: ActFn) -> dict[str, float]:
        return evaluate(self.env, act, self.episodes, self.seed)

    def films(self, step: int) -> bool:
        """The evaluation at `step` is one to film."""
        return bool(self.video_every) and (step // self.every) % self.video_every == 0

    def film(self, act: ActFn, path: Path) -> None:
        record_video(self.env_cfg, act, self.seed, path)

    def close(self) -> None:
        self.env.close()
