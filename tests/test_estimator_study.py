"""The estimator study's committed report (benchmarks/measured/estimator_study/report/) against its raw files: every
row of its stage table and of its early-SNR table recomputed from the runs' metrics.jsonl, written here without the
report's code."""

import csv
import json
import math
import re
from pathlib import Path

import pytest

MEASURED = Path(__file__).resolve().parents[1] / "benchmarks" / "measured"
REPORT = MEASURED / "estimator_study" / "report"
ENV_IDS = {"HalfCheetah": "HalfCheetah-v5", "Hopper": "Hopper-v5"}


def raw_runs() -> list[dict]:
    """Every run the study reads: its cells' runs and the pathwise cell, the 1M runs (their first 300k steps)."""
    runs = []
    folders = [*(MEASURED / "estimator_study").glob("*_seed*"), *(MEASURED / "full_budget").glob("*_seed*")]
    for folder in sorted(folders):
        info = json.loads((folder / "run.json").read_text())
        policy, estimator = info["policy"], info["estimator"]
        label = f"sac-{estimator}" if policy == "tanh_gaussian" else f"sac-{policy.replace('_', '-')}-{estimator}"
        label = "reinforce" if info["algorithm"] == "reinforce" else label
        samples = re.search(r"^  reparam_samples: (\d+)$", (folder / "config.yaml").read_text(), flags=re.MULTILINE)
        if estimator == "reparam" and samples and int(samples.group(1)) > 1:
            label += f"-k{samples.group(1)}"
        env = ENV_IDS[folder.name.split("_")[0]]
        records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line]
        runs.append({"name": folder.name, "env": env, "label": label, "estimator": estimator, "records": records})
    return runs


def middle_mean(values: list[float]) -> float:
    """The mean of what is left after cutting floor(n / 4) values off each end."""
    values, cut = sorted(values), len(values) // 4
    kept = values[cut : len(values) - cut]
    return sum(kept) / len(kept)


def latest(records: list[dict], key: str, after: int, until: int) -> float | None:
    """The last value of `key` in (after, until] of a run that trained to `until` at least."""
    values = [rec[key] for rec in records if after < rec["step"] <= until and key in rec]
    return values[-1] if values and records[-1]["step"] >= until else None


def test_every_stage_row_follows_from_the_raw_files() -> None:
    rows = list(csv.DictReader((REPORT / "stages.csv").open()))
    assert {r["step"] for r in rows} == {"100000", "200000", "300000"}
    runs = raw_runs()
    for row in rows:
        step = int(row["step"])
        group = [r for r in runs if r["env"] == row["env"] and r["label"] == row["algorithm"]]
        previous = step - 100_000  # the stages are 100k apart; each run's last evaluation since the previous one
        evals = [last for r in group if (last := latest(r["records"], "eval/return_mean", previous, step)) is not None]
        assert int(row["runs"]) == len(evals), row
        if evals:
            assert float(row["iqm_return"]) == pytest.approx(middle_mean(evals), rel=1e-12), row
        key = f"grad/{row['estimator']}/snr"
        snrs = [last for r in group if (last := latest(r["records"], key, previous, step)) is not None]
        if snrs:
            assert float(row["snr"]) == pytest.approx(sum(snrs) / len(snrs), rel=1e-12), row
        else:
            assert math.isnan(float(row["snr"])), row


def test_every_early_snr_row_follows_from_the_raw_files() -> None:
    """Each run's median SNR of its own estimator up to 100k and its return at 300k, and the rank correlation's point
    value per env as 1 - 6 sum d^2 / (n (n^2 - 1)) where neither side ties."""
    rows = list(csv.DictReader((REPORT / "early_snr.csv").open()))
    assert rows, "the study's runs with early diagnostics are in the table"
    runs = {r["name"]: r for r in raw_runs()}
    for row in rows:
        run = runs[row["run"]]
        key = f"grad/{'reparam_k' if '-k' in run['label'] else run['estimator']}/snr"
        snrs = sorted(rec[key] for rec in run["records"] if rec["step"] <= 100_000 and key in rec)
        median = (snrs[(len(snrs) - 1) // 2] + snrs[len(snrs) // 2]) / 2
        assert float(row["early_snr_median"]) == pytest.approx(median, rel=1e-12), row
        assert float(row["later_return"]) == latest(run["records"], "eval/return_mean", 200_000, 300_000), row
    for env in {r["env"] for r in rows}:
        pairs = [(float(r["early_snr_median"]), float(r["later_return"])) for r in rows if r["env"] == env]
        rank = lambda values: {v: i for i, v in enumerate(sorted(values))}  # noqa: E731
        snr_rank, return_rank = rank([p[0] for p in pairs]), rank([p[1] for p in pairs])
        if len(snr_rank) == len(return_rank) == len(pairs):  # no ties
            n = len(pairs)
            d2 = sum((snr_rank[s] - return_rank[r]) ** 2 for s, r in pairs)
            rho = 1 - 6 * d2 / (n * (n * n - 1))
            assert all(float(r["spearman_rho"]) == pytest.approx(rho) for r in rows if r["env"] == env)
