"""Carry a stopped SAC run between machines in a few MB: pack its latest checkpoint, unpack it where it goes on.

    python benchmarks/portable_run.py pack RUN_DIR PACK_DIR      # after the run stopped with a checkpoint
    python benchmarks/portable_run.py unpack PACK_DIR RUN_DIR    # on the next machine; then resume=RUN_DIR

A run that outlives the machine it trains on (benchmarks/lanes.sh) travels as committed files. A checkpoint with
its replay buffer is (obs_dim + act_dim + 1) * 4 + 2 bytes a row, 98 MB for
HalfCheetah at 1M steps. A pack keeps the checkpoint's networks, optimiser moments, RNG states and env state as they
are (state.safetensors, meta.json) and the replay buffer as the action of every env step (act_dim * 4 bytes a step,
24 MB for HalfCheetah at 1M), in chunk files that a later pack of the same run appends to and never rewrites, so that
git stores each action once. A MuJoCo task is deterministic: stepping a fresh env (seeded as the run seeded its own)
through those actions, resetting where an episode ended and restoring, where a chunk starts, the env state the run
resumed from there (kept with the chunk), rebuilds every observation, reward and flag of the buffer.

`pack` rebuilds the buffer before it writes anything and compares it with the checkpoint's, bit for bit; `unpack`
compares the rebuilt env's simulator state and observation with the ones the checkpoint saved. On another kind of
CPU the simulation may round differently: unpack then says by how much, and the run continues from the checkpoint's
own env state with the rows rebuilt there as its replay (valid transitions of the task under the recorded actions);
its next pack, on that CPU, rebuilds the same rows, since each chunk starts from the state its run restored.
Runs of Box-action tasks whose episode the checkpoint restores exactly (MuJoCo and classic control, not Box2D) can
be packed. A pack directory is meant to be committed after each pack: a pack stopped halfway (its chunk written, its
checkpoint not yet swapped) is undone by checking the directory out again and packing once more.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

from envs.make import make_env
from envs.state import get_env_state, set_env_state
from sac.config import EnvConfig, UserError
from sac.run.checkpoint import META_FILE, STATE_FILE, load_checkpoint, save_checkpoint
from sac.run.replay import ReplayBuffer, capacity
from sac.run.rundir import RunDir

CHECKPOINT, ACTIONS, RUN, RNG_FILE = "checkpoint", "actions", "run", "replay_rng.safetensors"


class Chunk(NamedTuple):
    """The actions of the env steps between two packs, and where the run took the first of them from."""

    actions: Tensor
    """(steps, act_dim)"""
    start: tuple[dict[str, Any], Tensor] | None
    """The env state and observation (obs_dim,) of the checkpoint the run resumed from before these steps (None for
    the first chunk: the freshly seeded env). Rebuilding each chunk from the state its run restored, not from where
    the previous chunk's rebuild ended, keeps a rebuild exact on a CPU that rounds earlier chunks differently."""


def chunk_path(pack: Path, first: int, end: int) -> Path:
    """The file of the actions of steps first + 1 ... end."""
    return pack / ACTIONS / f"steps_{first:09d}_{end:09d}.safetensors"


def read_chunks(pack: Path) -> list[Chunk]:
    """A pack's chunks in step order. Raises UserError on a gap between two of them."""
    chunks, end = [], 0
    for path in sorted((pack / ACTIONS).glob("steps_*.safetensors")):
        first, last = (int(part) for part in path.stem.removeprefix("steps_").split("_"))
        if first != end:
            raise UserError(f"{path}: starts after step {first}, but the chunks before it end at step {end}")
        tensors = load_file(path)
        with safe_open(path, "pt") as f:
            env_state = (f.metadata() or {}).get("env_state")
        start = (json.loads(env_state), tensors["obs"]) if env_state else None
        chunks.append(Chunk(tensors["action"], start))
        end = last
    return chunks


def write_chunk(pack: Path, first: int, chunk: Chunk) -> None:
    tensors, metadata = {"action": chunk.actions.contiguous()}, None
    if chunk.start is not None:
        tensors["obs"], metadata = chunk.start[1], {"env_state": json.dumps(chunk.start[0])}
    (pack / ACTIONS).mkdir(parents=True, exist_ok=True)
    save_file(tensors, chunk_path(pack, first, first + chunk.actions.shape[0]), metadata=metadata)


