"""Which state dimensions a saved VAE state-encoder's latent keeps: R^2 of its reconstruction, dimension by dimension.

    python benchmarks/vae_latent_dims.py CHECKPOINT [CHECKPOINT ...] [--recent 10000] [--out FILE.md]

CHECKPOINT: a checkpoint directory (.../checkpoints/step_N) or a run directory (its latest), of a run with
`encoder=vae`; it must hold the replay buffer (a run's latest checkpoint does). For each task, prints a markdown table:
one row per state dimension, one column per checkpoint, each cell "R^2 over the buffer / over its last `--recent`
states" (sac/analysis/latent.py): the share of that dimension's normalised variance the decoder recovers from the
posterior mean, on every state the VAE trains on and on the latest policy's. The last row is the mean lost share,
mean_d (1 - R^2_d).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import torch

from envs.make import make_env
from sac.analysis.latent import reconstruction_r2, replay_states, state_names
from sac.config import EnvConfig
from sac.run.checkpoint import CheckpointError, load_checkpoint
from sac.run.evaluate import checkpoint_path, load_agent


def column(path: Path, recent: int) -> tuple[str, str, list[str], list[tuple[float, float]]]:
    """A checkpoint -> (env id, column label, state names, (R^2 over the buffer, over its last `recent`) per dim)."""
    agent, meta = load_agent(path, torch.device("cpu"))
    vae = getattr(getattr(agent, "encoder", None), "vae", None)
    _, _, replay = load_checkpoint(path)
    if vae is None or replay is None:
        what = "no VAE encoder" if vae is None else "no replay buffer (only a run's latest checkpoint keeps one)"
        raise CheckpointError(f"checkpoint {path} has {what}")
    env_cfg = meta["config"]["env"]
    env = make_env(EnvConfig(name=env_cfg["name"], max_episode_steps=env_cfg.get("max_episode_steps")), seed=0)
    try:
        names = state_names(env)
    finally:
        env.close()
    states = replay_states(replay)
    whole, latest = reconstruction_r2(vae, states), reconstruction_r2(vae, states[-recent:])
    run = path.parent.parent.name if path.parent.name == "checkpoints" else path.name
    label = f"{run} ({int(meta['step']):,})"
    return str(meta["env_id"]), label, names, list(zip(whole.tolist(), latest.tolist(), strict=True))


def table(columns: list[tuple[str, list[str], list[tuple[float, float]]]], recent: int) -> list[str]:
    names = columns[0][1]
    header = "| state dimension | " + " | ".join(label for label, _, _ in columns) + " |"
    lines = [header, "|---" * (1 + len(columns)) + "|"]
    for d, name in enumerate(names):
        lines.append(f"| {name} | " + " | ".join(f"{r2[d][0]:.2f} / {r2[d][1]:.2f}" for _, _, r2 in columns) + " |")
    lost = [
        f"{sum(1 - a for a, _ in r2) / len(r2):.3f} / {sum(1 - b for _, b in r2) / len(r2):.3f}" for _, _, r2 in columns
    ]
    lines.append(f"| mean lost share, 1 - R^2 (all / last {recent:,}) | " + " | ".join(lost) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--recent", type=int, default=10_000, help="the latest states, the current policy's")
    parser.add_argument("--out", type=Path, help="also write the tables here")
    args = parser.parse_args()
    if args.recent < 2:
        print(f"vae_latent_dims.py: --recent {args.recent}: need at least 2 states for a variance", file=sys.stderr)
        sys.exit(2)
    torch.set_num_threads(1)
    by_env: dict[str, list[tuple[str, list[str], list[tuple[float, float]]]]] = defaultdict(list)
    for given in args.checkpoints:
        try:
            env_id, label, names, r2 = column(checkpoint_path(given), args.recent)
        except (CheckpointError, FileNotFoundError) as e:
            print(f"vae_latent_dims.py: {e}", file=sys.stderr)
            sys.exit(2)
        by_env[env_id].append((label, names, r2))
    lines = []
    for env_id, columns in by_env.items():
        lines += [f"### {env_id}: R^2 of each state dimension (over the replay buffer / its last {args.recent:,})", ""]
        lines += [*table(columns, args.recent), ""]
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
