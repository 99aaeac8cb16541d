"""Every actor-gradient estimator measured on a saved SAC run's own policy and critics, as the live diagnostics measure
them during training (`diagnostics.grad_variance_every`): the estimator study's pathwise cell (issue 39), whose 1M
runs trained without diagnostics, measured at the checkpoints their packs kept.

    python benchmarks/checkpoint_diagnostics.py e4328cf:HalfCheetah_seed0 RUN_DIR ... --out FILE.jsonl
    python benchmarks/checkpoint_diagnostics.py --table FILE.jsonl     # its rows as a Markdown table

An argument is a run directory (its latest checkpoint, which holds the replay buffer) or COMMIT:NAME, the pack
`benchmarks/lanes/NAME/` as this repository's commit COMMIT holds it (portable_run.py: its checkpoint, and its replay
buffer rebuilt from the stored actions). Each writes one JSON line: the run, the step, and `grad/<estimator>/<stat>`
for every estimator (bias against the many-sample pathwise reference, total variance, SNR, cosine, variance x cost,
ms per estimate), on a replay batch drawn as the training loop's diagnostics draw theirs at that step.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from portable_run import CHECKPOINT, read_chunks, rebuild  # a sibling: this script's folder is on sys.path

from sac.config import AgentConfig, DiagnosticsConfig, TrainConfig
from sac.run.checkpoint import CheckpointError, load_checkpoint
from sac.run.evaluate import checkpoint_path, load_agent
from sac.run.replay import ReplayBuffer, capacity
from sac.run.train import diagnose

ROOT = Path(__file__).resolve().parents[1]


def from_pack(spec: str, tmp: Path) -> tuple[Any, dict[str, Any], ReplayBuffer]:
    """COMMIT:NAME -> the pack's agent, checkpoint metadata and rebuilt replay buffer."""
    commit, name = spec.split(":", 1)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, f"benchmarks/lanes/{name}"],
                             capture_output=True, check=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
    pack = tmp / "benchmarks" / "lanes" / name
    agent, meta = load_agent(pack / CHECKPOINT, torch.device("cpu"))
    buffer, env, _ = rebuild(meta["config"], int(meta["obs_dim"]), int(meta["act_dim"]), read_chunks(pack))
    env.close()
    return agent, meta, buffer


def from_run(path: Path) -> tuple[Any, dict[str, Any], ReplayBuffer]:
    """A run or checkpoint directory -> its agent, checkpoint metadata and saved replay buffer."""
    path = checkpoint_path(path)
    agent, meta = load_agent(path, torch.device("cpu"))
    _, _, replay = load_checkpoint(path)
    if replay is None:
        raise CheckpointError(f"checkpoint {path} holds no replay buffer (checkpoint_buffer=false, or not the newest)")
    c = meta["config"]
    buffer = ReplayBuffer(int(meta["obs_dim"]), int(meta["act_dim"]), capacity(c["buffer_size"], c["total_steps"]),
                          torch.device("cpu"), seed=c["seed"])  # fmt: skip
    buffer.load_state_dict(replay)
    return agent, meta, buffer


def measure(agent: Any, meta: dict[str, Any], buffer: ReplayBuffer, samples: int, reference: int) -> dict[str, Any]:
    c = meta["config"]
    config = TrainConfig(seed=int(c["seed"]), agent=AgentConfig(batch_size=int(c["agent"]["batch_size"])),
                         diagnostics=DiagnosticsConfig(samples=samples, reference_samples=reference))  # fmt: skip
    step = int(meta["step"])
    stats = diagnose(config, agent, buffer, step)
    return {"env_id": meta["env_id"], "seed": int(c["seed"]), "step": step,
            **{key: float(value) for key, value in stats.items()}}  # fmt: skip


ESTIMATORS = ("reparam", "reparam_k", "score")


def table(path: Path) -> str:
    """The rows of a JSON-lines file this script wrote, by env, step and seed: each estimator's SNR, total variance
    and variance x cost, and bias_z."""
    rows = sorted((json.loads(line) for line in path.read_text().splitlines() if line),
                  key=lambda r: (r["env_id"], r["step"], r["seed"]))  # fmt: skip
    head = ["env", "seed", "step"]
    head += [f"{stat} {e}" for stat in ("SNR", "total variance", "variance x cost", "bias_z") for e in ESTIMATORS]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        cells = [r["env_id"], str(r["seed"]), f"{r['step']:,}"]
        for stat in ("snr", "total_variance", "variance_times_cost", "bias_z"):
            cells += [f"{r[f'grad/{e}/{stat}']:.3g}" for e in ESTIMATORS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", help="RUN_DIR, CHECKPOINT_DIR or COMMIT:NAME (a pack in git history)")
    parser.add_argument("--out", type=Path, help="JSON lines, appended to")
    parser.add_argument("--table", type=Path, help="print this JSON-lines file's rows as a Markdown table and stop")
    parser.add_argument("--samples", type=int, default=DiagnosticsConfig.samples)
    parser.add_argument("--reference", type=int, default=DiagnosticsConfig.reference_samples)
    args = parser.parse_args()
    if args.table:
        print(table(args.table))
        return
    if not args.runs or args.out is None:
        parser.error("give runs and --out, or --table FILE")
    torch.set_num_threads(1)
    for spec in args.runs:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                loaded = from_run(Path(spec)) if Path(spec).exists() else from_pack(spec, Path(tmp))
            except (CheckpointError, subprocess.CalledProcessError, ValueError) as e:
                print(f"checkpoint_diagnostics.py: {spec}: {e}", file=sys.stderr)
                sys.exit(2)
            row = {"run": spec, **measure(*loaded, args.samples, args.reference)}
        with args.out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        snr = {k.split("/")[1]: round(v, 3) for k, v in row.items() if k.endswith("/snr")}
        print(f"{spec}: {row['env_id']} seed {row['seed']} step {row['step']:,}: SNR {snr}", flush=True)


if __name__ == "__main__":
    main()
