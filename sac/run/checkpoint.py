"""Checkpoints: tensors in safetensors, everything else in JSON. Loading never unpickles anything.

A checkpoint is a directory `step_<N>/` holding
    state.safetensors   every tensor of the training state: networks, targets, optimizer moments,
                        log_alpha, RNG states, the current observation
    replay.safetensors  the filled part of the replay buffer (newest checkpoint only, if enabled)
    meta.json           the structure of that state with tensors replaced by references, the step
                        counters, the env's own state, the env id and the resolved config
It is written to a temporary directory and renamed into place, so a crash leaves either the old
checkpoint set or the new one, never a half-written directory; `latest` is a symlink swapped atomically.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from sac.config import UserError

FORMAT_VERSION = 1
STATE_FILE, REPLAY_FILE, META_FILE = "state.safetensors", "replay.safetensors", "meta.json"


class CheckpointError(UserError):
    """A checkpoint is missing, incomplete, corrupt or does not fit the run."""


def save_checkpoint(
    checkpoints_dir: Path,
    step: int,
    state: dict[str, Any],
    meta: dict[str, Any],
    replay_state: dict[str, Tensor] | None,
    keep_older_replays: bool = False,
) -> Path:
    """Write `checkpoints_dir/step_<step>` atomically, point `latest` at it and return its path.

    The older checkpoints' replay buffers are deleted (one on disk is enough to resume) unless
    `keep_older_replays`: batched seeds delete them with `drop_older_replays` once every seed has saved, so
    that a crash between two seeds' saves leaves a step all seeds can resume from."""
    checkpoints_dir.mkdir(parents=True, exist_ok=True)
    final = checkpoints_dir / f"step_{step:09d}"
    tmp = checkpoints_dir / f".tmp-{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()

    tensors: dict[str, Tensor] = {}
    structure = _split(state, "state", tensors)
    save_file(tensors, tmp / STATE_FILE)
    if replay_state is not None:
        save_file({k: v.detach().cpu().contiguous() for k, v in replay_state.items()}, tmp / REPLAY_FILE)
    meta = {"format_version": FORMAT_VERSION, "step": step, "state": structure, **meta}
    (tmp / META_FILE).write_text(json.dumps(meta, indent=1))
    for path in tmp.iterdir():
        _fsync(path)

    if final.exists():  # re-saving the same step (e.g. the final save right after a periodic one)
        shutil.rmtree(final)
    os.rename(tmp, final)
    link = checkpoints_dir / ".latest-tmp"
    link.unlink(missing_ok=True)
    link.symlink_to(final.name)
    os.replace(link, checkpoints_dir / "latest")
    _fsync(checkpoints_dir)

    if replay_state is not None and not keep_older_replays:
        drop_older_replays(final)
    return final


def drop_older_replays(checkpoint: Path) -> None:
    """Delete the replay buffers of every checkpoint beside `checkpoint` but its own."""
    for old in checkpoint.parent.glob(f"step_*/{REPLAY_FILE}"):
        if old.parent != checkpoint:
            old.unlink()


def checkpoint_step(path: Path) -> int:
    """The step of a checkpoint directory (or of the `latest` link to one), from its name `step_<N>`."""
    return int(path.resolve().name.removeprefix("step_"))


def load_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Tensor] | None]:
    """Read a checkpoint directory -> (state, meta, replay_state or None). Raises CheckpointError."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path} does not exist (expected a directory holding {META_FILE})")
    try:
        meta = json.loads((path / META_FILE).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} has no {META_FILE}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint {path}/{META_FILE} is not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has an unknown format (expected format_version {FORMAT_VERSION})")
    tensors = _load_tensors(path / STATE_FILE)
    try:
        state = _join(meta["state"], tensors)
    except KeyError as e:
        raise CheckpointError(f"checkpoint {path} is incomplete: {e} is missing") from None
    replay = _load_tensors(path / REPLAY_FILE) if (path / REPLAY_FILE).exists() else None
    return state, meta, replay


def _load_tensors(path: Path) -> dict[str, Tensor]:
    if not path.exists():
        raise CheckpointError(f"checkpoint file {path} is missing")
    try:
        return load_file(path)
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"checkpoint file {path} is truncated or corrupt ({e})") from None


def _split(obj: Any, key: str, tensors: dict[str, Tensor]) -> Any:
    """Replace each tensor in a nested state by {"tensor": key} and collect it in `tensors`.

    Dicts become lists of [key, value] pairs so that int keys (optimizer states) survive JSON.
    """
    if isinstance(obj, Tensor):
        tensors[key] = obj.detach().cpu().clone()
        return {"tensor": key}
    if isinstance(obj, dict):
        return {"dict": [[k, _split(v, f"{key}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_split(v, f"{key}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot checkpoint {type(obj).__name__} at {key}")


def _join(obj: Any, tensors: dict[str, Tensor]) -> Any:
    """Inverse of `_split`."""
    if isinstance(obj, dict) and "tensor" in obj:
        return tensors[obj["tensor"]]
    if isinstance(obj, dict) and "dict" in obj:
        return {k: _join(v, tensors) for k, v in obj["dict"]}
    if isinstance(obj, list):
        return [_join(v, tensors) for v in obj]
    return obj


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def restore(target: Any, state: dict[str, Any], path: str | Path) -> None:
    """`target.load_state_dict(state)`, turning a shape or key mismatch into one CheckpointError line."""
    try:
        target.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError) as e:
        first_line = str(e).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint {path} does not fit this run: {first_line}") from None