def actions_in_step_order(replay: dict[str, Tensor], capacity: int) -> Tensor:
    """The actions of the transitions a saved buffer still holds, oldest first: (transitions, act_dim).

    Rows are written in order from 0 and wrap at `capacity`; once the ring is full, the oldest row is the one the
    next write goes to (`ptr`)."""
    rows = torch.arange(replay["has_next"].shape[0])
    if rows.shape[0] == capacity:
        rows = torch.roll(rows, -int(replay["ptr"]))
    return replay["action"][rows[replay["has_next"][rows]]]


def rebuild(config: dict[str, Any], obs_dim: int, act_dim: int, chunks: list[Chunk]) -> tuple[ReplayBuffer, Any, Any]:
    """The replay buffer of a run that took the chunks' actions, rebuilt by stepping a fresh env through them as the
    training loop does (sac/run/train.py `collect`, `SingleSeed.store`) and restoring the env as its resume did
    (`restore_seed`) where a chunk starts; with the env and the observation the next action would be
    taken in."""
    env_cfg = EnvConfig(name=config["env"]["name"], max_episode_steps=config["env"]["max_episode_steps"])
    rows = capacity(config["buffer_size"], config["total_steps"])
    buffer = ReplayBuffer(obs_dim, act_dim, rows, torch.device("cpu"), seed=config["seed"])
    env = make_env(env_cfg, seed=config["seed"])
    obs, _ = env.reset()
    for chunk in chunks:
        if chunk.start is not None:
            set_env_state(env, chunk.start[0])
            obs = chunk.start[1].numpy()
        for action in chunk.actions.numpy():
            next_obs, reward, terminated, truncated, _ = env.step(action)
            buffer.add(obs, action, float(reward), next_obs, terminated, truncated)
            obs = env.reset()[0] if terminated or truncated else next_obs
    return buffer, env, obs


def _config(meta: dict[str, Any], path: Path) -> dict[str, Any]:
    """The run's config from checkpoint metadata, if its replay can be rebuilt: a Box2D world cannot be restored."""
    if meta.get("loop", {}).get("env", {}).get("box2d"):
        raise UserError(f"{path}: a Box2D env's episode cannot be restored, so its run cannot be packed")
    config: dict[str, Any] = meta["config"]
    return config


def _resumed_from(pack_dir: Path, step: int) -> tuple[dict[str, Any], Tensor]:
    """The env state and observation of the pack's checkpoint at `step`: where the run, unpacked or resumed from
    it, took its next steps from."""
    state, meta, _ = load_checkpoint(pack_dir / CHECKPOINT)
    if int(meta["step"]) != step:
        raise UserError(f"{pack_dir}: its checkpoint is at step {meta['step']}, its actions end at step {step}")
    return meta["loop"]["env"], state["obs"]


def pack(run_dir: Path, pack_dir: Path) -> str:
    """Pack `run_dir`'s latest checkpoint into `pack_dir` (appending to the actions an earlier pack stored there);
    returns a line saying what was written."""
    run = RunDir(run_dir)
    if not run.latest.exists():
        raise UserError(f"{run_dir} has no checkpoint to pack (expected {run.latest})")
    checkpoint = run.latest.resolve()
    _, meta, replay = load_checkpoint(checkpoint)
    if replay is None:
        raise UserError(f"{checkpoint} holds no replay buffer (checkpoint_buffer=false): nothing to rebuild it from")
    config = _config(meta, checkpoint)
    step, obs_dim, act_dim = int(meta["step"]), int(meta["obs_dim"]), int(meta["act_dim"])
    if replay["action"].shape[1] != act_dim:
        raise UserError(
            f"{checkpoint}: a replay row holds one action index (discrete SAC); only Box actions are packed"
        )

    chunks = read_chunks(pack_dir)
    have = sum(chunk.actions.shape[0] for chunk in chunks)
    held = actions_in_step_order(replay, capacity(config["buffer_size"], config["total_steps"]))
    if have > step:
        raise UserError(
            f"{pack_dir} holds {have} steps, more than {checkpoint} reached ({step}): a pack of another run"
        )
    if held.shape[0] < step - have:
        raise UserError(
            f"{checkpoint}: the buffer holds the last {held.shape[0]} steps, but {pack_dir} ends at step {have}: "
            f"the steps between were overwritten (pack more often than the buffer wraps)"
        )
    overlap = held.shape[0] - (step - have)
    stored = torch.cat([chunk.actions for chunk in chunks]) if chunks else held[:0]
    if overlap > 0 and not torch.equal(held[:overlap], stored[have - overlap :]):
        raise UserError(f"{pack_dir} holds other actions than {checkpoint}'s buffer: a pack of another run")
    new = Chunk(held[overlap:], _resumed_from(pack_dir, have) if have else None)

    buffer, _, _ = rebuild(config, obs_dim, act_dim, [*chunks, new])
    rebuilt = buffer.state_dict()
    differing = [k for k in replay if k != "rng" and not torch.equal(replay[k], rebuilt[k])]
    if differing:
        raise UserError(f"{checkpoint}: stepping the env through the actions does not rebuild {differing}; not packed")

    tmp = pack_dir / f".tmp-{CHECKPOINT}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in (STATE_FILE, META_FILE):
        shutil.copy2(checkpoint / name, tmp / name)
    save_file({"rng": replay["rng"]}, tmp / RNG_FILE)
    if step > have:
        write_chunk(pack_dir, have, new)
    shutil.rmtree(pack_dir / RUN, ignore_errors=True)
    shutil.copytree(run_dir, pack_dir / RUN, ignore=shutil.ignore_patterns("checkpoints", "wandb", "videos"))
    shutil.rmtree(pack_dir / CHECKPOINT, ignore_errors=True)
    tmp.rename(pack_dir / CHECKPOINT)
    return f"packed step {step} of {run_dir}: {step - have} new steps; the rebuilt replay buffer is identical"


