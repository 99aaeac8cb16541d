"""The distribution each learning check samples from, measured over many seeds, and the check's failure rate under it.

    python tests/calibrate_learning_checks.py                                   # every check, seeds 0-23
    python tests/calibrate_learning_checks.py --checks sac-pendulum-beta --seeds 24 25 26 --jobs 1
    python tests/calibrate_learning_checks.py --table                           # the table of docs/testing.md

The checks are `learning_checks.py`'s (beside this file), run by the same code the tests run (one torch thread per
run, in a process of its own). Seeds already in `OUT/<check>.json` are not run again, so a measurement can grow over
sessions; the file also records the CPU each seed ran on. For each check it prints and writes:
- each statistic's mean, std, min and max over the measured seeds, and how many seeds fail the per-seed bounds;
- the check's own statistic, the `need`-th best value over `len(seeds)` seeds (for 2 of 3, the median), with its
  mean and std over seed sets drawn from the measured seeds, and the threshold's distance from that mean in stds;
- P(check fails), two ways. Counting: the chance that fewer than `need` of its seeds pass, averaged over the
  per-seed failure rate's posterior under a uniform prior, Beta(1 + failures, 1 + passes); with no failure among
  n seeds it is still about 3 / (n + 2)^2 for 2 of 3 and 1 / (n + 2) for 1 of 1, so it is the honest figure for a
  statistic with outliers (a run that does not learn). Normal: the tail beyond the threshold of a normal with the
  check statistic's mean and std, summed over the bounded statistics; the figure for a unimodal statistic whose
  threshold is many stds away, where counting 24 seeds cannot resolve a small probability.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from learning_checks import CHECKS, Check, one_thread


def cpu_name() -> str:
    """The CPU's model name and whether it has AMX / AVX-512 BF16 (they change float results and speed)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    isa = "AMX" if "amx_tile" in flags else "AVX-512 BF16" if "avx512_bf16" in flags else "AVX2"
    return f"{name} ({isa})"


def failure_probability(check: Check, failures: int, n: int) -> float:
    """E_p[P(fewer than `need` of the check's seeds pass)], p ~ Beta(1 + failures, 1 + n - failures)."""
    m, grid = len(check.seeds), np.linspace(0.0, 1.0, 20_001)[1:-1]
    log_density = failures * np.log(grid) + (n - failures) * np.log1p(-grid)
    density = np.exp(log_density - log_density.max())
    density /= density.sum()
    # P(passes < need) = P(failures among m > m - need).
    fail = sum(math.comb(m, j) * grid**j * (1 - grid) ** (m - j) for j in range(m - check.need + 1, m + 1))
    return float((density * fail).sum())


def check_statistic(check: Check, values: np.ndarray, op: str, draws: int = 20_000) -> tuple[float, float]:
    """Mean and std of the need-th best of len(seeds) values drawn from the measured ones."""
    rng = np.random.default_rng(0)
    sets = np.sort(rng.choice(values, size=(draws, len(check.seeds))), axis=1)
    # ">=": the need-th largest passes or fails the check; "<=": the need-th smallest.
    order = sets[:, -check.need] if op == ">=" else sets[:, check.need - 1]
    return float(order.mean()), float(order.std())


def summarise(name: str, check: Check, per_seed: dict[str, dict]) -> dict:
    stats = [k for k in next(iter(per_seed.values()))["stats"] if all(k in r["stats"] for r in per_seed.values())]
    failures = sum(not check.seed_passes(r["stats"]) for r in per_seed.values())
    summary: dict = {"seeds_measured": len(per_seed), "seeds_failing_bounds": failures, "statistics": {}}
    for key in stats:
        values = np.array([r["stats"][key] for r in per_seed.values()])
        entry = {"mean": float(values.mean()), "std": float(values.std(ddof=1)), "min": float(values.min()),
                 "max": float(values.max())}  # fmt: skip
        if key in check.bounds:
            op, threshold = check.bounds[key]
            mean, std = check_statistic(check, values, op)
            distance = (mean - threshold if op == ">=" else threshold - mean) / std if std > 0 else math.inf
            entry |= {
                "threshold": f"{op} {threshold}",
                "check_statistic_mean": mean,
                "check_statistic_std": std,
                "threshold_distance_in_std": distance,
                "p_fail_normal": 0.5 * math.erfc(distance / math.sqrt(2)),
            }
        summary["statistics"][key] = {k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in entry.items()}
    summary["p_check_fails_counting"] = failure_probability(check, failures, len(per_seed))
    summary["p_check_fails_normal"] = sum(e.get("p_fail_normal", 0.0) for e in summary["statistics"].values())
    return summary


