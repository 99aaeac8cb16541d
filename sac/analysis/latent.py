"""What a saved VAE state-encoder's latent keeps of each state dimension.

The ELBO's reconstruction term is one number summed over the state's dimensions (`vae/recon_loss`); it does not
say *which* dimensions the latent gives up. Here each dimension of the normalised state gets the share of its variance
that the decoder recovers from the posterior mean,

    R^2_d = 1 - E[(decoder(mu(s))_d - s_norm,d)^2] / Var[s_norm,d]                (over the states given)

the coefficient of determination of the reconstruction: 1 when the latent keeps the dimension, 0 when the decoder
can do no better than its mean. The mean, not a sample: it is what the actor acts on (and, with
`encoder.latent=mean`, what actor and critics train on).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import torch
from torch import Tensor

from sac.encoders import VAE


def explained_variance(target: Tensor, prediction: Tensor) -> Tensor:
    """R^2 per dimension of `prediction` against `target`, both (N, D) -> (D,); variances with 1/N."""
    residual = (prediction - target).pow(2).mean(0)
    return 1.0 - residual / target.var(0, unbiased=False)


@torch.no_grad()
def reconstruction_r2(vae: VAE, obs: Tensor) -> Tensor:
    """R^2 per state dimension of the VAE's reconstruction from the posterior mean, on raw states (N, obs_dim)
    -> (obs_dim,); states normalised by the VAE's own running statistics, as its loss does."""
    mu, _ = vae.encode(obs)
    return explained_variance(vae.normalizer(obs), vae.decoder(mu))


def replay_states(replay: dict[str, Tensor]) -> Tensor:
    """A checkpoint's replay buffer (sac/run/replay.py's state) -> the states transitions start from, oldest first
    (N, obs_dim): what the VAE's batches are drawn from."""
    capacity = replay["obs"].shape[0]
    order = (int(replay["ptr"]) + torch.arange(capacity)) % capacity  # a ring: the row after ptr is the oldest
    order = order[replay["has_next"][order]]
    return replay["obs"][order]


def state_names(env: gym.Env[Any, Any]) -> list[str]:
    """Names of a MuJoCo locomotion task's state dimensions, e.g. HalfCheetah-v5's 17: `rootz`, ..., `ffoot`,
    `rootx_vel`, ..., `ffoot_vel`. Those tasks observe qpos without the forward position, then qvel (Gymnasium's
    default `exclude_current_positions_from_observation`); any other task (free joints, contact forces, no MuJoCo)
    gets `s[i]`."""
    model = getattr(env.unwrapped, "model", None)
    obs_dim = env.observation_space.shape[0]  # type: ignore[index]
    if not isinstance(model, mujoco.MjModel) or not model.nq == model.nv == model.njnt or obs_dim != 2 * model.njnt - 1:
        return [f"s[{i}]" for i in range(obs_dim)]
    joints = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in range(model.njnt)]
    return joints[1:] + [f"{name}_vel" for name in joints]
