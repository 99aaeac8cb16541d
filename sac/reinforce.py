"""REINFORCE with a learned value baseline: the score-function (log-derivative) estimator on whole episodes.

    grad J = E[ sum_t grad log pi(a_t|s_t) * (G_t - V(s_t)) ],   G_t = sum_{t' >= t} gamma^(t'-t) r_t'

The policy is a Gaussian with a state-dependent mean and a state-independent log-std (the classic
REINFORCE/TRPO parameterisation): unsquashed, so log pi is exact for the sampled action, which is
clipped to [-1, 1] only on its way to the env. Episodes cut by a time limit are bootstrapped with
V(final state); terminal ones are not. Advantages are normalised per batch.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn
from torch.distributions import Normal

from envs import EnvError, env_id
from envs.make import dims, is_discrete, make_env
from envs.state import get_env_state, set_env_state
from sac.checkpoint import restore
from sac.cli import resolve_device
from sac.config import ReinforceAgentConfig, ReinforceConfig, as_dict, validate_reinforce
from sac.loop import Session, Snapshot, Throughput, rng_state, set_rng_state
from sac.networks import mlp
from sac.rundir import Identity, RunDir


class GaussianPolicy(nn.Module):
    """obs (B, obs_dim) -> N(mean(obs), diag(exp(log_std))^2) over (B, act_dim)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden_sizes: list[int], init_log_std: float) -> None:
        super().__init__()
        self.mean = mlp(obs_dim, hidden_sizes, act_dim)
        self.log_std = nn.Parameter(torch.full((act_dim,), init_log_std))

    def forward(self, obs: Tensor) -> Normal:
        return Normal(self.mean(obs), self.log_std.exp())


def reward_to_go(rewards: np.ndarray, gamma: float, bootstrap: float) -> np.ndarray:
    """G_t = r_t + gamma * G_{t+1}, with G_T = bootstrap (0 at a terminal state, V(s_T) at a time limit). (T,)"""
    returns = np.empty(len(rewards))
    running = bootstrap
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


