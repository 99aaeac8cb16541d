"""Environments by short name. Imports nothing from `sac`, and gymnasium only when an env is built or looked up.

envs.env_id("Hopper")                   -> "Hopper-v5"
envs.make.make_env(cfg, seed)           -> the env with its wrapper stack (envs/make.py)
envs.state.get_env_state(env)           -> what exact resume needs, as JSON (envs/state.py)
"""

from __future__ import annotations

# The tasks a user names on the command line (`env=Hopper`); any registered Gymnasium id works too
# (`env.name=Hopper-v4`). Every MuJoCo task runs with the same SAC hyperparameters, as in the SAC paper
# (Haarnoja et al. 2018, appendix D), and Gymnasium's own horizons: a name is all a task needs.
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
    # Discrete actions: SAC with a categorical actor (sac/discrete.py).
    "CartPole": "CartPole-v1",
    "Acrobot": "Acrobot-v1",
    "LunarLander": "LunarLander-v3",
}


class EnvError(ValueError):
    """The env cannot be built or trained on: an unknown name, a missing dependency, unsupported spaces."""


def env_id(name: str) -> str:
    """Short name or Gymnasium id -> Gymnasium id; EnvError for a name that is neither."""
    if name in ENV_IDS:
        return ENV_IDS[name]
    import gymnasium as gym  # deferred: only a full id needs the registry

    if name in gym.registry:
        return name
    raise EnvError(f"env.name={name} is unknown: allowed are {', '.join(ENV_IDS)} or a registered Gymnasium id")
