"""Environment construction: short names -> Gymnasium ids, and one visible wrapper stack.

Imports nothing from `sac`: the agent sees only float32 observations and actions in [-1, 1].
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Protocol

# Headless defaults, set before MuJoCo or pygame are imported: MuJoCo renders offscreen through EGL
# (MUJOCO_GL=osmesa is the fallback without EGL), and pygame skips its banner.
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv  # noqa: E402
from gymnasium.wrappers import RecordEpisodeStatistics, RescaleAction, TransformObservation  # noqa: E402

ENV_IDS: dict[str, str] = {
    "HalfCheetah": "HalfCheetah-v5",
    "Hopper": "Hopper-v5",
    "Walker2d": "Walker2d-v5",
    "Ant": "Ant-v5",
    "Humanoid": "Humanoid-v5",
    "Swimmer": "Swimmer-v5",
    "Reacher": "Reacher-v5",
    "Pusher": "Pusher-v5",
    "InvertedPendulum": "InvertedPendulum-v5",
    "InvertedDoublePendulum": "InvertedDoublePendulum-v5",
    "Pendulum": "Pendulum-v1",
}


class UnknownEnvError(ValueError):
    """The env name is neither a short name nor a registered Gymnasium id."""


class EnvSpec(Protocol):
    name: str
    max_episode_steps: int | None


def env_id(name: str) -> str:
    """Short name or Gymnasium id -> Gymnasium id."""
    if name in ENV_IDS:
        return ENV_IDS[name]
    if name in gym.registry:
        return name
    raise UnknownEnvError(f"env.name={name} is unknown: allowed are {', '.join(ENV_IDS)} or a registered Gymnasium id")


def make_env(cfg: EnvSpec, seed: int, render_mode: str | None = None, **kwargs: Any) -> gym.Env:
    """Build the env with the wrapper stack, innermost first, and seed it.

    The returned env has float32 observations, actions in [-1, 1] (mapped once, here, to the env's
    bounds), `info["episode"]` at episode ends, and a first `reset()` that uses `seed`.
    """
    env = gym.make(env_id(cfg.name), max_episode_steps=cfg.max_episode_steps, render_mode=render_mode, **kwargs)
    if not isinstance(env.action_space, gym.spaces.Box):
        raise UnknownEnvError(f"env.name={cfg.name} has a {type(env.action_space).__name__} action space: SAC needs Box")
    env = RecordEpisodeStatistics(env)
    with warnings.catch_warnings():  # RescaleAction casts its own float64 bounds to float32 and warns about it
        warnings.filterwarnings("ignore", message=".*precision lowered by casting to float32")
        env = RescaleAction(env, min_action=-1.0, max_action=1.0)
    env = TransformObservation(env, lambda obs: obs.astype(np.float32), _float32_box(env.observation_space))
    env = SeedFirstReset(env, seed)
    return env


def _float32_box(space: gym.Space) -> gym.spaces.Box:
    assert isinstance(space, gym.spaces.Box), f"observations must be a Box, got {space}"
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


def get_env_state(env: gym.Env) -> dict[str, Any]:
    """Everything needed to continue an episode exactly, as plain JSON data.

    The simulator state (MuJoCo's full integration state, or a classic-control env's `state`), the
    env's and the action space's RNG states, and the plain counters of every wrapper (time-limit
    step count, running episode return, ...). Nothing here is pickled.
    """
    layers, e = [], env
    while True:
        layers.append({k: _encode(v) for k, v in vars(e).items() if _is_plain(v)})
        if not isinstance(e, gym.Wrapper):
            break
        e = e.env
    state: dict[str, Any] = {
        "layers": layers,
        "np_random": e.np_random.bit_generator.state,
        "action_space_rng": env.action_space.np_random.bit_generator.state,
    }
    if isinstance(e, MujocoEnv):
        import mujoco

        buffer = np.empty(mujoco.mj_stateSize(e.model, mujoco.mjtState.mjSTATE_INTEGRATION))
        mujoco.mj_getState(e.model, e.data, buffer, mujoco.mjtState.mjSTATE_INTEGRATION)
        state["mujoco"] = buffer.tolist()
    return state


def set_env_state(env: gym.Env, state: dict[str, Any]) -> None:
    """Inverse of `get_env_state` on an env built by `make_env` with the same config."""
    e, layers = env, iter(state["layers"])
    while True:
        for key, value in next(layers).items():
            setattr(e, key, _decode(value))
        if not isinstance(e, gym.Wrapper):
            break
        e = e.env
    e.np_random.bit_generator.state = state["np_random"]
    env.action_space.np_random.bit_generator.state = state["action_space_rng"]
    if "mujoco" in state:
        import mujoco

        buffer = np.asarray(state["mujoco"], dtype=np.float64)
        mujoco.mj_setState(e.model, e.data, buffer, mujoco.mjtState.mjSTATE_INTEGRATION)


def _is_plain(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biuf" and value.size <= 10_000
    return value is None or isinstance(value, (bool, int, float, str, np.number, np.bool_))


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": str(value.dtype)}
    return value.item() if isinstance(value, (np.number, np.bool_)) else value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "ndarray" in value:
        return np.asarray(value["ndarray"], dtype=value["dtype"])
    return value
