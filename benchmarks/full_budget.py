"""The full-budget table: eval-return curves and final returns of training runs, per env, beside the peers' curves.

    python benchmarks/full_budget.py RUN_DIR [RUN_DIR ...] --out benchmarks/measured/full_budget
    python benchmarks/full_budget.py RUN_DIR ... --peer-curves benchmarks/measured/gap_200k/runs --out DIR
    python benchmarks/full_budget.py RUN_DIR fix=OTHER_RUN_DIR ... --out DIR   # LABEL=RUN_DIR: drawn as "LABEL"
    python benchmarks/full_budget.py RUN_DIR ... --anchors benchmarks/measured/full_budget/anchors.csv --out DIR

Reads each run directory's `config.yaml` and `metrics.jsonl` as the run wrote them (finished or not: a run still
going shows as far as it got) and writes to `--out`:
- `curves_<env>.png`: each seed's eval-return curve and their mean (with `--peer-curves`, the peers' CSVs from
  `learning_curves.py`, `<lib>_<env>_seed<seed>.csv`, drawn dashed beside them; with `--anchors`, a CSV of
  published final returns `env,source,mean,std`, each drawn as a point with its ± std just right of the last step);
- `final_returns.csv`: env, library, seed, last evaluated step, its eval return, the mean of the last `LAST`
  evaluations, the best evaluation (Tianshou's protocol), and for this package's runs the hours the run's processes
  ran (summed over its resumed segments) and its median steps/s;
- `table.md`: per env and library the final eval return as mean ± std over the seeds that reached the furthest
  step (a run still going is listed with its step, never averaged in), the interquartile mean with its
  95% stratified bootstrap CI (sac/analysis/stats.py; Agarwal et al. 2021), each seed, the steps reached, and the
  mean of the last `LAST` evaluations (mean ± std over the same seeds);
and prints the same table.
"""

from __future__ import annotations

import argparse
import csv
from itertools import pairwise
from pathlib import Path

import numpy as np

from envs import env_id
from sac.analysis.runs import read_curve_csv
from sac.analysis.stats import iqm_ci
from sac.run.rundir import RunDir, series

Curve = tuple[np.ndarray, np.ndarray]
"""(steps, eval returns) of one run."""
LAST = 10
"""How many of a run's last evaluations the steadier statistic averages (the last 100k steps at eval_every=10k):
one evaluation is a snapshot of a policy that can swing between evaluations (Hopper's deterministic policy either
hops the full 1000 steps or falls a few hundred steps in)."""


def our_run(run: RunDir) -> tuple[str, int, Curve, float, float]:
    """(env id, seed, curve, hours its processes ran, median steps/s) of one of this package's run directories.

    A record's `time` counts from its process's start, so a resumed run's clock restarts: the hours are the sum of
    each segment's last time. A process paused with SIGSTOP still counts its pause; the median of the
    per-1000-steps rates does not (the rates from 10k steps on: before then, uniform-random steps without updates)."""
    config, records = run.read_config(), run.records()
    steps, returns = series(records, "eval/return_mean")
    times = [r["time"] for r in records]
    ends = [a for a, b in pairwise(times) if b < a] + times[-1:]
    rates = [r["perf/steps_per_sec"] for r in records if "perf/steps_per_sec" in r and r["step"] > 10_000]
    rate = float(np.median(rates)) if rates else float("nan")
    return env_id(config.env.name), int(config.seed), (steps, returns), sum(ends) / 3600, rate


def peer_curves(folder: Path, libs: list[str]) -> dict[tuple[str, str], dict[int, Curve]]:
    """(library, env id) -> seed -> curve, from learning_curves.py's per-run CSVs of the given libraries."""
    found: dict[tuple[str, str], dict[int, Curve]] = {}
    for path in sorted(folder.glob("*_seed*.csv")):
        lib, env, seed = path.stem.rsplit("_", 2)[0], path.stem.rsplit("_", 2)[1], path.stem.rsplit("seed", 1)[1]
        if lib not in libs:
            continue
        found.setdefault((lib, env_id(env)), {})[int(seed)] = read_curve_csv(path)
    return found


def anchors(path: Path) -> dict[str, list[tuple[str, float, float]]]:
    """env id -> (source, mean, std; nan when the source gives no spread over seeds) of each published return."""
    found: dict[str, list[tuple[str, float, float]]] = {}
    for row in csv.DictReader(path.open()):
        found.setdefault(env_id(row["env"]), []).append((row["source"], float(row["mean"]), float(row["std"] or "nan")))
    return found


