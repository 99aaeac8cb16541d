"""Learning curves of this package's SAC and Stable-Baselines3's SAC: same settings, envs and seeds.

    python benchmarks/learning_curves.py                          # Hopper + HalfCheetah, 3 seeds, 50k steps
    python benchmarks/learning_curves.py --libs sb3 --jobs 1      # only SB3's runs (e.g. while you work)
    python benchmarks/learning_curves.py --libs none              # only redraw from the finished runs
    python benchmarks/learning_curves.py --libs ours ours-beta    # the Beta policy next to the tanh-Gaussian
    python benchmarks/learning_curves.py --libs ours-truncated-normal ours-gaussian-mixture --envs Hopper
    python benchmarks/learning_curves.py --envs Hopper --seeds 0 1 2 3 4 --learning-starts 10000 --eval-episodes 10
                                                                  # the RL Zoo's protocol, as issue 12 states it

Every run gets one torch thread in a process of its own (`--jobs` at a time) and writes
`OUT/runs/<lib>_<env>_seed<seed>.csv` (step, eval return) when it finishes (SB3's runs also their own training
log, ent_coef and losses, in `OUT/runs/sb3_<env>_seed<seed>_sb3_log/progress.csv`); a finished run is not
run again, so the two libraries can be run at different times. Both evaluate the deterministic policy
every `--eval-every` steps on `--eval-episodes` episodes of an env of their own. Then the script writes
`OUT/learning_curves.csv` (all evaluations of all runs), `OUT/learning_curves.png` (mean and min-max
over seeds per env) and prints the final return per env and library: mean ± std over seeds, and the
interquartile mean with its 95% bootstrap CI (sac/analysis/stats.py; Agarwal et al. 2021).
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

# This package's libraries: agent.policy of each.
POLICIES = {"ours": "tanh_gaussian", "ours-beta": "beta", "ours-truncated-normal": "truncated_normal",
            "ours-gaussian-mixture": "gaussian_mixture"}  # fmt: skip
LIBS = {
    "ours": "this package",
    "ours-beta": "this package, Beta policy",
    "ours-truncated-normal": "this package, truncated-normal policy",
    "ours-gaussian-mixture": "this package, Gaussian-mixture policy",
    "sb3": "Stable-Baselines3",
}
# Shared by both libraries; the rest is each library's SAC default (auto entropy, target entropy -act_dim).
SETTINGS = {"learning_rate": 3e-4, "batch_size": 256, "tau": 0.005, "gamma": 0.99, "hidden": [256, 256]}


def run_ours(
    env: str, seed: int, steps: int, learning_starts: int, eval_every: int, episodes: int, policy: str = "tanh_gaussian"
) -> list[tuple[int, float]]:
    from sac.config import AgentConfig, EnvConfig, PolicyName, TrainConfig, WandbConfig
    from sac.run.rundir import RunDir, series
    from sac.run.train_sac import train

    with tempfile.TemporaryDirectory() as tmp:
        c = TrainConfig(
            env=EnvConfig(name=env),
            agent=AgentConfig(
                hidden_sizes=SETTINGS["hidden"],
                batch_size=SETTINGS["batch_size"],
                actor_lr=SETTINGS["learning_rate"],
                critic_lr=SETTINGS["learning_rate"],
                alpha_lr=SETTINGS["learning_rate"],
                tau=SETTINGS["tau"],
                gamma=SETTINGS["gamma"],
                policy=PolicyName(policy),
            ),
            wandb=WandbConfig(mode="disabled"),
            device="cpu",
            seed=seed,
            total_steps=steps,
            learning_starts=learning_starts,
            buffer_size=steps,
            eval_every=eval_every,
            eval_episodes=episodes,
            checkpoint_every=steps,
            checkpoint_buffer=False,
        )
        train(c, Path(tmp))
        steps, returns = series(RunDir(Path(tmp)).records(), "eval/return_mean")
    return list(zip(steps.tolist(), returns.tolist(), strict=True))


def run_sb3(
    env: str, seed: int, steps: int, learning_starts: int, eval_every: int, episodes: int, log_dir: Path | None = None
) -> list[tuple[int, float]]:
    """SB3's SAC; with `log_dir`, its own training log (ent_coef, losses, every 4 episodes) goes to
    `log_dir/progress.csv`, to compare the temperature and losses with this package's metrics.jsonl."""
    import gymnasium as gym
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import configure

    from envs import env_id
    from sac.run.rollout import EVAL_SEED_OFFSET, run_episodes

    eval_env = gym.make(env_id(env))
    curve: list[tuple[int, float]] = []

    class Evaluate(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % eval_every == 0 or self.num_timesteps == steps:
                policy = lambda o: self.model.predict(o, deterministic=True)[0]  # noqa: E731
                returns, _ = run_episodes(eval_env, policy, episodes, seed=seed + EVAL_SEED_OFFSET)
                curve.append((self.num_timesteps, float(returns.mean())))
            return True

    model = SAC(
        "MlpPolicy",
        gym.make(env_id(env)),
        learning_rate=SETTINGS["learning_rate"],
        buffer_size=steps,
        learning_starts=learning_starts,
        batch_size=SETTINGS["batch_size"],
        tau=SETTINGS["tau"],
        gamma=SETTINGS["gamma"],
        train_freq=1,
        gradient_steps=1,
        policy_kwargs={"net_arch": SETTINGS["hidden"]},
        device="cpu",
        seed=seed,
        verbose=0,
    )
    if log_dir is not None:
        model.set_logger(configure(str(log_dir), ["csv"]))
    model.learn(total_timesteps=steps, callback=Evaluate())
    eval_env.close()
    return curve


def one_run(lib: str, env: str, seed: int, args: argparse.Namespace, path: Path) -> Path:
    """Run one (library, env, seed) with one thread and write its curve to `path`."""
    import torch

    torch.set_num_threads(1)
    settings = (env, seed, args.steps, args.learning_starts, args.eval_every, args.eval_episodes)
    if lib == "sb3":
        curve = run_sb3(*settings, log_dir=path.with_name(f"{path.stem}_sb3_log"))
    else:
        curve = run_ours(*settings, policy=POLICIES[lib])
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        csv.writer(f).writerows([("step", "return"), *curve])
    os.replace(tmp, path)  # a run killed half-way leaves no CSV and runs again next time
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=["Hopper", "HalfCheetah"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--libs", nargs="+", default=["ours", "sb3"], choices=[*LIBS, "none"])
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--learning-starts", type=int, default=5_000)
    parser.add_argument("--eval-every", type=int, default=5_000)
    parser.add_argument("--eval-episodes", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/learning_curves"))
    args = parser.parse_args()
    runs_dir = args.out / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)

    todo = [
        (lib, env, seed, runs_dir / f"{lib}_{env}_seed{seed}.csv")
        for lib in args.libs
        if lib != "none"
        for env in args.envs
        for seed in args.seeds
    ]
    todo = [t for t in todo if not t[3].exists()]
    if todo:
        print(f"{len(todo)} runs of {args.steps} steps, {args.jobs} at a time")
        # spawn: a fresh interpreter per worker, no forked OpenMP state.
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            for done in [pool.submit(one_run, *t[:3], args, t[3]) for t in todo]:
                print(f"  finished {done.result().name}")
    report(args, runs_dir)


def report(args: argparse.Namespace, runs_dir: Path) -> None:
    """The combined CSV, the PNG and the final-return table, from whatever runs have finished."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    fig, axes = plt.subplots(1, len(args.envs), figsize=(5 * len(args.envs), 3.6), squeeze=False)
    from sac.analysis.runs import read_curve_csv
    from sac.analysis.stats import iqm_ci

    print(f"final eval return at {args.steps} steps: mean ± std over seeds; IQM [95% bootstrap CI]")
    for ax, env in zip(axes[0], args.envs, strict=True):
        for lib, label in LIBS.items():
            found = {s: runs_dir / f"{lib}_{env}_seed{s}.csv" for s in args.seeds}
            by_seed = {s: read_curve_csv(p) for s, p in found.items() if p.exists()}
            if not by_seed:
                continue
            for seed, (steps, returns) in by_seed.items():
                rows += [(lib, env, seed, int(t), float(r)) for t, r in zip(steps, returns, strict=True)]
            curves = list(by_seed.values())
            n = min(len(s) for s, _ in curves)
            steps, returns = curves[0][0][:n], np.stack([r[:n] for _, r in curves])  # (seeds, evals)
            ax.plot(steps, returns.mean(0), label=f"{label} ({len(curves)} seeds)")
            ax.fill_between(steps, returns.min(0), returns.max(0), alpha=0.2)
            final = returns[:, -1]
            point, low, high = iqm_ci(final)
            print(
                f"  {env:<12} {label:<27} {final.mean():8.1f} ± {final.std():6.1f}; IQM {point:.1f} "
                f"[{low:.1f}, {high:.1f}]  (seeds: {np.round(final, 1).tolist()})"
            )
        ax.set(title=env, xlabel="env steps", ylabel="eval return")
        ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "learning_curves.png", dpi=120)
    with (args.out / "learning_curves.csv").open("w", newline="") as f:
        csv.writer(f).writerows([("library", "env", "seed", "step", "return"), *rows])
    print(f"wrote {args.out / 'learning_curves.png'} and {args.out / 'learning_curves.csv'}")


if __name__ == "__main__":
    main()
