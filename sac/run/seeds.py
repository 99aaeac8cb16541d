"""S seeds of one setting trained in one process: the seed axis over agents and replay, driven by the one loop
(train.py) as a `SeedLearner`.

    python scripts/train_sac.py env=Hopper seeds=[0,1,2,3]

Each seed writes an ordinary run directory, `seed<k>/` under the batch's own (which holds the batch's
config.yaml, so `resume=` of it resumes every seed): its config.yaml names its own seed, and its metrics,
W&B run and checkpoints are those of a single run of that seed, so evaluate.py, the reports and a relaunch
treat it as one.

Seed k starts as the single run of seed k does: its agent is built right after `torch.manual_seed(seed_k)`
(the same initial weights), its env and action space are seeded with seed_k (the same warm-up actions and
episodes), its replay buffer samples from its own generator seeded with seed_k and it evaluates on the same
start states. From the first update on, the noise of acting and updating comes from one global generator
for all seeds (vmap's randomness="different": each seed its own draws), so seed k continues as a draw from
the single run's distribution, not as the single run's draw.

The update (`SeedAxis`): every weight, Adam moment and log_alpha is stacked along a leading seed axis (S, ...);
the agent's own loss methods run on one seed's slice through `torch.func.functional_call`, vectorised over the
seeds with `torch.func.vmap`; each loss is the sum over seeds of that seed's mean, so each seed's gradient is its
own; Adam is elementwise, so one fused Adam over the stacks takes S Adam steps; one Polyak lerp updates every
target. With cudagraphs=true the whole batched update is one CUDA graph (speed.CudaGraphUpdate).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from sac.agent import actor_and_temperature_loss, update_step
from sac.batch import Batch
from sac.config import TrainConfig
from sac.run.checkpoint import CheckpointError, checkpoint_step
from sac.run.options import as_dict
from sac.run.replay import ReplayBuffer, allocate
from sac.run.rollout import ActFn
from sac.run.rundir import RunDir, seed_dir
from sac.run.session import SeedBatch, Session
from sac.run.train import Agent
from sac.speed import CudaGraphUpdate, adam, autocast, compile_losses


class _Parts(nn.Module):
    """One agent's trained parts as one module, so that `functional_call` can run the agent's own methods on
    any seed's parameters: `forward(kind, ...)` is its critic loss, its actor-and-temperature loss, or acting."""

    def __init__(self, agent: Agent) -> None:
        super().__init__()
        self.agent = [agent]  # in a list: not a submodule of its own (its parts are registered below)
        self.actor = agent.actor
        self.critic = agent.critic
        self.critic_target = agent.critic_target.net
        self.temperature = agent.temperature

    def forward(self, kind: str, *args: Any) -> Any:
        agent = self.agent[0]
        if kind == "critic":
            return agent.critic_loss(args[0])
        if kind == "actor":
            return actor_and_temperature_loss(agent, args[0])
        obs, deterministic = args
        return agent.actions(obs, deterministic)


