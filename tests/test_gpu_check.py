"""benchmarks/gpu_check.py --dry-run: the GPU check's stages, on the CPU with tiny settings, so CI keeps it working."""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sac.run.provenance import read_lock

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


def fetch_pins(root: Path) -> dict[str, str]:
    """The pins benchmarks/fetch_gpu_wheels.sh (under `root`) would fetch, read with its --print."""
    script = root / "benchmarks" / "fetch_gpu_wheels.sh"
    out = subprocess.run(["bash", str(script), "--print"], capture_output=True, text=True, check=True).stdout
    return dict(line.split("==") for line in out.split())


def test_carried_wheels_are_the_locked_versions() -> None:
    # The GPU run must use what the tests passed with: the script reads every version from the lock, so the two
    # cannot disagree, and no test here depends on what the registry serves today.
    pins = fetch_pins(ROOT)
    assert {"gymnasium", "mujoco", "mujoco-core", "hydra-core", "omegaconf", "antlr4-python3-runtime"} <= pins.keys()
    assert pins == {name: read_lock(ROOT / "requirements" / "lock.txt")[name] for name in pins}


def test_a_changed_lock_changes_the_carried_wheels_and_a_missing_pin_stops_the_script(tmp_path: Path) -> None:
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "requirements").mkdir()
    shutil.copy(ROOT / "benchmarks" / "fetch_gpu_wheels.sh", tmp_path / "benchmarks")
    lock = (ROOT / "requirements" / "lock.txt").read_text()
    mujoco = read_lock(ROOT / "requirements" / "lock.txt")["mujoco"]
    (tmp_path / "requirements" / "lock.txt").write_text(lock.replace(f"\nmujoco=={mujoco} ", "\nmujoco==9.9.9 "))
    assert fetch_pins(tmp_path)["mujoco"] == "9.9.9"
    (tmp_path / "requirements" / "lock.txt").write_text(lock.replace("\nomegaconf==", "\nnot-omegaconf=="))
    result = subprocess.run(["bash", str(tmp_path / "benchmarks" / "fetch_gpu_wheels.sh"), "--print"],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode != 0 and "pins no omegaconf" in result.stderr