def markdown_table(out: Path) -> str:
    """One row per measured check: its rule, each bounded statistic's distribution, and P(check fails)."""
    rows = ["| check | rule | measured over seeds: mean ± std [min, max] | seeds failing | rule's statistic: "
            "mean ± std, threshold's distance | P(fails): counting, normal |", "|---|---|---|---|---|---|"]  # fmt: skip
    for name in CHECKS:
        path = out / f"{name}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        s = r.get("summary")
        if not s:
            continue
        bounded = {k: e for k, e in s["statistics"].items() if "threshold" in e}
        rule = f"{r['need']} of seeds {', '.join(map(str, r['seeds']))}: " + ", ".join(
            f"{k} {e['threshold']}" for k, e in bounded.items()
        )
        spread = "; ".join(f"{k} {e['mean']:.4g} ± {e['std']:.3g} [{e['min']:.4g}, {e['max']:.4g}]"
                           for k, e in bounded.items())  # fmt: skip
        statistic = "; ".join(f"{e['check_statistic_mean']:.4g} ± {e['check_statistic_std']:.3g}, "
                              f"{e['threshold_distance_in_std']:.3g} std" for e in bounded.values())  # fmt: skip
        fails = f"{s['p_check_fails_counting']:.2g}, {s['p_check_fails_normal']:.2g}"
        rows.append(f"| `{name}` | {rule} | {spread} | {s['seeds_failing_bounds']} of {s['seeds_measured']} "
                    f"| {statistic} | {fails} |")  # fmt: skip
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", nargs="+", default=list(CHECKS), choices=list(CHECKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(24)))
    parser.add_argument("--jobs", type=int, default=None, help="runs at a time (default: the cores)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/measured/learning_checks"))
    parser.add_argument("--table", action="store_true", help="only print the Markdown table of docs/testing.md")
    args = parser.parse_args()
    if args.table:
        print(markdown_table(args.out))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    cpu = cpu_name()

    files = {name: args.out / f"{name}.json" for name in args.checks}
    saved = {name: json.loads(f.read_text()) if f.exists() else {} for name, f in files.items()}
    known = {name: saved[name].get("per_seed", {}) for name in args.checks}
    command = "python tests/calibrate_learning_checks.py " + " ".join(sys.argv[1:])
    commands = {name: [*[c for c in saved[name].get("commands", []) if c != command], command] for name in args.checks}
    # Seed by seed across the checks: a measurement stopped early leaves every check with about as many seeds.
    jobs = [(name, s) for s in args.seeds for name in args.checks if str(s) not in known[name]]
    print(f"{len(jobs)} runs on {cpu}", flush=True)

    def write(name: str) -> dict:
        check, per_seed = CHECKS[name], dict(sorted(known[name].items(), key=lambda kv: int(kv[0])))
        record = {"check": name, "seeds": list(check.seeds), "need": check.need,
                  "bounds": {k: f"{op} {t}" for k, (op, t) in check.bounds.items()}, "commands": commands[name],
                  "summary": summarise(name, check, per_seed) if per_seed else {}, "per_seed": per_seed}  # fmt: skip
        files[name].write_text(json.dumps(record, indent=1) + "\n")
        return record

    # Each result is written as it comes: a measurement stopped half-way keeps what it measured.
    with ProcessPoolExecutor(args.jobs or len(os.sched_getaffinity(0)), mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(one_thread, CHECKS[name].run, seed): (name, seed) for name, seed in jobs}
        for future in as_completed(futures):
            name, seed = futures[future]
            known[name][str(seed)] = {"stats": future.result(), "cpu": cpu}
            write(name)
            print(f"{name} seed {seed}: {known[name][str(seed)]['stats']}", flush=True)

    for name in args.checks:
        record = write(name)
        summary = record["summary"]
        if not summary:
            continue
        print(f"\n{name}: {record['need']} of seeds {record['seeds']}, bounds {record['bounds']}")
        print(f"  {summary['seeds_measured']} seeds measured, {summary['seeds_failing_bounds']} fail the bounds; "
              f"P(check fails): counting {summary['p_check_fails_counting']:.2g}, "
              f"normal {summary['p_check_fails_normal']:.2g}")  # fmt: skip
        for key, entry in summary["statistics"].items():
            print(f"  {key}: {entry}")


if __name__ == "__main__":
    main()
