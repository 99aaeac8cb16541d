"""The estimator lab: every actor-gradient estimator of this package trained and measured on the same tasks.

    python benchmarks/estimator_lab.py                                  # Pendulum, Hopper, CartPole; seeds 0-2
    python benchmarks/estimator_lab.py --envs CartPole --seeds 0 1 --scale 0.2   # a quick look
    python benchmarks/estimator_lab.py --report-only                    # redraw from the finished runs

Per env it trains SAC once per estimator and seed: on a continuous env the tanh-Gaussian, Beta, truncated-normal and
Gaussian-mixture policies (`--policies` picks), each with its pathwise (`reparam`) and the score-function actor
gradient; on a discrete env the exact, score,
Gumbel-softmax and straight-through gradients. Every run logs diagnostics (`grad/...`), which measure all of its
policy's estimators on the same replay batch. Each run is a process of its own with one torch thread, `--jobs` at
a time (joblib), in `--runs-dir/<env>/<algorithm>_seed<seed>`; a finished run is not run again. Then
`compare_estimators`' report goes to `--out`: `estimators.csv` and `report.html` hold the table of every estimator
per env (bias, total variance, SNR, critic evaluations, variance x cost, ms per estimate, and the IQM of the final
eval return with its 95% bootstrap CI), next to the W&B report spec and the PNG panels.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from joblib import Parallel, delayed

from sac.run.rundir import RunDir, Status

ROOT = Path(__file__).resolve().parents[1]

# env -> (env steps per run, env steps between diagnostics), sized so that the lab of the first two policies (36
# runs of the package's default SAC, 256x256) took 40 minutes on two cores; --scale multiplies both. These are
# early-training budgets: the bias and variance columns are the point, the returns are where learning stands.
BUDGETS = {"Pendulum": (6_000, 1_000), "CartPole": (8_000, 2_000), "Hopper": (6_000, 1_500)}
POLICIES = ["tanh_gaussian", "beta", "truncated_normal", "gaussian_mixture"]
CONTINUOUS = [[f"agent.policy={p}", f"agent.actor_estimator={e}"] for p in POLICIES for e in ("reparam", "score")]
DISCRETE = [[f"agent.discrete.estimator={e}"] for e in ("exact", "score", "gumbel", "straight_through")]
DISCRETE_ENVS = {"CartPole", "Acrobot", "LunarLander"}


def plan(
    envs: list[str], seeds: list[int], scale: float, runs_dir: Path, policies: list[str] = POLICIES
) -> list[tuple[Path, list[str]]]:
    """(run directory, train_sac.py overrides) for every env, estimator and seed; continuous envs' runs for
    `policies` only."""
    runs = []
    for env in envs:
        steps, every = BUDGETS.get(env, (15_000, 2_500))
        steps, every = max(int(steps * scale), 2_000), max(int(every * scale), 500)
        continuous = [v for v in CONTINUOUS if v[0].removeprefix("agent.policy=") in policies]
        for variant in DISCRETE if env in DISCRETE_ENVS else continuous:
            name = "_".join(v.split("=")[1] for v in variant)
            for seed in seeds:
                overrides = [
                    f"env={env}",
                    f"seed={seed}",
                    f"total_steps={steps}",
                    f"learning_starts={min(5_000, steps // 5)}",
                    f"eval_every={every}",
                    f"diagnostics.grad_variance_every={every}",
                    f"checkpoint_every={steps}",
                    "threads=1",
                    "wandb.mode=disabled",
                    *variant,
                ]
                runs.append((runs_dir / env / f"{name}_seed{seed}", overrides))
    return runs


def train(run_dir: Path, overrides: list[str]) -> float:
    """One run as a process of its own; returns its wall time, 0 when it had finished before. With `relaunch=true`
    the training script itself skips a finished run and resumes one stopped after a checkpoint (the lab
    interrupted)."""
    if RunDir(run_dir).status() == Status.finished:
        return 0.0
    start = time.perf_counter()
    script = [sys.executable, str(ROOT / "scripts" / "train_sac.py")]
    done = subprocess.run([*script, *overrides, f"hydra.run.dir={run_dir}", "relaunch=true"], capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{run_dir} failed: {done.stderr.strip().splitlines()[-1:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=list(BUDGETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every env's step budget")
    parser.add_argument("--policies", nargs="+", default=POLICIES, choices=POLICIES, help="continuous envs' policies")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time, one torch thread each")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "outputs" / "estimator_lab")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "measured" / "estimator_lab")
    parser.add_argument("--report-only", action="store_true", help="only build the report from finished runs")
    args = parser.parse_args()

    runs = plan(args.envs, args.seeds, args.scale, args.runs_dir, args.policies)
    start = time.perf_counter()
    if not args.report_only:
        print(f"{len(runs)} runs, {args.jobs} at a time, in {args.runs_dir}")
        seconds = Parallel(n_jobs=args.jobs, backend="threading")(delayed(train)(d, o) for d, o in runs)
        print(f"trained in {(time.perf_counter() - start) / 60:.1f} min ({sum(seconds) / 60:.1f} run-minutes)")

    from sac.analysis.report import build_report
    from sac.config import CompareConfig

    finished = [str(d) for d, _ in runs if RunDir(d).status().value == "finished"]
    title = f"Estimator lab: {', '.join(args.envs)}; seeds {', '.join(map(str, args.seeds))}; scale {args.scale:g}"
    build_report(CompareConfig(runs=finished, title=title), args.out)
    if not args.report_only:  # a redrawn report keeps the record of the command that trained its runs
        (args.out / "command.txt").write_text(
            f"python benchmarks/estimator_lab.py {' '.join(sys.argv[1:])}\n"
            f"{len(finished)} runs; wall time {(time.perf_counter() - start) / 60:.1f} min\n"
        )


if __name__ == "__main__":
    main()
