"""benchmarks/portable_run.py: a run packed (its replay as actions), unpacked elsewhere and resumed is the same run."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import run_entry_point
from safetensors.torch import load_file
from test_resume import COMMON, kill_at_checkpoint, records

from sac.run.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "benchmarks" / "portable_run.py"
# 800 steps of InvertedPendulum with checkpoints every 200; a buffer of 600 rows wraps between steps 400 and 600
# (an episode's final state takes a row of its own), so the second pack appends to the first's actions.
ARGV = [*COMMON, "total_steps=800", "checkpoint_every=200", "buffer_size=600"]


def tool(*args: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # five training processes: about 45 s
def test_packed_unpacked_and_resumed_twice_logs_what_an_uninterrupted_run_logs(tmp_path: Path) -> None:
    reference, pack = tmp_path / "reference", tmp_path / "pack"
    code, _, stderr = run_entry_point("train_sac", [*ARGV, f"hydra.run.dir={reference}"])
    assert code == 0, stderr

    first = tmp_path / "first"
    kill_at_checkpoint("train_sac", [*ARGV, f"hydra.run.dir={first}"], first, 400)
    done = tool("pack", first, pack)
    assert done.returncode == 0 and "400 new steps" in done.stdout, done.stderr
    chunk = load_file(pack / "actions" / "steps_000000000_000000400.safetensors")["action"]
    assert chunk.shape == (400, 1)
    other_cpu = tmp_path / "other_cpu"
    shutil.copytree(pack, other_cpu)

    second = tmp_path / "second"  # another machine: only the pack came along
    done = tool("unpack", pack, second)
    assert done.returncode == 0 and "bit for bit" in done.stdout, done.stderr
    _, _, unpacked = load_checkpoint(second / "checkpoints" / "latest")
    _, _, original = load_checkpoint(first / "checkpoints" / "latest")
    assert unpacked is not None and original is not None
    assert all(torch.equal(unpacked[k], original[k]) for k in original)
    kill_at_checkpoint("train_sac", [f"resume={second}", f"hydra.run.dir={tmp_path / 'h2'}"], second, 600)
    _, _, wrapped = load_checkpoint(second / "checkpoints" / "latest")
    assert wrapped is not None and wrapped["obs"].shape[0] == 600  # the ring is full: its oldest rows are gone
    done = tool("pack", second, pack)
    assert done.returncode == 0 and "200 new steps" in done.stdout, done.stderr

    third = tmp_path / "third"
    done = tool("unpack", pack, third)
    assert done.returncode == 0 and "bit for bit" in done.stdout, done.stderr
    code, _, stderr = run_entry_point("train_sac", [f"resume={third}", f"hydra.run.dir={tmp_path / 'h3'}"])
    assert code == 0, stderr
    assert records(third) == records(reference)
    assert (third / "checkpoints" / "latest" / "state.safetensors").read_bytes() == (
        reference / "checkpoints" / "latest" / "state.safetensors"
    ).read_bytes()

    # The reference run's actions are the packed run's: its last checkpoint appends to the same pack.
    done = tool("pack", reference, pack)
    assert done.returncode == 0 and "200 new steps" in done.stdout, done.stderr

    # A CPU that rounds differently: the simulator state saved at step 400 is not where rebuilding the first 400
    # steps ends. The run goes on from its saved state; its next pack rebuilds its steps from there, bit for bit.
    meta_path = other_cpu / "checkpoint" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["loop"]["env"]["mujoco"][3] += 1e-6  # a joint velocity (after time and the two positions)
    meta_path.write_text(json.dumps(meta))
    fourth = tmp_path / "fourth"
    done = tool("unpack", other_cpu, fourth)
    assert done.returncode == 0 and "simulator state 1e-06" in done.stdout, done.stdout
    kill_at_checkpoint("train_sac", [f"resume={fourth}", f"hydra.run.dir={tmp_path / 'h4'}"], fourth, 600)
    done = tool("pack", fourth, other_cpu)
    assert done.returncode == 0 and "200 new steps" in done.stdout, done.stderr
    fifth = tmp_path / "fifth"
    done = tool("unpack", other_cpu, fifth)
    assert done.returncode == 0 and "bit for bit" in done.stdout, done.stderr
    _, _, went_on = load_checkpoint(fourth / "checkpoints" / "latest")
    _, _, rebuilt = load_checkpoint(fifth / "checkpoints" / "latest")
    assert went_on is not None and rebuilt is not None and all(torch.equal(rebuilt[k], went_on[k]) for k in went_on)
    assert not torch.equal(went_on["obs"], wrapped["obs"])  # the perturbed run's rows are its own


@pytest.mark.slow  # a training process: about 10 s
def test_bad_input_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    run, pack = tmp_path / "run", tmp_path / "pack"
    failures = [("has no checkpoint", tool("pack", run, pack))]
    code, _, stderr = run_entry_point(
        "train_sac", [*ARGV, "total_steps=400", "buffer_size=300", f"hydra.run.dir={run}"]
    )
    assert code == 0, stderr
    failures.append(("were overwritten", tool("pack", run, pack)))  # 300 rows: the first steps are gone
    failures.append(("already holds checkpoints", tool("unpack", pack, run)))
    failures.append(("does not exist", tool("unpack", pack, tmp_path / "new")))  # nothing was packed
    for expected, done in failures:
        assert done.returncode == 2 and expected in done.stderr and done.stderr.count("\n") == 1, done.stderr
