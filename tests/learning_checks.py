"""The learning checks: training runs whose outcome is a random draw, and the rule each is judged by.

Floating-point results differ between CPUs (BLAS kernels, vector widths, thread counts) and training
amplifies the difference within a few thousand updates, so on another machine a check's run is another
draw from the distribution its seeds sample, not the number it gave here. Each check is therefore a
function from a seed to its statistics, measured over many seeds (`calibrate_learning_checks.py`, figures in
`benchmarks/measured/learning_checks/`), and passes when at least `need` of its `seeds` are within bounds,
with bounds and `need` chosen from that distribution so that correct code fails with probability below 1%.

`tests/test_learning.py` runs them, and `calibrate_learning_checks.py` beside it measures them: both run exactly the
same code.
Each run gets one torch thread in a worker process of its own; `CheckRuns` runs them side by side on the cores.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Statistics = dict[str, float]


@dataclass(frozen=True)
class Check:
    """A learning check: `run(seed)` trains and returns its statistics; one seed passes when every statistic in
    `bounds` is on the right side of its threshold ((">=", t) or ("<=", t)); the check passes when at least
    `need` of `seeds` pass."""

    run: Callable[[int], Statistics]
    bounds: dict[str, tuple[str, float]]
    seeds: tuple[int, ...]
    need: int

    def seed_passes(self, stats: Statistics) -> bool:
        return all(stats[k] >= t if op == ">=" else stats[k] <= t for k, (op, t) in self.bounds.items())


def pendulum_sac(policy: str, estimator: str, seed: int) -> Statistics:
    """SAC on Pendulum-v1, 10k steps (1k uniform), 64x64 networks, batch 128: the final greedy eval return
    over 10 start states. A random policy scores about -1200; one that has not learned to swing up stays
    below -700; a solved one about -150."""
    final = train_pendulum(policy=policy, actor_estimator=estimator, seed=seed)
    return {"eval_return": final["eval/return_mean"]}


def pendulum_sac_batched(batch: int, policy: str = "tanh_gaussian") -> Statistics:
    """`pendulum_sac(policy, "reparam", .)` for seeds 3b, 3b + 1, 3b + 2 trained as one batch in one process
    (`seeds=[...]`, sac/run/seeds.py): each seed's final greedy eval return and their median. Batches 0-7 are the
    24 seeds the single-seed check was measured on."""
    seeds = [3 * batch, 3 * batch + 1, 3 * batch + 2]
    final = train_pendulum(policy=policy, seeds=seeds, seeds_mode="batched")
    returns = {f"eval_return_seed{s}": final[f"seed{s}/eval/return_mean"] for s in seeds}
    return {"median_eval_return": sorted(returns.values())[1], **returns}


def train_pendulum(policy: str = "tanh_gaussian", actor_estimator: str = "reparam", **run: Any) -> Statistics:
    """The Pendulum checks' training run: the policy and estimator given, `run` the seed or seeds; its last eval."""
    from sac.config import AgentConfig, EnvConfig, TrainConfig, WandbConfig
    from sac.run.train_sac import train

    steps = 10_000
    agent = AgentConfig(hidden_sizes=[64, 64], batch_size=128, policy=policy, actor_estimator=actor_estimator)  # type: ignore[arg-type]
    c = TrainConfig(
        env=EnvConfig(name="Pendulum"),
        agent=agent,
        wandb=WandbConfig(mode="disabled"),
        device="cpu",
        total_steps=steps,
        learning_starts=1_000,
        eval_every=steps,
        eval_episodes=10,
        checkpoint_every=steps,
        checkpoint_buffer=False,
        **run,
    )
    with tempfile.TemporaryDirectory() as tmp:
        return train(c, Path(tmp))