class SeedAxis:
    """S agents of one config as one batched agent: parameters (S, ...) in `params`, by the names of `_Parts`.

    `agents` are the single-seed agents the batch was built from; they hold nothing between calls but are
    where a seed's slice goes to be saved (`export`) or comes from when resumed (`load_agents`), so a seed's
    checkpoint is exactly a single run's. `update(batch)` takes a batch with a leading seed axis (S, B, ...)
    and returns its metrics as (S,) device tensors.
    """

    def __init__(
        self, agents: list[Agent], compile: bool = False, cudagraphs: bool = False, bf16: bool = False
    ) -> None:
        self.agents = agents
        self.bf16 = bf16
        self.parts = _Parts(agents[0])
        self.tau = agents[0].cfg.tau
        names = {id(p): name for name, p in self.parts.named_parameters()}
        per_seed = [dict(_Parts(a).named_parameters()) for a in agents]
        self.params = {
            name: torch.stack([ps[name].detach() for ps in per_seed]).requires_grad_(p.requires_grad)
            for name, p in self.parts.named_parameters()
        }

        def mirror(optim: torch.optim.Optimizer) -> torch.optim.Adam:
            """Adam over the stacks, with the single agent's parameter groups in the single agent's order."""
            groups = [
                {"params": [self.params[names[id(p)]] for p in g["params"]], "lr": g["lr"]} for g in optim.param_groups
            ]
            return adam(groups, groups[0]["lr"], capturable=cudagraphs)

        self.actor_optim = mirror(agents[0].actor_optim)
        self.critic_optim = mirror(agents[0].critic_optim)
        self._targets = [p for name, p in self.params.items() if name.startswith("critic_target.")]
        self._critics = [self.params["critic." + name.removeprefix("critic_target.")] for name in self.params
                         if name.startswith("critic_target.")]  # fmt: skip
        # Seed k's views into the stacks, for acting one seed at a time (evaluation): every update and every load
        # writes the stacks in place, so the views stay current.
        self._slices = [{name: p[k] for name, p in self.params.items()} for k in range(len(agents))]
        self.updates = agents[0].updates
        critic = vmap(self._critic, randomness="different")
        actor = vmap(self._actor, randomness="different")
        self._critic_losses = compile_losses(critic) if compile else critic
        self._actor_losses = compile_losses(actor) if compile else actor
        self._act = vmap(self._act_one, in_dims=(0, 0, None), randomness="different")
        self._update = CudaGraphUpdate(self._device_update) if cudagraphs else self._device_update

    def _critic(self, params: dict[str, Tensor], batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        return functional_call(self.parts, params, ("critic", batch))

    def _actor(self, params: dict[str, Tensor], obs: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        return functional_call(self.parts, params, ("actor", obs))

    def _act_one(self, params: dict[str, Tensor], obs: Tensor, deterministic: bool) -> Tensor:
        return functional_call(self.parts, params, ("act", obs.unsqueeze(0), deterministic))[0]

    def update(self, batch: Batch) -> dict[str, Tensor]:
        """One gradient step of every seed on its own slice of `batch` (S, B, ...); metrics (S,) each."""
        metrics = self._update(batch)
        self.updates += 1
        return metrics

    def _device_update(self, batch: Batch) -> dict[str, Tensor]:
        """The single agents' `update_step`, each loss (S,) (each seed's mean over its batch) summed over the seeds
        so that each seed's gradient is its own; metrics (S,)."""

        def critic(b: Batch) -> tuple[Tensor, dict[str, Tensor]]:
            loss, metrics = self._critic_losses(self.params, b)
            return loss.sum(), metrics

        def actor(obs: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
            loss, metrics = self._actor_losses(self.params, obs)
            return loss.sum(), metrics

        metrics = update_step(critic, actor, self.critic_optim, self.actor_optim, batch,
                              self.params["temperature.log_alpha"], self._update_targets,
                              autocast(self.agents[0].device, self.bf16))  # fmt: skip
        return {key: value.detach() for key, value in metrics.items()}

    @torch.no_grad()
    def _update_targets(self) -> None:
        torch._foreach_lerp_(self._targets, self._critics, self.tau)

    @torch.no_grad()
    def act(self, obs: Tensor, deterministic: bool = False) -> Tensor:
        """One action per seed: obs (S, obs_dim) -> (S, act_dim), or (S,) action indices."""
        return self._act(self.params, obs, deterministic)

    @torch.no_grad()
    def act_seed(self, k: int, obs: np.ndarray, deterministic: bool = True) -> Any:
        """Seed k's action for one observation (obs_dim,), as its single agent's `act` returns it."""
        device = self.agents[k].device
        obs_t = torch.as_tensor(obs, device=device)[None]
        action = functional_call(self.parts, self._slices[k], ("act", obs_t, deterministic))
        return action[0].cpu().numpy() if action.dim() > 1 else int(action[0])

    @torch.no_grad()
    def export(self, k: int) -> Agent:
        """Seed k's slice copied into its single agent (weights, targets, log_alpha, Adam moments, update count)."""
        agent = self.agents[k]
        for name, p in _Parts(agent).named_parameters():
            p.copy_(self.params[name][k])
        for mine, theirs in ((self.actor_optim, agent.actor_optim), (self.critic_optim, agent.critic_optim)):
            state = mine.state_dict()
            moments = {i: {key: v[k] if key.startswith("exp_avg") else v for key, v in s.items()}
                       for i, s in state["state"].items()}  # fmt: skip
            theirs.load_state_dict({"state": moments, "param_groups": theirs.state_dict()["param_groups"]})
        agent.updates = self.updates
        return agent

    @torch.no_grad()
    def load_agents(self) -> None:
        """Stack the single agents' states into the batch (after each loaded its seed's checkpoint)."""
        per_seed = [dict(_Parts(a).named_parameters()) for a in self.agents]
        for name, stacked in self.params.items():
            stacked.copy_(torch.stack([ps[name] for ps in per_seed]))
        for mine, attr in ((self.actor_optim, "actor_optim"), (self.critic_optim, "critic_optim")):
            states = [getattr(a, attr).state_dict()["state"] for a in self.agents]
            if states[0]:
                moments = {i: {key: torch.stack([s[i][key] for s in states]) if key.startswith("exp_avg") else v
                               for key, v in first.items()} for i, first in states[0].items()}  # fmt: skip
                mine.load_state_dict({"state": moments, "param_groups": mine.state_dict()["param_groups"]})
        self.updates = self.agents[0].updates


class SeedReplay:
    """S replay buffers in tensors with a leading seed axis: each seed's `ReplayBuffer` writes its own slice and
    draws its own rows from its own generator; `sample` gathers all seeds' batches in one indexing op."""

    def __init__(self, seeds: list[int], obs_dim: int, act_columns: int, capacity: int, device: torch.device) -> None:
        self.storage = allocate(obs_dim, act_columns, capacity, device, seeds=len(seeds))
        self.buffers = [
            ReplayBuffer(
                obs_dim, act_columns, capacity, device, seed=seed, storage={n: t[k] for n, t in self.storage.items()}
            )
            for k, seed in enumerate(seeds)
        ]
        self.capacity = capacity
        self.device = device
        self._seed_index = torch.arange(len(seeds), device=device)[:, None]  # (S, 1)

    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
    ) -> None:
        """One transition per seed, as each seed's `ReplayBuffer.add` stores it, in one write per field: obs and
        next_obs (S, obs_dim), actions (S, act_dim) or (S,) indices, rewards, terminated, truncated (S,)."""
        rows = [b.advance(bool(te), bool(tr)) for b, te, tr in zip(self.buffers, terminated, truncated, strict=True)]
        i, j, write = (np.array(column) for column in zip(*rows, strict=True))

        def dev(x: np.ndarray, dtype: torch.dtype | None = None) -> Tensor:
            return torch.as_tensor(x, device=self.device, dtype=dtype)

        k, st = self._seed_index[:, 0], self.storage
        w = np.flatnonzero(write)  # the seeds whose s is not yet in row i: selected on the host, no device sync
        if w.size:
            st["obs"][dev(w), dev(i[w])] = dev(obs[w])
        rows_i = dev(i)
        st["action"][k, rows_i] = dev(actions, torch.float32).view(len(k), -1)
        st["reward"][k, rows_i] = dev(rewards, torch.float32)
        st["terminated"][k, rows_i] = dev(terminated)
        st["obs"][k, dev(j)] = dev(next_obs)

    def sample(self, batch_size: int) -> Batch:
        """Each seed's uniform batch: fields (S, B, ...), seed k's rows drawn as its buffer's `sample` draws them."""
        rows = np.stack([b.sample_rows(batch_size) for b in self.buffers])  # (S, B)
        r = torch.from_numpy(rows).to(self.device, non_blocking=True)
        s, st = self._seed_index, self.storage
        return Batch(
            obs=st["obs"][s, r],
            action=st["action"][s, r],
            reward=st["reward"][s, r],
            next_obs=st["obs"][s, (r + 1) % self.capacity],
            terminated=st["terminated"][s, r].float(),
        )


class SeedLearner:
    """S seeds batched in one model, as the loop (train.py) drives them: `SeedAxis` updates, `SeedReplay` stores
    and samples. `agents` and `buffers` are the seeds' single agents and buffers, as their checkpoints hold them."""

    def __init__(
        self, agents: list[Agent], replay: SeedReplay, compile: bool, cudagraphs: bool, bf16: bool = False
    ) -> None:
        self.axis = SeedAxis(agents, compile, cudagraphs, bf16)
        self.replay = replay
        self.agents, self.buffers = agents, replay.buffers
        self.device = agents[0].device
        self._metrics: dict[str, Tensor] = {}

    def act(self, obs: list[np.ndarray]) -> list[Any]:
        acted = self.axis.act(torch.as_tensor(np.stack(obs), device=self.device)).cpu().numpy()
        return [int(a) for a in acted] if acted.ndim == 1 else list(acted)

    def store(self, obs: list[np.ndarray], actions: list[Any], stepped: list[tuple[Any, ...]]) -> None:
        next_obs, rewards, terminated, truncated, _ = zip(*stepped, strict=True)
        self.replay.add(np.stack(obs), np.stack(actions), np.array(rewards), np.stack(next_obs), np.array(terminated),
                        np.array(truncated))  # fmt: skip

    def update(self, batch_size: int) -> None:
        self._metrics = self.axis.update(self.replay.sample(batch_size))

    def metrics(self, k: int) -> dict[str, Tensor]:
        return {key: v[k] for key, v in self._metrics.items()}

    def logged_metrics(self) -> list[Mapping[str, Tensor | float]]:
        """(S,) device tensors -> one dict of floats per seed, in one transfer to the host."""
        if not self._metrics:
            return [{} for _ in self.agents]
        values = torch.stack([v.float() for v in self._metrics.values()]).T.tolist()  # (S, metrics)
        return [dict(zip(self._metrics, row, strict=True)) for row in values]

    def export(self, k: int) -> Agent:
        return self.axis.export(k)

    def act_fn(self, k: int) -> ActFn:
        return lambda obs: self.axis.act_seed(k, obs)

    def resumed(self, metrics: list[dict[str, Tensor]]) -> None:
        self.axis.load_agents()
        if metrics[0]:
            self._metrics = {key: torch.stack([torch.as_tensor(m[key]) for m in metrics]) for key in metrics[0]}


def seed_sessions(
    c: TrainConfig, configs: list[TrainConfig], metas: list[dict[str, Any]], run_dir: Path, resume: bool
) -> list[Session]:
    """One session per seed, each in its run directory `run_dir/seed<k>` (the batch's own holds its config.yaml),
    sharing one list of stop requests; a resumed batch resumes every seed from the newest step all of them saved,
    so the continuation logs exactly what an uninterrupted batch would have (on a deterministic device)."""
    if not resume:
        RunDir(run_dir).create(as_dict(c))
    runs = [RunDir(seed_dir(run_dir, ck.seed)) for ck in configs]
    resume_from = _common_checkpoint(runs) if resume else None
    stop: list[int] = []  # one stop request (SIGINT / SIGTERM) stops every seed
    return [
        Session(run, ck, meta, resume, SeedBatch(stop, None if resume_from is None else
                                                 run.checkpoints / f"step_{resume_from:09d}", f"seed {ck.seed}", k))
        for k, (ck, meta, run) in enumerate(zip(configs, metas, runs, strict=True))
    ]  # fmt: skip


def _common_checkpoint(runs: list[RunDir]) -> int:
    """The newest step every seed saved: the seeds' latest checkpoints differ only if a crash fell between two
    seeds' saves, and the older step keeps its replay buffer until all have saved (checkpoint.drop_older_replays)."""
    missing = [run.path for run in runs if not run.latest.exists()]
    if missing:
        raise CheckpointError(f"cannot resume: {missing[0]} holds no checkpoint (the batch saved none)")
    return min(checkpoint_step(run.latest) for run in runs)
