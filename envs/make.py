"""The wrapper stack every env of this package goes through, in one visible function."""

from __future__ import annotations

import functools
import os
import warnings
from typing import Any, Protocol

# Headless defaults, set before MuJoCo or pygame are imported: MuJoCo renders offscreen through EGL
# (MUJOCO_GL=osmesa is the fallback without EGL), and pygame skips its banner.
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import RecordEpisodeStatistics, RescaleAction, TransformObservation

from envs import EnvError, env_id


class EnvSpec(Protocol):
    name: str
    max_episode_steps: int | None


def make_env(cfg: EnvSpec, seed: int, render_mode: str | None = None, **kwargs: Any) -> gym.Env:
    """Build the env with the wrapper stack, innermost first, and seed it.

    The returned env has float32 observations (obs_dim,), actions in [-1, 1]^act_dim (mapped once,
    here, to the env's bounds) or, for a Discrete space, an action index in {0, ..., n - 1},
    `info["episode"]` at episode ends, and a first `reset()` that uses `seed`. Spaces the agents
    cannot train on raise EnvError, before any wrapper is applied.
    """
    if _is_mujoco(env_id(cfg.name)):
        filter_mujoco_warnings()
    try:
        env = gym.make(env_id(cfg.name), max_episode_steps=cfg.max_episode_steps, render_mode=render_mode, **kwargs)
    except gym.error.DependencyNotInstalled as e:
        raise EnvError(f"env.name={cfg.name} needs a package that is not installed: {e}") from None
    try:
        check_spaces(cfg.name, env.observation_space, env.action_space)
    except EnvError:
        env.close()
        raise
    env = RecordEpisodeStatistics(env)
    if not is_discrete(env.action_space):
        with warnings.catch_warnings():  # RescaleAction casts its own float64 bounds to float32 and warns about it
            warnings.filterwarnings("ignore", message=".*precision lowered by casting to float32")
            env = RescaleAction(env, min_action=np.float32(-1.0), max_action=np.float32(1.0))
    env = TransformObservation(env, lambda obs: obs.astype(np.float32), _float32_box(env.observation_space))
    return SeedFirstReset(env, seed)


# MuJoCo 3.3+ says this on every load of Gymnasium's half_cheetah.xml: a note for Gymnasium's asset, not for
# our users, printed for every env of every run (training, evaluation, each resume).
_MUJOCO_NOTES_FOR_GYMNASIUM = ("compiler attribute 'settotalmass' is deprecated",)


def _is_mujoco(name: str) -> bool:
    try:
        return "mujoco" in str(gym.spec(name).entry_point)
    except gym.error.Error:  # not registered: gym.make below says so
        return False


@functools.cache
def filter_mujoco_warnings() -> None:
    """Route MuJoCo's warnings through Python's `warnings` (RuntimeWarning, so its filters and pytest see them)
    instead of MuJoCo's own print to stderr, dropping the notes above. Installed once per process."""
    import mujoco

    def forward(message: str) -> None:
        if not message.startswith(_MUJOCO_NOTES_FOR_GYMNASIUM):
            warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2)

    mujoco.set_mju_user_warning(forward)


def check_spaces(name: str, observation_space: gym.Space, action_space: gym.Space) -> None:
    """Observations must be a flat Box (obs_dim,); actions a flat, bounded Box (act_dim,) or Discrete(n) from 0."""
    if not (isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) == 1):
        raise EnvError(
            f"env.name={name} has observation space {observation_space}: this package trains on a flat Box (obs_dim,)"
        )
    if isinstance(action_space, gym.spaces.Discrete):
        if action_space.start != 0 or action_space.n < 2:
            raise EnvError(f"env.name={name} has action space {action_space}: a Discrete space needs n >= 2, from 0")
        return
    if not (isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1):
        raise EnvError(
            f"env.name={name} has action space {action_space}: this package trains on a flat Box (act_dim,) "
            "or a Discrete(n)"
        )
    if not (np.isfinite(action_space.low).all() and np.isfinite(action_space.high).all()):
        raise EnvError(f"env.name={name} has unbounded actions {action_space}: a tanh policy needs finite bounds")


def dims(observation_space: gym.Space, action_space: gym.Space) -> tuple[int, int]:
    """(obs_dim, act_dim) of spaces that passed `check_spaces`; act_dim is n, the number of actions, for Discrete(n)."""
    assert observation_space.shape is not None
    if isinstance(action_space, gym.spaces.Discrete):
        return observation_space.shape[0], int(action_space.n)
    assert action_space.shape is not None
    return observation_space.shape[0], action_space.shape[0]


def is_discrete(action_space: gym.Space) -> bool:
    """True for a Discrete action space: the agent is discrete SAC and an action is one index."""
    return isinstance(action_space, gym.spaces.Discrete)


def _float32_box(space: gym.Space) -> gym.spaces.Box:
    assert isinstance(space, gym.spaces.Box)  # check_spaces ran first
    return gym.spaces.Box(space.low.astype(np.float32), space.high.astype(np.float32), dtype=np.float32)


class SeedFirstReset(gym.Wrapper):
    """Seeds the first reset (and the action space, which draws the warm-up actions); later resets
    continue the env's own RNG stream, so a run is reproducible from one integer."""

    def __init__(self, env: gym.Env, seed: int) -> None:
        super().__init__(env)
        self._seed: int | None = seed
        env.action_space.seed(seed)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        if seed is None:
            seed = self._seed
        self._seed = None
        return self.env.reset(seed=seed, options=options)
