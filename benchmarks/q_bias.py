"""Value overestimation of saved SAC agents: their critics' Q against the soft return their policy then collects.

    python benchmarks/q_bias.py CHECKPOINT [CHECKPOINT ...] [--episodes 5] [--tail 500] [--out FILE.md]

CHECKPOINT: a checkpoint directory (.../checkpoints/step_N) or a run directory (its latest). For each, runs
`--episodes` episodes of the stochastic policy on the checkpoint's env, from the run's evaluation seeds, and prints a
markdown row (sac/analysis/value_bias.py): alpha, the states counted, the mean collected soft return G, the mean of
min_j Q_j (what SAC's targets use) and of the ensemble mean, and each one's bias Q - G (and relative to mean |G|).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from envs.make import make_env
from sac.agent import SAC
from sac.analysis.value_bias import q_bias
from sac.config import EnvConfig
from sac.run.checkpoint import CheckpointError
from sac.run.evaluate import checkpoint_path, load_agent
from sac.run.rollout import EVAL_SEED_OFFSET

HEADER = (
    "| checkpoint | step | alpha | states | soft return G | min_j Q_j | its bias (of mean abs G) | mean_j Q_j "
    "| its bias |",
    "|---" * 9 + "|",
)


def row(label: str, step: int, r: dict[str, float]) -> str:
    cells = [label, f"{step:,}", f"{r['alpha']:.4f}", f"{r['states']:.0f}", f"{r['return']:.1f}", f"{r['q_min']:.1f}"]
    cells += [f"{r['q_min_bias']:+.1f} ({100 * r['q_min_bias_rel']:+.1f}%)", f"{r['q_mean']:.1f}"]
    cells += [f"{r['q_mean_bias']:+.1f} ({100 * r['q_mean_bias_rel']:+.1f}%)"]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--tail", type=int, default=500, help="steps left out at the end of a time-limited episode")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args()
    if args.episodes < 1 or args.tail < 0:
        print(
            f"q_bias.py: --episodes {args.episodes} --tail {args.tail}: need episodes >= 1, tail >= 0", file=sys.stderr
        )
        sys.exit(2)
    torch.set_num_threads(1)
    lines = list(HEADER)
    print("\n".join(lines), flush=True)
    for given in args.checkpoints:
        path = checkpoint_path(given)
        try:
            agent, meta = load_agent(path, torch.device("cpu"))
        except (CheckpointError, FileNotFoundError) as e:
            print(f"q_bias.py: {e}", file=sys.stderr)
            sys.exit(2)
        if not isinstance(agent, SAC):
            print(f"q_bias.py: {path} holds a {type(agent).__name__}; only SAC (continuous) agents", file=sys.stderr)
            sys.exit(2)
        env_cfg = meta["config"]["env"]
        env = make_env(EnvConfig(name=env_cfg["name"], max_episode_steps=env_cfg.get("max_episode_steps")), seed=0)
        seed = int(meta["config"]["seed"]) + EVAL_SEED_OFFSET
        torch.manual_seed(seed)
        try:
            result = q_bias(agent, env, args.episodes, seed, args.tail)
        finally:
            env.close()
        lines.append(row(f"{meta['env_id']} seed {meta['config']['seed']}", int(meta["step"]), result))
        print(lines[-1], flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
