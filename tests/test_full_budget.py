"""benchmarks/full_budget.py: the full-budget table's numbers from run directories written as train_sac writes them."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sac.analysis.stats import iqm

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "runs_4a87f0e" / "sac_pendulum"


def fake_run(path: Path, seed: int, finals: list[float], resume_at: int | None = None) -> None:
    """A run directory with evaluations every 10k steps; a resume at `resume_at` restarts the process clock."""
    path.mkdir(parents=True)
    config = (FIXTURE / "config.yaml").read_text().replace("\nseed: 4\n", f"\nseed: {seed}\n")
    assert f"\nseed: {seed}\n" in config
    (path / "config.yaml").write_text(config)
    records, clock = [], 0.0
    for i, value in enumerate(finals):
        step = 10_000 * (i + 1)
        clock = 5.0 if step == resume_at else clock + 1800.0  # half an hour per 10k steps
        records.append({"step": step, "time": clock, "perf/steps_per_sec": 1.0 + step / 1000, "train/alpha": 0.1})
        records.append({"step": step, "time": clock, "eval/return_mean": value})
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.mark.slow  # a process of its own that draws the plots: about 7 s
def test_table_csv_and_labels(tmp_path: Path) -> None:
    finals = {0: -300.0, 1: -150.0, 2: -200.0, 3: -1200.0}
    for seed, last in finals.items():
        fake_run(tmp_path / f"s{seed}", seed, [-1500.0, -900.0, last], resume_at=20_000 if seed == 1 else None)
    fake_run(tmp_path / "s4", 4, [-1500.0, -100.0])  # still going: listed with its step, not averaged in
    fake_run(tmp_path / "other", 0, [-1400.0, -700.0])
    fake_run(tmp_path / "new", 5, [])  # started, not yet evaluated: left out
    (tmp_path / "new" / "metrics.jsonl").write_text('{"step": 1000, "time": 9.0, "perf/steps_per_sec": 111.0}\n')
    peers = tmp_path / "peers"
    peers.mkdir()
    (peers / "sb3_Pendulum_seed0.csv").write_text("step,return\n10000,-1300\n30000,-250\n")
    out = tmp_path / "out"
    anchors = tmp_path / "anchors.csv"  # drawn beside the curves; one without a spread over seeds
    anchors.write_text('env,source,mean,std\nPendulum,"A (1 run)",-160,\nPendulum,B,-150,20\nHopper,C,3000,100\n')
    args = [str(tmp_path / f"s{s}") for s in [*finals, 4]] + [f"fix={tmp_path / 'other'}", str(tmp_path / "new")]
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "full_budget.py"), *args, "--peer-curves", str(peers),
         "--anchors", str(anchors),
         "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"{tmp_path / 'new'}: no evaluation yet, left out" in result.stdout
    rows = {line.split(" | ")[1]: line for line in (out / "table.md").read_text().splitlines()[2:]}
    assert set(rows) == {"fix", "ours", "sb3"}
    values = np.array(list(finals.values()))
    assert f"| {values.mean():.0f} ± {values.std():.0f} |" in rows["ours"]
    assert f"| {iqm(values):.0f} [" in rows["ours"] and iqm(values) == (-300 - 200) / 2
    assert "| 0: -300, 1: -150, 2: -200, 3: -1200, 4: -100 (at 20,000) |" in rows["ours"]
    assert "| 30,000 (4 of 5 seeds) |" in rows["ours"]
    lasts = np.array([np.mean([-1500.0, -900.0, last]) for last in finals.values()])  # all 3 evals are the last 10
    assert rows["ours"].endswith(f"| {lasts.mean():.0f} ± {lasts.std():.0f} |")
    assert (
        "| 20,000 (1 of 1 seeds) | -700 ± 0 |" in rows["fix"] and "| 30,000 (1 of 1 seeds) | -250 ± 0 |" in rows["sb3"]
    )
    table = {(r["library"], r["seed"]): r for r in csv.DictReader((out / "final_returns.csv").open())}
    assert float(table[("ours", "0")]["process_hours"]) == 1.5  # three half-hours, one process
    # Resumed at 20k: its clock restarted (1800 s, then 5 s and 1805 s), so the hours sum the two segments' ends.
    assert float(table[("ours", "1")]["process_hours"]) == round((1800 + 1805) / 3600, 2)
    assert (
        table[("ours", "3")]["mean_last_10_evals"] == "-1200.0" and table[("ours", "3")]["best_eval_return"] == "-900.0"
    )
    assert float(table[("ours", "0")]["median_steps_per_sec"]) == 26.0  # the rates after 10k steps: 21 and 31
    assert table[("sb3", "0")]["eval_return"] == "-250.0" and table[("sb3", "0")]["process_hours"] == "nan"
    assert ("ours", "5") not in table
    assert (out / "curves_Pendulum-v1.png").stat().st_size > 10_000