class Reinforce:
    def __init__(self, obs_dim: int, act_dim: int, cfg: ReinforceAgentConfig, device: torch.device) -> None:
        self.cfg = cfg
        self.device = device
        self.policy = GaussianPolicy(obs_dim, act_dim, cfg.hidden_sizes, cfg.init_log_std).to(device)
        self.value = mlp(obs_dim, cfg.hidden_sizes, 1).to(device)
        self.policy_optim = torch.optim.Adam(self.policy.parameters(), lr=cfg.policy_lr)
        self.value_optim = torch.optim.Adam(self.value.parameters(), lr=cfg.value_lr)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Actions (N, act_dim), unclipped, for observations (N, obs_dim)."""
        dist = self.policy(torch.as_tensor(obs, device=self.device))
        return (dist.mean if deterministic else dist.sample()).cpu().numpy()

    @torch.no_grad()
    def state_value(self, obs: np.ndarray) -> float:
        return float(self.value(torch.as_tensor(obs, device=self.device).unsqueeze(0)))

    def update(self, obs: Tensor, actions: Tensor, returns: Tensor) -> dict[str, Tensor]:
        """One policy-gradient step and a value fit on a batch of whole episodes (T, ...)."""
        with torch.no_grad():
            advantages = returns - self.value(obs).squeeze(-1)  # (T,)
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        dist = self.policy(obs)
        logp = dist.log_prob(actions).sum(-1)  # (T,)
        policy_loss = -(logp * advantages).mean()
        self.policy_optim.zero_grad()
        policy_loss.backward()
        self.policy_optim.step()

        value_losses = []
        for _ in range(self.cfg.value_epochs):
            for idx in torch.randperm(len(obs), device=obs.device).split(self.cfg.value_minibatch):
                value_loss = 0.5 * (self.value(obs[idx]).squeeze(-1) - returns[idx]).pow(2).mean()
                self.value_optim.zero_grad()
                value_loss.backward()
                self.value_optim.step()
                value_losses.append(value_loss.detach())
        with torch.no_grad():
            residual = returns - self.value(obs).squeeze(-1)
        return {
            "train/policy_loss": policy_loss.detach(),
            "train/value_loss": torch.stack(value_losses).mean(),
            "train/explained_variance": 1.0 - residual.var() / returns.var().clamp_min(1e-8),
            "train/entropy": dist.entropy().sum(-1).mean().detach(),
            "train/log_std": self.policy.log_std.mean().detach(),
        }

    def parameter_groups(self) -> dict[str, list[Tensor]]:
        """The trained parameters by part, for the NaN guard."""
        return {"policy": list(self.policy.parameters()), "value": list(self.value.parameters())}

    def state_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.state_dict(),
            "value": self.value.state_dict(),
            "policy_optim": self.policy_optim.state_dict(),
            "value_optim": self.value_optim.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.value.load_state_dict(state["value"])
        self.policy_optim.load_state_dict(state["policy_optim"])
        self.value_optim.load_state_dict(state["value_optim"])


def train(c: ReinforceConfig, run_dir: Path, resume: bool = False) -> dict[str, float]:
    """Collect batches of whole episodes from vector envs and update; returns the last eval metrics.

    Batches start from a fresh reset of every sub-env, so a checkpoint (always between batches) needs
    only the networks, optimizers, RNG states and each sub-env's RNG to continue exactly (`resume`).
    """
    validate_reinforce(c)
    device = resolve_device(c.device)
    torch.manual_seed(c.seed)
    # SAME_STEP autoreset: a finished sub-env is reset inside the step that ends it, and its last
    # observation (needed to bootstrap a time limit) comes back in info["final_obs"].
    envs = gym.vector.SyncVectorEnv(
        [functools.partial(make_env, c.env, seed=c.seed + i) for i in range(c.num_envs)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    try:
        if is_discrete(envs.single_action_space):
            raise EnvError(
                f"env.name={c.env.name} has discrete actions: REINFORCE here trains a Gaussian policy on Box actions "
                "(train_sac.py trains discrete SAC)"
            )
        obs_dim, act_dim = dims(envs.single_observation_space, envs.single_action_space)
        agent = Reinforce(obs_dim, act_dim, c.agent, device)
        meta = {**Identity("reinforce", "gaussian", "score").fields(), "env_id": env_id(c.env.name), "obs_dim": obs_dim,
                "act_dim": act_dim, "config": as_dict(c)}  # fmt: skip
        session = Session(RunDir(run_dir), c, meta, resume)
        if session.resumed is not None:
            restore(agent, session.resumed.state["agent"], session.run.latest)
            set_rng_state(session.resumed.state, device)
            for env, state in zip(envs.envs, session.resumed.loop["envs"], strict=True):
                set_env_state(env, state)

        def policy(obs: np.ndarray) -> np.ndarray:
            return np.clip(agent.act(obs[None], deterministic=True)[0], -1.0, 1.0)

        def snapshot() -> Snapshot:
            loop = {"envs": [get_env_state(env) for env in envs.envs]}
            return Snapshot({"agent": agent.state_dict(), **rng_state(device)}, loop, None, agent.parameter_groups())

        step = session.start_step
        with session:
            while step < c.total_steps:
                before, throughput = step, Throughput(step)
                episodes, taken = collect_episodes(envs, agent, c, session, before)
                step += taken
                batch = [
                    torch.as_tensor(np.concatenate(x), dtype=torch.float32, device=device)
                    for x in zip(*episodes, strict=True)
                ]
                metrics = agent.update(*batch)
                session.log(step, {**metrics, "perf/steps_per_sec": throughput.rate(step)})
                session.evaluate(before, step, policy)
                session.checkpoint(before, step, snapshot)
                if session.stop_requested:
                    session.stop(step, snapshot)
                    return session.eval_metrics
            session.finished = True
            return session.eval_metrics
    finally:
        envs.close()


def collect_episodes(
    envs: gym.vector.VectorEnv, agent: Reinforce, c: ReinforceConfig, session: Session, step: int
) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], int]:
    """Step all envs from a fresh reset until the ended episodes hold `batch_steps` steps.

    Returns ([(obs (T, obs_dim), actions (T, act_dim), returns (T,)) per episode], env steps taken).
    Episodes still running at the end are discarded, so every sample comes from the current policy.
    """
    n = envs.num_envs
    obs, _ = envs.reset()
    paths: list[dict[str, list[Any]]] = [{"obs": [], "act": [], "rew": []} for _ in range(n)]
    episodes: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    taken, in_episodes = 0, 0
    while in_episodes < c.batch_steps:
        actions = agent.act(obs)
        next_obs, rewards, terminated, truncated, info = envs.step(np.clip(actions, -1.0, 1.0))
        taken += n
        for i in range(n):
            paths[i]["obs"].append(obs[i])
            paths[i]["act"].append(actions[i])
            paths[i]["rew"].append(rewards[i])
            if terminated[i] or truncated[i]:
                rew = np.asarray(paths[i]["rew"])
                bootstrap = 0.0 if terminated[i] else agent.state_value(info["final_obs"][i])
                returns = reward_to_go(rew, c.agent.gamma, bootstrap)
                episodes.append((np.stack(paths[i]["obs"]), np.stack(paths[i]["act"]), returns))
                in_episodes += len(rew)
                session.logger.log(
                    step + taken, {"train/episode_return": float(rew.sum()), "train/episode_length": len(rew)}
                )
                paths[i] = {"obs": [], "act": [], "rew": []}
        obs = next_obs
    return episodes, taken