def unpack(pack_dir: Path, run_dir: Path) -> str:
    """Write the run directory `run_dir` from `pack_dir`: its files, and its checkpoint with the rebuilt replay
    buffer; returns a line saying how closely the rebuilt env matches the checkpoint's."""
    if (run_dir / "checkpoints").exists():
        raise UserError(f"{run_dir} already holds checkpoints: unpack into a new directory")
    state, meta, _ = load_checkpoint(pack_dir / CHECKPOINT)
    config = _config(meta, pack_dir)
    step, obs_dim, act_dim = int(meta["step"]), int(meta["obs_dim"]), int(meta["act_dim"])
    chunks = read_chunks(pack_dir)
    if (stored := sum(chunk.actions.shape[0] for chunk in chunks)) != step:
        raise UserError(f"{pack_dir}: its actions end at step {stored}, its checkpoint is at step {step}")
    buffer, env, obs = rebuild(config, obs_dim, act_dim, chunks)
    try:
        rebuilt, saved = get_env_state(env), meta["loop"]["env"]
    finally:
        env.close()
    buffer.generator.set_state(load_file(pack_dir / CHECKPOINT / RNG_FILE)["rng"])
    gaps = {
        "simulator state": _largest_difference(rebuilt.get("mujoco", []), saved.get("mujoco", [])),
        "observation": _largest_difference(obs, state["obs"].numpy()),
    }

    shutil.copytree(pack_dir / RUN, run_dir, dirs_exist_ok=True)
    kept = {k: v for k, v in meta.items() if k not in ("format_version", "step", "state")}
    save_checkpoint(RunDir(run_dir).checkpoints, step, state, kept, buffer.state_dict())
    if all(gap == 0.0 for gap in gaps.values()):
        return f"unpacked step {step} into {run_dir}: the rebuilt env is the checkpoint's, bit for bit"
    said = ", ".join(f"{name} {gap:.3g}" for name, gap in gaps.items())
    return (
        f"unpacked step {step} into {run_dir}: the rebuilt env differs from the checkpoint's (largest |difference|: "
        f"{said}; another CPU rounds differently); the run continues from the checkpoint's own env state"
    )


def _largest_difference(a: Any, b: Any) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return np.inf
    return float(np.abs(a - b).max(initial=0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="pack RUN_DIR's latest checkpoint into PACK_DIR")
    p.add_argument("source", type=Path, metavar="RUN_DIR")
    p.add_argument("target", type=Path, metavar="PACK_DIR")
    u = sub.add_parser("unpack", help="write RUN_DIR from PACK_DIR; then train_sac.py resume=RUN_DIR")
    u.add_argument("source", type=Path, metavar="PACK_DIR")
    u.add_argument("target", type=Path, metavar="RUN_DIR")
    args = parser.parse_args()
    try:
        print((pack if args.command == "pack" else unpack)(args.source, args.target))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
