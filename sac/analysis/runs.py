"""Runs to analyse, from local run directories (`metrics.jsonl`, `config.yaml`, `run.json`) or from a W&B
project/group through the public API; each knows what it trains (rundir.Identity) and its eval curve."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from envs import env_id
from sac.config import CompareConfig, UserError
from sac.run.logger import why_offline
from sac.run.options import upgrade_saved_config
from sac.run.rundir import Identity, RunDir, identity_of_label, run_label, series


@dataclass
class Run:
    name: str
    identity: Identity
    env_id: str
    seed: int
    records: list[dict[str, Any]]
    wandb_id: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    trained_to: int | None = None
    """The last step the run logged, also when `records` were cut short of it (compare_estimators.py max_step)."""
    finished: bool = True
    """Whether it trained to its budget (run.json; a W&B run's state): the final-return tables leave out the others."""

    @property
    def last_step(self) -> int:
        return self.trained_to if self.trained_to is not None else (self.records[-1]["step"] if self.records else 0)

    @property
    def algorithm(self) -> str:
        """The display label, rundir.run_label: sac-reparam, sac-beta-score, sac-discrete-gumbel, reinforce,
        sac-reparam-k8 (K-sample pathwise training), sac-reparam-vae (on the VAE state-encoder's latent), ..."""
        return run_label(self.identity, self.config)

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of every record holding `key`."""
        return series(self.records, key)

    def final_return(self) -> float:
        _, values = self.series("eval/return_mean")
        return float(values[-1]) if len(values) else float("nan")


def read_curve_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(steps, returns) of a curve written as a CSV with columns step, return (benchmarks/learning_curves.py)."""
    rows = list(csv.DictReader(path.open()))
    return np.array([int(r["step"]) for r in rows]), np.array([float(r["return"]) for r in rows])


def load_local_run(path: Path) -> Run:
    """A run directory written by train_sac.py or train_reinforce.py."""
    run = RunDir(path)
    try:
        records, config, info = run.records(), run.read_config(), run.read_info()
    except (json.JSONDecodeError, ValueError) as e:
        raise UserError(f"{path} holds an unreadable file ({e})") from None
    if "algorithm" not in info:
        raise UserError(f"{path} is not a run directory: run.json is missing")
    return Run(
        path.name,
        Identity.read(info),
        env_id(config["env"]["name"]),
        int(config["seed"]),
        records,
        info.get("wandb_run_id"),
        OmegaConf.to_container(config),  # type: ignore[arg-type]
        finished=bool(info.get("finished", True)),
    )


def load_wandb_runs(project: str, entity: str | None, group: str | None) -> list[Run]:
    reason = why_offline()
    if reason is not None:
        raise UserError(f"wandb_project={project} needs W&B online, but {reason}: pass local runs=[...] instead")
    import wandb

    path = f"{entity}/{project}" if entity else project
    filters = {"group": group} if group else {}
    runs = []
    for r in wandb.Api(timeout=30).runs(path, filters=filters):
        records = [dict(row, step=row["_step"]) for row in r.scan_history()]
        cfg = upgrade_saved_config(r.config)
        identity = identity_of_label(r.job_type)  # a W&B run's job type is its run_label
        runs.append(Run(r.name, identity, env_id(cfg["env"]["name"]), int(cfg["seed"]), records, r.id, dict(cfg),
                        finished=r.state == "finished"))  # fmt: skip
    return runs


def collect_runs(c: CompareConfig) -> list[Run]:
    paths = [Path(p) for p in c.runs]
    if c.sweep_dir:
        if not Path(c.sweep_dir).is_dir():
            raise UserError(f"sweep_dir={c.sweep_dir} is not a directory")
        paths += [run.path for run in RunDir.below(Path(c.sweep_dir))]
    if paths:
        runs = [load_local_run(p) for p in paths]
    elif c.wandb_project:
        runs = load_wandb_runs(c.wandb_project, c.wandb_entity, c.wandb_group)
    else:
        runs = []
    if not runs:
        raise UserError("no runs found: pass runs=[dir,...], sweep_dir=DIR or wandb_project=NAME")
    if c.max_step is not None:
        for run in runs:
            run.trained_to = run.last_step
            run.records = [rec for rec in run.records if rec["step"] <= c.max_step]
    return runs
