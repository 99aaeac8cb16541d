"""What both training loops (SAC in train_sac.py, REINFORCE in train_reinforce.py) share around their own steps.

A `Session` owns one run's lifecycle: the run directory (new, or resumed with the records logged after
its checkpoint dropped), the logger and run.json, evaluation (and video) on an env of its own,
checkpoints behind the NaN guard, SIGINT/SIGTERM turned into a request the loop sees at its next
step, and the mark that the run reached its last step (`session.finished`). A loop builds its env and agent, restores
`session.resumed` into them if there is one, then, inside `with session:`, steps, calls `session.after_step` after
each of its steps (evaluation and checkpoint when due, a stop request answered), and `session.finish()` at the end.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from envs import env_id
from envs.make import make_env
from sac.config import EnvConfig, UserError, WandbConfig
from sac.run import provenance
from sac.run.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from sac.run.logger import Logger, to_floats
from sac.run.options import as_dict
from sac.run.rollout import EVAL_SEED_OFFSET, Policy, evaluate, record_video
from sac.run.rundir import Identity, RunDir


class TrainingDiverged(UserError):
    """A loss or a parameter became NaN or infinite."""


def due(every: int, before: int, after: int) -> bool:
    """A multiple of `every` lies in (before, after]: periodic work is due.

    For SAC, which advances one step at a time, that is `after % every == 0`; REINFORCE advances a
    batch of whole episodes at a time, so "every N steps" means "in the batch that crosses k * N".
    """
    return every > 0 and after // every > before // every


@dataclass
class Schedule:
    """The periodic work both loops share, read off their configs."""

    env: EnvConfig
    wandb: WandbConfig
    seed: int
    total_steps: int
    eval_every: int
    eval_episodes: int
    checkpoint_every: int
    video_every: int

    @classmethod
    def of(cls, c: Any) -> Schedule:
        return cls(**{name: getattr(c, name) for name in cls.__dataclass_fields__})


class Snapshot(NamedTuple):
    """What a loop hands to `Session.checkpoint`: its tensors, its JSON state, the replay buffer (or
    None) and the parameters the NaN guard checks, by name."""

    state: dict[str, Any]
    loop: dict[str, Any]
    replay: dict[str, Tensor] | None
    parameters: dict[str, list[Tensor]]


@dataclass
class SeedBatch:
    """How a session differs when it is one of several seeds trained in one process (sac/run/seeds.py): the
    stop requests all of them share, the checkpoint they all resume from (latest when None), and the seed's
    label and place on the console. Its checkpoints keep the older replay buffers: the loop drops them once
    every seed has saved (checkpoint.drop_older_replays)."""

    stop: list[int]
    resume_from: Path | None
    label: str
    position: int


class Resumed(NamedTuple):
    step: int
    state: dict[str, Any]
    loop: dict[str, Any]
    replay: dict[str, Tensor] | None


def run_meta(identity: Identity, c: Any, obs_dim: int, act_dim: int) -> dict[str, Any]:
    """What every checkpoint of a run records about it (a Session's `meta`): its identity's fields, the env id, the
    observation and action sizes, and the resolved config as plain data."""
    return {**identity.fields(), "env_id": env_id(c.env.name), "obs_dim": obs_dim, "act_dim": act_dim,
            "config": as_dict(c)}  # fmt: skip


class Session:
    """One run of a training loop; see the module docstring. `meta` is what every checkpoint records
    about the run: its identity's fields (rundir.Identity), env id, obs_dim, act_dim and the resolved config."""

    def __init__(
        self,
        run: RunDir,
        c: Any,
        meta: dict[str, Any],
        resume: bool,
        batch: SeedBatch | None = None,
    ) -> None:
        self.run = run
        self.schedule = Schedule.of(c)
        self.meta = meta
        self.batch = batch
        resume_from = batch.resume_from if batch is not None else None
        self.resumed = self._load(meta, resume_from or run.latest) if resume else None
        if self.resumed is None:
            run.create(meta["config"])
        self.start_step = self.resumed.step if self.resumed is not None else 0
        """The step the loop starts after: 0, or the resumed checkpoint's."""
        self.finished = False
        """Set by the loop when it has done its last step (not when it stopped early)."""
        self.eval_metrics: dict[str, float] = {}
        self._stop: list[int] = batch.stop if batch is not None else []
        self.saved: Path | None = None
        """The checkpoint the last `checkpoint` call wrote."""

    def _load(self, meta: dict[str, Any], path: Path) -> Resumed:
        if not path.exists():
            raise CheckpointError(f"cannot resume: {path} does not exist (the run saved no checkpoint)")
        state, saved, replay = load_checkpoint(path)
        try:
            saved_identity = Identity.read(saved)
        except UserError as e:
            raise CheckpointError(f"checkpoint {path}: {e}") from None
        shape, identity = ("env_id", "obs_dim", "act_dim"), Identity.read(meta)
        if saved_identity != identity or [saved.get(k) for k in shape] != [meta[k] for k in shape]:
            raise CheckpointError(
                f"checkpoint {path} is a {saved_identity.label} run on {saved.get('env_id')}, "
                f"not a {identity.label} run on {meta['env_id']}"
            )
        step = int(saved["step"])
        if self.schedule.total_steps < step:
            raise UserError(
                f"total_steps={self.schedule.total_steps} is below the {step} steps of {path}: "
                "a resumed run keeps its total_steps or extends it"
            )
        return Resumed(step, state, saved.get("loop", {}), replay)

    def __enter__(self) -> Session:
        s = self.schedule
        resumed = self.resumed is not None
        if resumed:
            self.run.drop_records_after(self.start_step)
        previous_id = self.run.read_info().get("wandb_run_id") if resumed else None
        identity = Identity.read(self.meta)
        label, position = (self.batch.label, self.batch.position) if self.batch is not None else (None, 0)
        self.logger = Logger(
            self.run, self.meta["config"], s.wandb, s.total_steps, identity.label, resumed, previous_id, label, position
        )
        self.run.write_info(**identity.fields(), wandb_run_id=self.logger.wandb_run_id, pid=os.getpid(), finished=False)
        self.run.add_segment(self.start_step, provenance.record())
        self.eval_env = make_env(s.env, seed=s.seed + EVAL_SEED_OFFSET)
        self._previous_handlers = catch_stop_signals(self._stop.append)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self.logger.close(exit_code=0 if exc_type is None else 1)
        if exc_type is None and self.finished:
            self.run.write_info(finished=True)  # a re-launched sweep skips this run
        self.eval_env.close()

    @property
    def stop_requested(self) -> bool:
        """SIGINT or SIGTERM arrived: the loop saves a checkpoint and leaves."""
        return bool(self._stop)

    def log(self, step: int, metrics: Mapping[str, Tensor | float]) -> dict[str, float]:
        """Log and stop with one line if any value is not finite (the NaN guard on losses)."""
        logged = self.logger.log(step, metrics)
        self._check_finite(step, logged)
        return logged

    def evaluate(self, before: int, step: int, policy: Policy) -> None:
        """Evaluate deterministically when due (and at the last step); film every `video_every`-th evaluation."""
        s = self.schedule
        if not (due(s.eval_every, before, step) or step >= s.total_steps):
            return
        seed = s.seed + EVAL_SEED_OFFSET
        self.eval_metrics = evaluate(self.eval_env, policy, s.eval_episodes, seed)
        self.logger.log(step, self.eval_metrics)
        if s.video_every and (step // s.eval_every) % s.video_every == 0:
            path = self.run.video(step)
            record_video(s.env, policy, seed, path)
            self.logger.log_video(step, "eval/video", path)

    def checkpoint(self, before: int, step: int, snapshot: Callable[[], Snapshot], force: bool = False) -> None:
        """Save when due, at the last step, or with `force` (a stop request)."""
        s = self.schedule
        if not (force or due(s.checkpoint_every, before, step) or step >= s.total_steps):
            return
        snap = snapshot()
        self._check_finite(step, {}, snap.parameters)
        self.saved = save_checkpoint(
            self.run.checkpoints, step, snap.state, {**self.meta, "loop": snap.loop}, snap.replay,
            keep_older_replays=self.batch is not None,
        )  # fmt: skip

    def after_step(self, before: int, step: int, policy: Policy, snapshot: Callable[[], Snapshot]) -> bool:
        """The periodic work every loop does after its steps from `before` to `step`: evaluate and checkpoint when
        due; on a stop request, checkpoint now and say how to continue. True when the loop must stop."""
        self.evaluate(before, step, policy)
        self.checkpoint(before, step, snapshot)
        if not self.stop_requested:
            return False
        self.checkpoint(step, step, snapshot, force=True)
        if self.batch is None:  # a batch of seeds resumes from its own directory: its loop says so
            print(f"stopped at step {step}: checkpoint saved; continue with resume={self.run.path}")
        return True

    def finish(self) -> dict[str, float]:
        """The loop reached its last step: mark the run finished (on leaving `with session:`); the last eval metrics."""
        self.finished = True
        return self.eval_metrics

    def _check_finite(
        self, step: int, values: Mapping[str, Any], parameters: dict[str, list[Tensor]] | None = None
    ) -> None:
        """Stop with one line naming the step and the first non-finite value or parameter set."""
        bad = [f"{k} is {v}" for k, v in to_floats(values).items() if not np.isfinite(v)]
        if parameters and not bad:
            finite = torch.stack([torch.stack([p.isfinite().all() for p in ps]).all() for ps in parameters.values()])
            bad = [
                f"{name} parameters are not finite"
                for name, ok in zip(parameters, finite.tolist(), strict=True)
                if not ok
            ]
        if bad:
            latest = self.run.latest
            kept = (
                f"the last good checkpoint, {latest.resolve().name}, is intact"
                if latest.exists()
                else "no checkpoint was saved"
            )
            raise TrainingDiverged(f"step {step}: {bad[0]}; training stopped and {kept}")


def rng_state(device: torch.device) -> dict[str, Tensor]:
    """The torch RNG states a loop draws from: the CPU generator and, on a GPU, the device's."""
    state = {"torch_rng": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch_rng"])
    if "cuda_rng" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"], device)


class Throughput:
    """Env steps per second over a window, with evaluation, diagnostics and checkpoints left out."""

    def __init__(self, step: int) -> None:
        self._start, self._step = time.perf_counter(), step

    def rate(self, step: int) -> float:
        """Steps/s since the last call (or the start), and a new window from here."""
        now = time.perf_counter()
        rate = (step - self._step) / (now - self._start)
        self._start, self._step = now, step
        return rate

    @contextmanager
    def paused(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self._start += time.perf_counter() - started


def catch_stop_signals(record: Callable[[int], None]) -> dict[int, Any]:
    """SIGINT / SIGTERM call `record` instead of ending the process; returns the handlers to restore.
    Signals can only be caught on the main thread: elsewhere (a launcher's worker thread) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, _: FrameType | None) -> None:
        record(signum)

    return {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