def reinforce_inverted_pendulum(seed: int) -> Statistics:
    """REINFORCE with its value baseline on InvertedPendulum-v5, 300k steps: the greedy eval return over 5 episodes
    at the end (`eval_return`), at every 50k mark (`eval_return_<k>k`), and the best of those (`best_eval_return`).
    A random policy scores about 5, the maximum is 1000."""
    from sac.config import EnvConfig, ReinforceConfig, WandbConfig
    from sac.run.rundir import RunDir
    from sac.run.train_reinforce import train

    c = ReinforceConfig(
        env=EnvConfig(name="InvertedPendulum"),
        wandb=WandbConfig(mode="disabled"),
        seed=seed,
        total_steps=300_000,
        eval_every=50_000,
        eval_episodes=5,
        checkpoint_every=300_000,
    )
    with tempfile.TemporaryDirectory() as tmp:
        final = train(c, Path(tmp))
        # Keyed by the 50k mark each evaluation follows: a batch of whole episodes crosses it at a seed's own step.
        along = {f"eval_return_{r['step'] // 50_000 * 50}k": r["eval/return_mean"]
                 for r in RunDir(Path(tmp)).records() if "eval/return_mean" in r}  # fmt: skip
    # REINFORCE's return is not monotone (a solved seed can drop from 1000 to 350 by the next evaluation), so the
    # check asks that the policy learned to balance at some evaluation: the best of them.
    return {"eval_return": final["eval/return_mean"], "best_eval_return": max(along.values()), **along}


def vae_hopper(seed: int) -> Statistics:
    """The VAE state-encoder fitted to 2500 Hopper states (uniform random actions) for 1500 Adam steps: its
    loss on a fixed batch relative to its loss at initialisation, and its held-out reconstruction error
    relative to that of predicting the mean state (both 1 for a VAE that learned nothing)."""
    import torch

    from envs.make import make_env
    from sac.config import EncoderConfig, EnvConfig
    from sac.encoders import VAE

    torch.manual_seed(seed)
    env = make_env(EnvConfig(name="Hopper"), seed=seed)
    obs, _ = env.reset()
    states = []
    for _ in range(3000):
        states.append(torch.as_tensor(obs))
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    data = torch.stack(states)
    train, held_out = data[:2500], data[2500:]
    vae = VAE(data.shape[1], EncoderConfig(name="vae", latent_dim=8, hidden_sizes=[128, 128], kl_weight=0.1))
    vae.normalizer.update(train)
    optim = torch.optim.Adam(vae.parameters(), lr=1e-3)
    fixed = train[:256]
    with torch.no_grad():
        start = vae.loss(fixed, kl_weight=0.1)[0].item()
    for _ in range(1500):
        loss, _ = vae.loss(train[torch.randint(0, len(train), (256,))], kl_weight=0.1)
        optim.zero_grad()
        loss.backward()
        optim.step()
    with torch.no_grad():
        end = vae.loss(fixed, kl_weight=0.1)[0].item()
        target = vae.normalizer(held_out)
        error = (vae.decoder(vae.encode(held_out)[0]) - target).pow(2).sum(-1).mean().item()
        mean_error = (target - vae.normalizer(train).mean(0)).pow(2).sum(-1).mean().item()
    return {"loss_ratio": end / start, "reconstruction_ratio": error / mean_error}


def discrete_live_bias(seed: int) -> Statistics:
    """Not a training run but the same kind of statistic: `tests/test_discrete.py`'s live diagnostics (one batch of
    a small discrete agent, 256 estimates of each estimator against the exact gradient) with diagnostics seed
    `seed`: each estimator's bias_z, about 1 for an unbiased one."""
    from helpers import discrete_agent, discrete_batch

    from sac.estimators import discrete_gradient_diagnostics

    metrics = discrete_gradient_diagnostics(discrete_agent(), discrete_batch(64).obs, samples=256, seed=seed)
    return {f"{name}_bias_z": float(metrics[f"grad/{name}/bias_z"]) for name in ("score", "gumbel", "straight_through")}


def one_thread(run: Callable[[int], Statistics], seed: int) -> Statistics:
    """`run(seed)` with one torch thread: how every check's runs are measured and tested; adds its wall time in
    seconds (`seconds`, for the record: no rule reads it)."""
    import torch

    torch.set_num_threads(1)
    start = time.perf_counter()
    return run(seed) | {"seconds": round(time.perf_counter() - start, 1)}


