"""The full-budget table: eval-return curves and final returns of training runs, per env, beside the peers' curves.

    python benchmarks/full_budget.py RUN_DIR [RUN_DIR ...] --out benchmarks/measured/full_budget
    python benchmarks/full_budget.py RUN_DIR ... --peer-curves benchmarks/measured/gap_200k/runs --out DIR

Reads each run directory's `config.yaml` and `metrics.jsonl` as the run wrote them (finished or not: a run still
going shows as far as it got) and writes to `--out`:
- `curves_<env>.png`: each seed's eval-return curve and their mean (with `--peer-curves`, the peers' CSVs from
  `learning_curves.py`, `<lib>_<env>_seed<seed>.csv`, drawn dashed beside them);
- `final_returns.csv`: env, library, seed, last evaluated step, its eval return;
and prints per env and library the final eval return as mean ± std over seeds, the interquartile mean with its 95%
stratified bootstrap CI (sac/analysis/stats.py; Agarwal et al. 2021), and each seed.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from envs import env_id
from sac.analysis.stats import iqm, stratified_bootstrap_ci
from sac.run.rundir import RunDir

Curve = tuple[np.ndarray, np.ndarray]
"""(steps, eval returns) of one run."""


def our_curve(run: RunDir) -> tuple[str, int, Curve]:
    """(env id, seed, curve) of one of this package's run directories."""
    config = run.read_config()
    evals = [(r["step"], r["eval/return_mean"]) for r in run.records() if "eval/return_mean" in r]
    steps, returns = (np.array(v) for v in zip(*evals, strict=True)) if evals else (np.array([]), np.array([]))
    return env_id(config.env.name), int(config.seed), (steps, returns)


def peer_curves(folder: Path, libs: list[str]) -> dict[tuple[str, str], dict[int, Curve]]:
    """(library, env id) -> seed -> curve, from learning_curves.py's per-run CSVs of the given libraries."""
    found: dict[tuple[str, str], dict[int, Curve]] = {}
    for path in sorted(folder.glob("*_seed*.csv")):
        lib, env, seed = path.stem.rsplit("_", 2)[0], path.stem.rsplit("_", 2)[1], path.stem.rsplit("seed", 1)[1]
        if lib not in libs:
            continue
        rows = list(csv.DictReader(path.open()))
        curve = (np.array([int(r["step"]) for r in rows]), np.array([float(r["return"]) for r in rows]))
        found.setdefault((lib, env_id(env)), {})[int(seed)] = curve
    return found


def summary(finals: np.ndarray) -> str:
    point, low, high = stratified_bootstrap_ci([finals], lambda s: iqm(s[0]))
    return (f"{finals.mean():.0f} ± {finals.std():.0f}; IQM {point:.0f} [{low:.0f}, {high:.0f}] "
            f"(seeds: {', '.join(f'{v:.0f}' for v in finals)})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="this package's run directories")
    parser.add_argument("--peer-curves", type=Path, help="a folder of learning_curves.py's per-run CSVs")
    parser.add_argument("--peer-libs", nargs="+", default=["sb3"], help="which of its libraries to draw")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    curves: dict[tuple[str, str], dict[int, Curve]] = {}
    for path in args.runs:
        env, seed, curve = our_curve(RunDir(path))
        curves.setdefault(("ours", env), {})[seed] = curve
    if args.peer_curves:
        curves |= peer_curves(args.peer_curves, args.peer_libs)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    for env in sorted({e for _, e in curves}):
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for (lib, e), by_seed in sorted(curves.items()):
            if e != env or not by_seed:
                continue
            style = "-" if lib == "ours" else "--"
            n = min(len(s) for s, _ in by_seed.values())
            steps = next(iter(by_seed.values()))[0][:n]
            mean = np.mean([r[:n] for _, r in by_seed.values()], axis=0) if n else np.array([])
            (line,) = ax.plot(steps, mean, style, linewidth=2.2, label=f"{lib}: mean of {len(by_seed)} seeds")
            for seed, (steps, returns) in sorted(by_seed.items()):
                ax.plot(steps, returns, style, color=line.get_color(), linewidth=0.8, alpha=0.4)
                if len(steps):
                    rows.append((env, lib, seed, int(steps[-1]), float(returns[-1])))
            finals = np.array([r[-1] for _, r in by_seed.values() if len(r)])
            last = min(int(s[-1]) for s, _ in by_seed.values() if len(s))
            print(f"{env:<16} {lib:<6} at {last} steps: {summary(finals)}")
        ax.set(title=env, xlabel="environment steps", ylabel="deterministic eval return")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out / f"curves_{env}.png", dpi=120)
        plt.close(fig)
    with (args.out / "final_returns.csv").open("w", newline="") as f:
        csv.writer(f).writerows([("env", "library", "seed", "step", "eval_return"), *rows])
    print(f"wrote {args.out}/curves_*.png and final_returns.csv")


if __name__ == "__main__":
    main()