def table_row(env: str, lib: str, by_seed: dict[int, Curve]) -> str:
    """One markdown row: env, library, steps, mean ± std (population std, ddof 0), IQM [95% CI], each seed.

    The statistics cover only the seeds that reached the furthest step (the budget, once any run finished): a run
    still going is listed with the step it reached, never averaged with finished ones."""
    ran = {seed: c for seed, c in sorted(by_seed.items()) if len(c[0])}
    furthest = max(int(s[-1]) for s, _ in ran.values())
    at_furthest = [r for s, r in ran.values() if s[-1] == furthest]
    finals = np.array([r[-1] for r in at_furthest])
    point, low, high = iqm_ci(finals)
    seeds = ", ".join(
        f"{seed}: {r[-1]:.0f}" + ("" if s[-1] == furthest else f" (at {int(s[-1]):,})") for seed, (s, r) in ran.items()
    )
    lasts = np.array([r[-LAST:].mean() for r in at_furthest])
    return (f"| {env} | {lib} | {furthest:,} ({len(finals)} of {len(ran)} seeds) | {finals.mean():.0f} ± "
            f"{finals.std():.0f} | {point:.0f} [{low:.0f}, {high:.0f}] | {seeds} | {lasts.mean():.0f} ± "
            f"{lasts.std():.0f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="this package's run directories, each RUN_DIR or LABEL=RUN_DIR")
    parser.add_argument("--peer-curves", type=Path, help="a folder of learning_curves.py's per-run CSVs")
    parser.add_argument("--peer-libs", nargs="+", default=["sb3"], help="which of its libraries to draw")
    parser.add_argument("--anchors", type=Path, help="published final returns: a CSV env,source,mean,std")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    curves: dict[tuple[str, str], dict[int, Curve]] = {}
    times: dict[tuple[str, str, int], tuple[float, float]] = {}
    for arg in args.runs:
        label, _, path = arg.rpartition("=")
        env, seed, curve, hours, rate = our_run(RunDir(Path(path)))
        if not len(curve[0]):
            print(f"{path}: no evaluation yet, left out")
            continue
        curves.setdefault((label or "ours", env), {})[seed] = curve
        times[(label or "ours", env, seed)] = (hours, rate)
    peers = peer_curves(args.peer_curves, args.peer_libs) if args.peer_curves else {}
    published = anchors(args.anchors) if args.anchors else {}
    curves |= peers

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    table = [
        f"| env | library | steps | final eval return, mean ± std | IQM [95% CI] | each seed | mean of the last {LAST} "
        "evals, mean ± std |",
        "|---" * 7 + "|",
    ]
    for env in sorted({e for _, e in curves}):
        fig, ax = plt.subplots(figsize=(7, 5))
        for (lib, e), by_seed in sorted(curves.items()):
            if e != env or not by_seed:
                continue
            style = "--" if (lib, e) in peers else "-"
            n = min(len(s) for s, _ in by_seed.values())
            steps = next(iter(by_seed.values()))[0][:n]
            mean = np.mean([r[:n] for _, r in by_seed.values()], axis=0) if n else np.array([])
            label = f"{lib}: mean of {len(by_seed)} seeds" if len(by_seed) > 1 else f"{lib}: 1 seed"
            (line,) = ax.plot(steps, mean, style, linewidth=2.2, label=label)
            for seed, (steps, returns) in sorted(by_seed.items()):
                ax.plot(steps, returns, style, color=line.get_color(), linewidth=0.8, alpha=0.4)
                if len(steps):
                    hours, rate = times.get((lib, env, seed), (float("nan"), float("nan")))
                    last, best = f"{returns[-LAST:].mean():.1f}", f"{returns.max():.1f}"
                    rows.append((env, lib, seed, int(steps[-1]), f"{returns[-1]:.1f}", last, best, f"{hours:.2f}",
                                 f"{rate:.1f}"))  # fmt: skip
            table.append(table_row(env, lib, by_seed))
        right = max(int(s[-1]) for (_, e), by_seed in curves.items() if e == env for s, _ in by_seed.values())
        markers = "sDv^<>P"
        for i, (source, mean_, std) in enumerate(published.get(env, [])):
            ax.errorbar(right * (1.02 + 0.025 * i), mean_, yerr=None if np.isnan(std) else std,
                        fmt=markers[i % len(markers)], color="0.3", markersize=5, capsize=2,
                        label=f"{source}: {mean_:.0f}")  # fmt: skip
        ax.set(title=env, xlabel="environment steps", ylabel="deterministic eval return")
        ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1e6:g}M" if x >= 1e6 else f"{x / 1e3:g}k")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
        fig.tight_layout()
        fig.savefig(args.out / f"curves_{env}.png", dpi=120)
        plt.close(fig)
    with (args.out / "final_returns.csv").open("w", newline="") as f:
        header = ("env", "library", "seed", "step", "eval_return", f"mean_last_{LAST}_evals", "best_eval_return",
                  "process_hours", "median_steps_per_sec")  # fmt: skip
        csv.writer(f).writerows([header, *rows])
    (args.out / "table.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))
    print(f"wrote {args.out}/curves_*.png, final_returns.csv and table.md")


if __name__ == "__main__":
    main()
