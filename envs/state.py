"""An env's full state as plain JSON data, for exact resume: simulator, RNGs and wrapper counters."""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv


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
    if hasattr(e, "world"):  # a Box2D world (LunarLander, BipedalWalker): bodies and joints, not plain data
        state["box2d"] = True
    if isinstance(e, MujocoEnv):
        import mujoco

        buffer = np.empty(mujoco.mj_stateSize(e.model, mujoco.mjtState.mjSTATE_INTEGRATION))
        mujoco.mj_getState(e.model, e.data, buffer, mujoco.mjtState.mjSTATE_INTEGRATION)
        state["mujoco"] = buffer.tolist()
    return state


def set_env_state(env: gym.Env, state: dict[str, Any]) -> np.ndarray | None:
    """Inverse of `get_env_state` on an env built by `make_env` with the same config.

    Returns None when the episode in progress continues exactly. A Box2D world cannot be rebuilt from
    plain data, so for a Box2D env the RNGs are restored and a new episode starts: its first
    observation is returned, and the resumed run is reproducible but not identical to an uninterrupted one.
    """
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

        assert isinstance(e, MujocoEnv), "a MuJoCo state restores into a MuJoCo env only"
        buffer = np.asarray(state["mujoco"], dtype=np.float64)
        mujoco.mj_setState(e.model, e.data, buffer, mujoco.mjtState.mjSTATE_INTEGRATION)
    if state.get("box2d"):
        warnings.warn(
            "a Box2D env cannot restore its episode in progress: the resumed run starts a new one", stacklevel=2
        )
        obs, _ = env.reset()
        return np.asarray(obs)
    return None


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
