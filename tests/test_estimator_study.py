"""The estimator study's committed report (benchmarks/measured/estimator_study/report/) against its raw files: every
row of its stage table recomputed from the runs' metrics.jsonl, written here without the report's code."""

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
        runs.append({"env": env, "label": label, "estimator": estimator, "records": records})
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
