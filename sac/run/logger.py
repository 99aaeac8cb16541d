"""One logger owns every sink: the console progress line, `metrics.jsonl` and Weights & Biases.

`metrics.jsonl` is the lossless record: one JSON object per log event, flushed as it is written.
W&B is offline-first: without an API key or a reachable server an online run becomes an offline
run (synced later with `wandb sync`) instead of blocking on the network.
"""

from __future__ import annotations

import netrc
import os
import socket
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import torch
from torch import Tensor
from tqdm import tqdm

from sac.config import WandbConfig, WandbMode
from sac.run.rundir import RunDir

# Shown on the console progress line, in this order, when they have been logged.
_PROGRESS_KEYS = {
    "perf/steps_per_sec": "steps/s {:.0f}",
    "train/episode_return": "episode return {:.1f}",
    "eval/return_mean": "eval return {:.1f}",
}


class Logger:
    """Console progress, metrics records and W&B for one run. `job_type` is the run's algorithm label
    (sac-reparam, sac-score, reinforce, evaluate); `wandb_run_id` continues an existing W&B run."""

    def __init__(
        self,
        run: RunDir,
        config: dict[str, Any],
        wandb_cfg: WandbConfig,
        total_steps: int,
        job_type: str,
        resume: bool = False,
        wandb_run_id: str | None = None,
        label: str | None = None,
        position: int = 0,
    ) -> None:
        """`label` and `position` tell one of several runs in one process apart on the console (batched seeds)."""
        run.path.mkdir(parents=True, exist_ok=True)
        self.run = run
        self.total_steps = total_steps
        self._metrics = run.metrics_file(resume)
        self._start = time.perf_counter()
        self._latest: dict[str, float] = {}
        self._last_print = 0.0
        self._label = label
        self._bar = (
            tqdm(total=total_steps, unit="step", dynamic_ncols=True, desc=label, position=position)
            if sys.stderr.isatty()
            else None
        )
        self.wandb_run = _init_wandb(wandb_cfg, run.path, config, job_type, wandb_run_id)
        self.wandb_run_id = self.wandb_run.id if self.wandb_run is not None else wandb_run_id

    def log(self, step: int, metrics: Mapping[str, Tensor | float]) -> dict[str, float]:
        """Record scalars at env step `step` and return them as floats. Tensors are moved to the host
        here, in one transfer."""
        values = to_floats(metrics)
        record = {"step": step, "time": round(time.perf_counter() - self._start, 3), **values}
        self._metrics.write(record)
        if self.wandb_run is not None:
            self.wandb_run.log(values, step=step)
        self._latest.update(values)
        self._progress(step)
        return values

    def log_video(self, step: int, key: str, path: Path) -> None:
        """An mp4 written under the run directory: its path in metrics.jsonl, the video itself in W&B."""
        self._metrics.write({"step": step, key: str(path.relative_to(self.run.path))})
        if self.wandb_run is not None:
            import wandb

            self.wandb_run.log({key: wandb.Video(str(path), format="mp4")}, step=step)

    def _progress(self, step: int) -> None:
        shown = [fmt.format(self._latest[k]) for k, fmt in _PROGRESS_KEYS.items() if k in self._latest]
        if self._bar is not None:
            self._bar.update(step - self._bar.n)
            self._bar.set_postfix_str(" | ".join(shown), refresh=False)
        elif time.perf_counter() - self._last_print > 10.0 or step >= self.total_steps:
            # Not a terminal (CI, a cluster log): one plain line every few seconds instead of a redrawn bar.
            self._last_print = time.perf_counter()
            prefix = [self._label] if self._label else []
            print(" | ".join([*prefix, f"step {step}/{self.total_steps}", *shown]), flush=True)

    def close(self, exit_code: int = 0) -> None:
        """Flush every sink; the W&B run is marked finished (exit_code 0) or failed."""
        if self._bar is not None:
            self._bar.close()
        self._metrics.close()
        if self.wandb_run is not None:
            self.wandb_run.finish(exit_code=exit_code)
            self.wandb_run = None


def to_floats(values: Mapping[str, Tensor | float]) -> dict[str, float]:
    """Scalars to Python floats, with every tensor among them moved to the host in one transfer."""
    tensors = {k: v for k, v in values.items() if isinstance(v, Tensor)}
    floats = {k: float(v) for k, v in values.items() if not isinstance(v, Tensor)}
    if tensors:
        floats |= dict(zip(tensors, torch.stack([t.float() for t in tensors.values()]).tolist(), strict=True))
    return floats


def _init_wandb(cfg: WandbConfig, run_dir: Path, config: dict[str, Any], job_type: str, run_id: str | None) -> Any:
    if cfg.mode == WandbMode.disabled:
        return None
    import wandb  # deferred: importing wandb costs about a second

    mode: Literal["online", "offline"] = "online" if cfg.mode == WandbMode.online else "offline"
    if mode == "online":
        reason = why_offline()
        if reason is not None:
            print(f"W&B: {reason}; logging offline. Upload later with: wandb sync {run_dir}/wandb/offline-run-*")
            mode = "offline"
    return wandb.init(
        project=cfg.project,
        entity=cfg.entity,
        group=cfg.group,
        name=cfg.name,
        tags=cfg.tags,
        job_type=job_type,
        config=config,
        dir=str(run_dir),
        mode=mode,
        id=run_id,
        resume="allow" if run_id else None,
        reinit="create_new",  # batched seeds hold one W&B run per seed in one process
    )


def why_offline(timeout: float = 3.0) -> str | None:
    """Why an online W&B run would fail or hang here, or None if it should work."""
    base_url = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
    host = urlparse(base_url).hostname or "api.wandb.ai"
    if not os.environ.get("WANDB_API_KEY"):
        try:
            has_key = netrc.netrc().authenticators(host) is not None
        except (FileNotFoundError, netrc.NetrcParseError):
            has_key = False
        if not has_key:
            return "no API key (set WANDB_API_KEY or run `wandb login`)"

    reachable = threading.Event()

    def probe() -> None:
        # In a thread because DNS resolution ignores socket timeouts.
        try:
            socket.create_connection((host, urlparse(base_url).port or 443), timeout=timeout).close()
            reachable.set()
        except OSError:
            pass

    threading.Thread(target=probe, daemon=True).start()
    if not reachable.wait(timeout):
        return f"{host} is unreachable"
    return None
