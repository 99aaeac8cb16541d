"""Issue 41's ablation: the rule that chooses it (benchmarks/vae_ablation.py) on known answers, the committed choice
recomputed from the committed runs, and the lanes queueing the chosen cell's three HalfCheetah seeds."""

import subprocess
import sys
from pathlib import Path

from helpers import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "vae_ablation.py"
CHOICE = ROOT / "benchmarks" / "measured" / "vae_encoder" / "ablation.md"


def test_the_rule_takes_the_median_seed_against_the_threshold() -> None:
    script = load_script(SCRIPT)
    assert script.choose([0.26, 0.24, 0.30]) is script.KL
    assert script.choose([0.02, 0.05, 0.40]) is script.SAMPLE  # one seed losing much is not the median
    assert script.choose([0.05, 0.11, 0.12]) is script.KL
    assert script.choose([0.10, 0.10, 0.50]) is script.SAMPLE  # "over 0.10": the threshold itself is not over


def test_the_committed_choice_is_the_runs_choice_and_the_lanes_queue_its_cell(tmp_path: Path) -> None:
    out = tmp_path / "ablation.md"
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, capture_output=True, cwd=ROOT)
    assert out.read_text() == CHOICE.read_text()
    script = load_script(SCRIPT)
    chosen = next(a for a in (script.KL, script.SAMPLE) if f"(cell `{a.cell}`" in out.read_text())
    lanes = (ROOT / "benchmarks" / "lanes.sh").read_text()
    assert all(f"vae_encoder:HalfCheetah:{chosen.cell}:{seed}" in lanes for seed in range(3))
    assert f"    {chosen.cell}) echo {chosen.overrides} ;;" in lanes
