"""A run's checkpoints over its life: saved when due (every `checkpoint_every` steps, at the last step, on a stop
request) behind the NaN guard, and the one a resume starts from loaded and checked against the run. The file
format is checkpoint.py's; what a SAC loop puts in one is train.py's (`snapshot`, `restore_seed`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from sac.config import UserError
from sac.run.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from sac.run.logger import to_floats
from sac.run.rundir import Identity, RunDir
from sac.run.schedule import due


class TrainingDiverged(UserError):
    """A loss or a parameter became NaN or infinite."""


class Snapshot(NamedTuple):
    """What a loop hands to `Checkpointer.save`: its tensors, its JSON state, the replay buffer (or None) and the
    parameters the NaN guard checks, by name."""

    state: dict[str, Any]
    loop: dict[str, Any]
    replay: dict[str, Tensor] | None
    parameters: dict[str, list[Tensor]]


class Resumed(NamedTuple):
    step: int
    state: dict[str, Any]
    loop: dict[str, Any]
    replay: dict[str, Tensor] | None


def check_finite(
    run: RunDir, step: int, values: Mapping[str, Any], parameters: dict[str, list[Tensor]] | None = None
) -> None:
    """The NaN guard: stop with one line naming the step and the first non-finite value or parameter set, before
    anything non-finite reaches a checkpoint (the last good one is never overwritten)."""
    bad = [f"{k} is {v}" for k, v in to_floats(values).items() if not np.isfinite(v)]
    if parameters and not bad:
        finite = torch.stack([torch.stack([p.isfinite().all() for p in ps]).all() for ps in parameters.values()])
        bad = [f"{name} parameters are not finite" for name, ok in zip(parameters, finite.tolist(), strict=True)
               if not ok]  # fmt: skip
    if bad:
        latest = run.latest
        kept = (
            f"the last good checkpoint, {latest.resolve().name}, is intact"
            if latest.exists()
            else "no checkpoint was saved"
        )
        raise TrainingDiverged(f"step {step}: {bad[0]}; training stopped and {kept}")


class Checkpointer:
    """Saves the checkpoints of the run in `run` and loads the one it resumes from. `meta` is what every checkpoint
    records about the run (session.run_meta); `keep_older_replays`: a seed of a batch keeps its older checkpoints'
    replay buffers until every seed has saved (the loop drops them then)."""

    def __init__(self, run: RunDir, meta: dict[str, Any], every: int, total_steps: int, keep_older_replays: bool):
        self.run, self.meta = run, meta
        self.every, self.total_steps = every, total_steps
        self.keep_older_replays = keep_older_replays
        self.saved: Path | None = None
        """The checkpoint the last save wrote."""

    def save(self, before: int, step: int, snapshot: Callable[[], Snapshot], force: bool = False) -> None:
        """Save when due after the steps from `before` to `step`, at the last step, or with `force`."""
        if not (force or due(self.every, before, step) or step >= self.total_steps):
            return
        snap = snapshot()
        check_finite(self.run, step, {}, snap.parameters)
        self.saved = save_checkpoint(
            self.run.checkpoints, step, snap.state, {**self.meta, "loop": snap.loop}, snap.replay,
            keep_older_replays=self.keep_older_replays,
        )  # fmt: skip

    def load(self, path: Path) -> Resumed:
        """The checkpoint at `path`, checked to be this run's (identity, env and sizes) and within its total_steps."""
        if not path.exists():
            raise CheckpointError(f"cannot resume: {path} does not exist (the run saved no checkpoint)")
        state, saved, replay = load_checkpoint(path)
        try:
            saved_identity = Identity.read(saved)
        except UserError as e:
            raise CheckpointError(f"checkpoint {path}: {e}") from None
        shape, identity = ("env_id", "obs_dim", "act_dim"), Identity.read(self.meta)
        if saved_identity != identity or [saved.get(k) for k in shape] != [self.meta[k] for k in shape]:
            raise CheckpointError(
                f"checkpoint {path} is a {saved_identity.label} run on {saved.get('env_id')}, "
                f"not a {identity.label} run on {self.meta['env_id']}"
            )
        step = int(saved["step"])
        if self.total_steps < step:
            raise UserError(
                f"total_steps={self.total_steps} is below the {step} steps of {path}: "
                "a resumed run keeps its total_steps or extends it"
            )
        return Resumed(step, state, saved.get("loop", {}), replay)
