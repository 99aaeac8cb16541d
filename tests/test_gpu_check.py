"""benchmarks/gpu_check.py --dry-run: the GPU check's stages, on the CPU with tiny settings, so CI keeps it working."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # six stages, each in processes of its own: about a minute
def test_dry_run_runs_every_stage_and_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), str(out), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    # What a device call brings back: at most 8 plain files, no folders.
    assert sorted(p.name for p in out.iterdir()) == ["gpu_check.json", "learning_metrics.jsonl", "logs.txt"]
    r = json.loads((out / "gpu_check.json").read_text())
    assert r["settings"]["dry_run"] and r["machine"]["torch"]
    assert r["tests"]["rc"] == 0 and "skipped" in r["tests"]["summary"]  # the CUDA tests skip without a GPU
    assert r["speed_steps_per_sec"]["eager"] > 0
    assert set(r["speed_steps_per_sec"]) == {"eager", "compile", "cudagraphs", "compile+cudagraphs"}
    p = r["parallel"]
    assert p["exit_codes"] == [0] * p["seeds"]  # SIGTERM: each run saved and closed cleanly
    assert all(x > 0 for x in p["steps_per_sec_each"])
    assert math.isclose(p["aggregate_steps_per_sec"], sum(p["steps_per_sec_each"]))
    b = r["batched"]["seeds"]
    assert set(b) == {"1", "2"} and all(x["steps_per_sec"] > 0 for x in b.values())
    assert b["2"]["per_seed"] == pytest.approx(b["2"]["steps_per_sec"] / 2)
    assert r["batched"]["processes_beside"]["aggregate_steps_per_sec"] == p["aggregate_steps_per_sec"]
    learn = r["learning"]
    assert learn["exit_code"] == 0 and learn["steps"] > 0 and learn["steps_per_sec_second_half"] > 0
    assert learn["evaluations"] and learn["last_eval_return"] == learn["evaluations"][-1][1]
    assert set(r["stage_seconds"]) == {"tests", "speed", "parallel", "batched", "learning"}
    assert "===== learning [0]: rc 0" in (out / "logs.txt").read_text()


def test_carried_wheels_are_the_versions_installed_here() -> None:
    # The GPU run must use what this machine's tests passed with: a bumped dependency must bump the list.
    import re
    from importlib.metadata import version

    script = ROOT / "benchmarks" / "fetch_gpu_wheels.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    pins = dict(re.findall(r"([A-Za-z0-9_.-]+)==([0-9][0-9A-Za-z.]*)", script.read_text()))
    assert {"gymnasium", "mujoco", "hydra-core", "omegaconf", "antlr4-python3-runtime"} <= pins.keys()
    assert {name: version(name) for name in pins} == pins
