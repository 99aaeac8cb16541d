"""What both training loops (SAC in train.py, REINFORCE in train_reinforce.py) share around their own steps.

A `Session` is one run's life, put together from parts that each own one concern: the run directory (`RunDir`:
new, or resumed with the records logged after its checkpoint dropped), the logger and run.json, the evaluations
(`rollout.Evaluator`), the checkpoints behind the NaN guard (`checkpointer.Checkpointer`) and SIGINT/SIGTERM turned
into a stop request the loop sees at its next step (`signals.StopRequests`). A loop builds its env and agent,
restores `session.resumed` into them if there is one, then, inside `with session:`, steps, logs with `session.log`,
calls `session.after_step` after each of its steps (evaluation and checkpoint when due, a stop request answered),
and `session.finish()` at the end.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import torch
from torch import Tensor

from envs import env_id
from sac.run import provenance
from sac.run.checkpointer import Checkpointer, Snapshot, check_finite
from sac.run.logger import Logger
from sac.run.options import as_dict
from sac.run.rollout import ActFn, Evaluator
from sac.run.rundir import Identity, RunDir, run_label
from sac.run.signals import StopRequests

# The metrics the NaN guard checks when logged: the losses and statistics of the updates. Diagnostics (grad/...),
# evaluations and speed are measurements of the run, not its state; a NaN there stops nothing.
GUARDED = ("train/", "vae/")


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


def run_meta(identity: Identity, c: Any, obs_dim: int, act_dim: int) -> dict[str, Any]:
    """What every checkpoint of a run records about it (a Session's `meta`): its identity's fields, the env id, the
    observation and action sizes, and the resolved config as plain data."""
    return {**identity.fields(), "env_id": env_id(c.env.name), "obs_dim": obs_dim, "act_dim": act_dim,
            "config": as_dict(c)}  # fmt: skip


class Session:
    """One run of a training loop; see the module docstring. `c` is the run's config (a TrainConfig or a
    ReinforceConfig: its env, seed, wandb and schedule fields), `meta` what every checkpoint records (run_meta)."""

    def __init__(self, run: RunDir, c: Any, meta: dict[str, Any], resume: bool, batch: SeedBatch | None = None):
        self.run, self.config, self.meta, self.batch = run, c, meta, batch
        self.checkpointer = Checkpointer(run, meta, c.checkpoint_every, c.total_steps, batch is not None)
        resume_from = batch.resume_from if batch is not None else None
        self.resumed = self.checkpointer.load(resume_from or run.latest) if resume else None
        if self.resumed is None:
            run.create(meta["config"])
        self.start_step = self.resumed.step if self.resumed is not None else 0
        """The step the loop starts after: 0, or the resumed checkpoint's."""
        self.finished = False
        """Set by the loop when it has done its last step (not when it stopped early)."""
        self.eval_metrics: dict[str, float] = {}
        self.stop = StopRequests(batch.stop if batch is not None else None)

    @property
    def saved(self) -> Path | None:
        """The checkpoint the last save wrote."""
        return self.checkpointer.saved

    def __enter__(self) -> Session:
        c, resumed = self.config, self.resumed is not None
        if resumed:
            self.run.drop_records_after(self.start_step)
        previous_id = self.run.read_info().get("wandb_run_id") if resumed else None
        identity = Identity.read(self.meta)
        label, position = (self.batch.label, self.batch.position) if self.batch is not None else (None, 0)
        self.logger = Logger(
            self.run, self.meta["config"], c.wandb, c.total_steps, run_label(identity, self.meta["config"]), resumed,
            previous_id, label, position,
        )  # fmt: skip
        self.run.write_info(**identity.fields(), wandb_run_id=self.logger.wandb_run_id, pid=os.getpid(), finished=False)
        precision = {"precision": self.meta["precision"]} if "precision" in self.meta else {}  # SAC runs: resolved
        self.run.add_segment(self.start_step, provenance.record() | precision)
        self.evaluator = Evaluator(c.env, c.seed, c.eval_episodes, c.eval_every, c.video_every, c.total_steps)
        self.stop.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop.__exit__(exc_type, exc, traceback)
        self.logger.close(exit_code=0 if exc_type is None else 1)
        if exc_type is None and self.finished:
            self.run.write_info(finished=True)  # a re-launched sweep skips this run
        self.evaluator.close()

    def log(self, step: int, metrics: Mapping[str, Tensor | float]) -> dict[str, float]:
        """The one way a loop logs: record `metrics` at env step `step`, and stop with one line if an update's
        metric (GUARDED) is not finite, before it can reach a checkpoint."""
        logged = self.logger.log(step, metrics)
        check_finite(self.run, step, {k: v for k, v in logged.items() if k.startswith(GUARDED)})
        return logged

    def evaluate(self, before: int, step: int, act: ActFn) -> None:
        """Evaluate deterministically when due (and at the last step); film every `video_every`-th evaluation."""
        if not self.evaluator.due(before, step):
            return
        self.eval_metrics = self.evaluator.evaluate(act)
        self.logger.log(step, self.eval_metrics)
        if self.evaluator.films(step):
            path = self.run.video(step)
            self.evaluator.film(act, path)
            self.logger.log_video(step, "eval/video", path)

    def after_step(self, before: int, step: int, act: ActFn, snapshot: Callable[[], Snapshot]) -> bool:
        """The periodic work every loop does after its steps from `before` to `step`: evaluate and checkpoint when
        due; on a stop request, checkpoint now and say how to continue. True when the loop must stop."""
        self.evaluate(before, step, act)
        self.checkpointer.save(before, step, snapshot)
        if not self.stop.requested:
            return False
        self.checkpointer.save(step, step, snapshot, force=True)
        if self.batch is None:  # a batch of seeds resumes from its own directory: its loop says so
            print(f"stopped at step {step}: checkpoint saved; continue with resume={self.run.path}")
        return True

    def finish(self) -> dict[str, float]:
        """The loop reached its last step: mark the run finished (on leaving `with session:`); the last eval metrics."""
        self.finished = True
        return self.eval_metrics


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
