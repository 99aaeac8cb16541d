"""Issue 40's bf16 learning parity: the verdict's rule (benchmarks/bf16_verdict.py) on returns whose answer is known,
the committed verdict recomputed from the committed runs, and precision=auto's BF16_PARITY as that verdict says."""

import subprocess
import sys
from pathlib import Path

import numpy as np
from helpers import load_script

from sac.run import device

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bf16_verdict.py"
VERDICT = ROOT / "benchmarks" / "measured" / "bf16_parity" / "verdict.md"


def test_the_rule_on_returns_with_a_known_answer() -> None:
    judge = load_script(SCRIPT).judge
    fp32 = np.array([7185.0, 7912.0, 8613.0])
    inside = judge(np.array([7400.0, 7600.0, 8000.0]), fp32)
    assert inside.holds and inside.fp32_range == (7185.0, 8613.0) and inside.bf16_iqm[0] == 7666.666666666667
    assert inside.p_bf16_better[0] == 4 / 9  # 7400 and 7600 beat one run each, 8000 two: 4 of 9 pairs
    # Every bf16 run below every fp32 run: the IQM is outside the spread and P(bf16 > fp32) is 0 in every resample.
    below = judge(np.array([5000.0, 5500.0, 6000.0]), fp32)
    assert not below.within_spread and below.p_bf16_better == (0.0, 0.0, 0.0) and not below.holds
    # Every bf16 run above every fp32 run: parity is two-sided, so this is no parity either.
    high = judge(np.array([9000.0, 9500.0, 9900.0]), fp32)
    assert not high.within_spread and high.p_bf16_better[1] == 1.0 and not high.holds


def test_the_committed_verdict_is_the_runs_verdict_and_bf16_parity_follows_it(tmp_path: Path) -> None:
    out = tmp_path / "verdict.md"
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, capture_output=True, cwd=ROOT)
    assert out.read_text() == VERDICT.read_text()
    assert out.read_text().endswith(f"BF16_PARITY = {device.BF16_PARITY}.\n")
