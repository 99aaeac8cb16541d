"""Issue 40's bf16 learning-parity verdict from the committed runs, by the rule written in
benchmarks/measured/bf16_parity/README.md before any parity run reached 100k steps. Per env, parity holds when
- the bf16 runs' IQM of the eval return at 300k lies within the fp32 runs' range [min, max] at 300k, and
- the 95% stratified-bootstrap CI of P(bf16 > fp32), over the pairs of runs (ties count half), contains 0.5.
`precision=auto` may choose bf16 (sac/run/device.py: BF16_PARITY) only if parity holds on every env.

    python benchmarks/bf16_verdict.py    # reads bf16_parity/ and full_budget/, writes bf16_parity/verdict.md

The fp32 runs are the 1M runs of full_budget/ at their 300k evaluation (same seeds, protocol and defaults). Beside
the returns it lists each run's critics' mean Q (`train/q_mean`) and policy entropy (`train/entropy`), averaged over
the records of the last 10k steps before 300k, so that a drift in the values under equal returns shows.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sac.analysis.runs import load_local_run
from sac.analysis.stats import iqm_ci
from sac.analysis.tables import improvement_ci

MEASURED = Path(__file__).resolve().parent / "measured"
STEP = 300_000
STAGES = (100_000, 200_000, STEP)


@dataclass
class Runs:
    """One precision's runs on one env: eval returns at STAGES (runs, stages), and per run the mean Q and entropy
    over (STEP - 10k, STEP]."""

    seeds: list[int]
    returns: np.ndarray
    q_mean: list[float]
    entropy: list[float]


@dataclass
class Verdict:
    bf16_iqm: tuple[float, float, float]
    fp32_range: tuple[float, float]
    p_bf16_better: tuple[float, float, float]

    @property
    def within_spread(self) -> bool:
        return self.fp32_range[0] <= self.bf16_iqm[0] <= self.fp32_range[1]

    @property
    def p_contains_half(self) -> bool:
        return self.p_bf16_better[1] <= 0.5 <= self.p_bf16_better[2]

    @property
    def holds(self) -> bool:
        return self.within_spread and self.p_contains_half


def judge(bf16: np.ndarray, fp32: np.ndarray) -> Verdict:
    """The rule on the 300k returns of one env's bf16 runs (n,) and fp32 runs (m,)."""
    bf16, fp32 = np.asarray(bf16, dtype=float), np.asarray(fp32, dtype=float)
    return Verdict(iqm_ci(bf16), (float(fp32.min()), float(fp32.max())), improvement_ci([bf16], [fp32]))


def load(folders: list[Path]) -> dict[str, Runs]:
    """env id -> the runs in `folders` (each a run directory), in seed order."""
    by_env: dict[str, list[tuple[int, list[float], float, float]]] = {}
    for folder in folders:
        run = load_local_run(folder)
        steps, values = run.series("eval/return_mean")
        at = dict(zip(steps.tolist(), values.tolist(), strict=True))
        if STEP not in at:
            raise SystemExit(f"bf16_verdict.py: {folder} has no evaluation at step {STEP}: not finished")
        last = [r for r in run.records if STEP - 10_000 < r["step"] <= STEP]
        q = float(np.mean([r["train/q_mean"] for r in last if "train/q_mean" in r]))
        entropy = float(np.mean([r["train/entropy"] for r in last if "train/entropy" in r]))
        by_env.setdefault(run.env_id, []).append((run.seed, [at[s] for s in STAGES], q, entropy))
    out = {}
    for env, rows in sorted(by_env.items()):
        rows.sort()
        out[env] = Runs(
            [r[0] for r in rows], np.array([r[1] for r in rows]), [r[2] for r in rows], [r[3] for r in rows]
        )
    return out


def report(bf16: dict[str, Runs], fp32: dict[str, Runs]) -> tuple[str, bool]:
    """verdict.md's text and whether parity holds on every env."""
    lines = [
        "# bf16 learning parity: the verdict (`python benchmarks/bf16_verdict.py`)",
        "",
        "Eval return (10 deterministic episodes) at 100k / 200k / 300k steps; Q: `train/q_mean` and H: "
        "`train/entropy`, each run's mean over the records of the last 10k steps before 300k.",
        "",
    ]
    verdicts = {}
    for env in sorted(bf16):
        b, f = bf16[env], fp32[env]
        v = verdicts[env] = judge(b.returns[:, -1], f.returns[:, -1])
        lines += [
            f"## {env}",
            "",
            "| precision | seed | return at 100k / 200k / 300k | Q | H |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, runs in (("bf16", b), ("fp32", f)):
            for i, seed in enumerate(runs.seeds):
                returns = " / ".join(f"{x:.0f}" for x in runs.returns[i])
                lines.append(f"| {name} | {seed} | {returns} | {runs.q_mean[i]:.1f} | {runs.entropy[i]:.2f} |")
        lines += [
            "",
            f"- bf16 IQM at 300k: {v.bf16_iqm[0]:.0f} [{v.bf16_iqm[1]:.0f}, {v.bf16_iqm[2]:.0f}]; the fp32 runs' "
            f"range: [{v.fp32_range[0]:.0f}, {v.fp32_range[1]:.0f}]: {'within' if v.within_spread else 'outside'}",
            f"- P(bf16 > fp32) at 300k: {v.p_bf16_better[0]:.2f} [{v.p_bf16_better[1]:.2f}, {v.p_bf16_better[2]:.2f}]: "
            f"{'contains' if v.p_contains_half else 'excludes'} 0.5",
            f"- parity on {env}: **{'holds' if v.holds else 'does not hold'}**",
            "",
        ]
    holds = bool(verdicts) and all(v.holds for v in verdicts.values())
    lines.append(f"Parity {'holds on every env' if holds else 'does not hold'}: BF16_PARITY = {holds}.")
    return "\n".join(lines) + "\n", holds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--measured", type=Path, default=MEASURED, help="holds bf16_parity/ and full_budget/")
    parser.add_argument("--out", type=Path, help="where to write the verdict (default: bf16_parity/verdict.md)")
    args = parser.parse_args()
    bf16 = load(sorted((args.measured / "bf16_parity").glob("*_bf16_seed*")))
    fp32 = load(sorted((args.measured / "full_budget").glob("*_seed*")))
    text, _ = report(bf16, {env: fp32[env] for env in bf16})
    (args.out or args.measured / "bf16_parity" / "verdict.md").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
