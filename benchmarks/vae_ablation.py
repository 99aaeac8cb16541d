"""Issue 41's ablation, chosen from the HalfCheetah-v5 VAE runs at 300k by the rule written in
benchmarks/measured/vae_encoder/README.md before any VAE run started:
- `vae/recon_loss` is the squared error summed over the normalised state's dimensions (each of variance about 1),
  so `recon_loss / obs_dim` is the share of the state's variance the latent loses;
- if its median over the HalfCheetah seeds at 300k is over 0.10, the KL term discards state information the critics
  could use: the ablation is `encoder.kl_weight=0.1` (lanes.sh cell vae-kl0.1);
- otherwise the latent keeps the state and the ablation is `encoder.latent=sample` (cell vae-sample).

    python benchmarks/vae_ablation.py    # reads vae_encoder/HalfCheetah_vae_seed*, writes vae_encoder/ablation.md

Each run's value is its training record at step 300,000 (one batch of 256 states), as the rule says; the mean over
the records of the last 10k steps is listed beside it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

from envs.make import filter_mujoco_warnings
from sac.analysis.runs import load_local_run

FOLDER = Path(__file__).resolve().parent / "measured" / "vae_encoder"
STEP = 300_000
THRESHOLD = 0.10


@dataclass(frozen=True)
class Ablation:
    cell: str
    """lanes.sh's cell (benchmarks/lanes.sh: cell_args)."""
    overrides: str
    why: str


KL = Ablation(
    "vae-kl0.1", "encoder=vae encoder.kl_weight=0.1", "the KL term discards state information the critics could use"
)
SAMPLE = Ablation(
    "vae-sample", "encoder=vae encoder.latent=sample", "the latent keeps the state: what is left is how it is read"
)


def choose(lost_shares: list[float]) -> Ablation:
    """The rule on each HalfCheetah seed's recon_loss / obs_dim at 300k."""
    return KL if float(np.median(lost_shares)) > THRESHOLD else SAMPLE


def obs_dim(env: str) -> int:
    filter_mujoco_warnings()
    with gym.make(env) as instance:
        shape = instance.observation_space.shape
    assert shape is not None
    return int(np.prod(shape))


def report(folders: list[Path]) -> str:
    """ablation.md's text from the HalfCheetah VAE runs in `folders`; exits naming any run without its 300k record."""
    rows, shares = [], []
    for folder in folders:
        run = load_local_run(folder)
        at = [r["vae/recon_loss"] for r in run.records if r["step"] == STEP and "vae/recon_loss" in r]
        if not at:
            raise SystemExit(f"vae_ablation.py: {folder} has no vae/recon_loss record at step {STEP}: not finished")
        last = [r["vae/recon_loss"] for r in run.records if STEP - 10_000 < r["step"] <= STEP and "vae/recon_loss" in r]
        dim = obs_dim(run.env_id)
        shares.append(at[0] / dim)
        rows.append(f"| {run.seed} | {at[0]:.3f} | {dim} | **{at[0] / dim:.3f}** | {np.mean(last) / dim:.3f} |")
    ablation, median = choose(shares), float(np.median(shares))
    return "\n".join(
        [
            "# Issue 41's ablation, chosen by the rule written before the runs (`python benchmarks/vae_ablation.py`)",
            "",
            "| HalfCheetah-v5 seed | `vae/recon_loss` at 300k | obs_dim | lost share at 300k | lost share, "
            "mean over the last 10k steps |",
            "| --- | --- | --- | --- | --- |",
            *rows,
            "",
            f"Median lost share at 300k: **{median:.3f}**, {'over' if median > THRESHOLD else 'not over'} "
            f"{THRESHOLD:.2f}: {ablation.why}. The ablation is **`{ablation.overrides}`** "
            f"(cell `{ablation.cell}` in `benchmarks/lanes.sh`), HalfCheetah-v5, seeds 0-2, 300k steps.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=FOLDER, help="holds the HalfCheetah_vae_seed* runs")
    parser.add_argument("--out", type=Path, help="where to write the choice (default: FOLDER/ablation.md)")
    args = parser.parse_args()
    text = report(sorted(args.folder.glob("HalfCheetah_vae_seed*")))
    (args.out or args.folder / "ablation.md").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