class CheckRuns:
    """Every seed of the checks `names`, each run with one torch thread, `workers` at a time (default: the cores) in
    worker processes of their own (spawned, not forked, so nothing the parent imported or seeded reaches them; a
    worker takes the next run when it finishes one, and every run seeds itself), in the order of `names` (longest
    first, so that the workers finish together), from the moment this is made.

    `nice` lowers the workers' priority: the suite starts its learning checks at the session's start at nice 19
    (tests/conftest.py), so that their runs fill the core the other tests leave idle and yield it whenever a test
    needs it."""

    def __init__(self, names: Sequence[str], workers: int | None = None, nice: int = 0) -> None:
        self.jobs = [(name, seed) for name in names for seed in CHECKS[name].seeds]
        workers = workers or len(os.sched_getaffinity(0))
        self._pool = multiprocessing.get_context("spawn").Pool(workers, initializer=os.nice, initargs=(nice,))
        self._runs = [self._pool.apply_async(one_thread, (CHECKS[name].run, seed)) for name, seed in self.jobs]

    def results(self) -> dict[str, list[Statistics]]:
        """Waits for the runs; each check's statistics, in the order of its seeds."""
        runs: dict[str, list[Statistics]] = {name: [] for name, _ in self.jobs}
        for (name, _), run in zip(self.jobs, self._runs, strict=True):
            runs[name].append(run.get())
        return runs

    def close(self) -> None:
        """Stops the runs still going: a session that ends early does not wait for them."""
        self._pool.terminate()
        self._pool.join()


CHECKS: dict[str, Check] = {
    # One seed in 24 of each tanh-Gaussian check did not learn (-945, -1330): 2 of 3 seeds would fail 2.3% of the
    # time, 2 of 4 fail 0.4%. The Beta policy learned on all 24: 2 of 3 fail 0.8%.
    "sac-pendulum-tanh-reparam": Check(
        functools.partial(pendulum_sac, "tanh_gaussian", "reparam"), {"eval_return": (">=", -400.0)}, (0, 1, 2, 3), 2
    ),
    "sac-pendulum-tanh-score": Check(
        functools.partial(pendulum_sac, "tanh_gaussian", "score"), {"eval_return": (">=", -400.0)}, (0, 1, 2, 3), 2
    ),
    # Three seeds as one batch: its median is the middle seed, so the rule is "2 of 3 seeds >= -400" within one run,
    # which fails 1.2% of the time if a batched seed fails as often as a single one (1 in 24).
    "sac-pendulum-seeds-batched": Check(pendulum_sac_batched, {"median_eval_return": (">=", -400.0)}, (0,), 1),
    "sac-pendulum-beta": Check(
        functools.partial(pendulum_sac, "beta", "reparam"), {"eval_return": (">=", -400.0)}, (0, 1, 2), 2
    ),
    # The truncated normal and the Gaussian mixture: three seeds as one batch each (the single runs cost twice a
    # batched seed on a CPU, and the batch is their vmap path in training). All 24 seeds of each learned (worst
    # -198): 2 of 3 fail 0.8% of the time by counting, as for the Beta check.
    "sac-pendulum-truncated-normal": Check(
        functools.partial(pendulum_sac_batched, policy="truncated_normal"),
        {"median_eval_return": (">=", -400.0)},
        (0,),
        1,
    ),
    "sac-pendulum-gaussian-mixture": Check(
        functools.partial(pendulum_sac_batched, policy="gaussian_mixture"),
        {"median_eval_return": (">=", -400.0)},
        (0,),
        1,
    ),
    "reinforce-inverted-pendulum": Check(
        reinforce_inverted_pendulum, {"best_eval_return": (">=", 500.0)}, (0, 1, 2), 2
    ),
    "discrete-live-bias": Check(
        discrete_live_bias,
        {"score_bias_z": ("<=", 3.0), "gumbel_bias_z": (">=", 5.0), "straight_through_bias_z": (">=", 5.0)},
        (0,),
        1,
    ),
    "vae-hopper": Check(vae_hopper, {"loss_ratio": ("<=", 0.5), "reconstruction_ratio": ("<=", 0.25)}, (0,), 1),
}
