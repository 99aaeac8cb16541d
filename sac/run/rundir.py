"""The run directory: its files, its status, and the one reader and writer of its records.

    RUN_DIR/
      config.yaml          the resolved config the run was started with
      metrics.jsonl        one JSON object per log event: {"step": N, "time": s, key: value, ...}
      run.json             {"algorithm", "policy", "estimator", "wandb_run_id", "pid", "finished", "segments"}:
                           what sweeps and reports read (the first three: the run's `Identity`); segments, one
                           per start or resume: the step, the dependency lock's sha256 and what differs from it,
                           Python, torch and the CPU (sac/run/provenance.py)
      checkpoints/latest   a symlink to the newest checkpoint (sac/run/checkpoint.py)
      videos/              mp4s of evaluation episodes

Every other module reaches these files through `RunDir`; the logger writes records into the
`MetricsFile` it is given and decides nothing about a run's lifecycle.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO, Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from sac.config import ActorEstimator, EncoderConfig, PolicyName, UserError
from sac.run.options import upgrade_saved_config

METRICS = "metrics.jsonl"


class Status(str, Enum):
    new = "new"
    """Nothing to resume: no checkpoint yet."""
    unfinished = "unfinished"
    """Stopped (killed, pre-empted, interrupted) after a checkpoint: it can resume."""
    finished = "finished"
    """Reached its last step."""


@dataclass(frozen=True)
class Identity:
    """What a run trains, as data: stored field by field in run.json and in checkpoint metadata; `label` is derived
    from it for display (W&B job types, report legends).

    algorithm: sac | sac-discrete | reinforce; policy: tanh_gaussian | beta | truncated_normal | gaussian_mixture
    | categorical | gaussian;
    estimator: the actor's gradient estimator (reparam | score | exact | gumbel | straight_through).
    """

    algorithm: str
    policy: str
    estimator: str

    @property
    def label(self) -> str:
        """sac-<estimator> (tanh-Gaussian) | sac-<policy>-<estimator> (sac-beta-score, sac-truncated-normal-reparam,
        ...) | sac-discrete-<estimator> | reinforce."""
        if self.algorithm == "reinforce":
            return "reinforce"
        if self.algorithm == "sac-discrete":
            return f"sac-discrete-{self.estimator}"
        if self.policy == "tanh_gaussian":
            return f"sac-{self.estimator}"
        return f"sac-{self.policy.replace('_', '-')}-{self.estimator}"

    def fields(self) -> dict[str, str]:
        return {"algorithm": self.algorithm, "policy": self.policy, "estimator": self.estimator}

    @staticmethod
    def read(info: dict[str, Any]) -> Identity:
        """From run.json or checkpoint metadata. Files written before the fields existed (commit 4a87f0e and
        earlier) hold only the label in "algorithm", looked up among the labels of every known identity."""
        if "policy" in info and "estimator" in info:
            return Identity(str(info["algorithm"]), str(info["policy"]), str(info["estimator"]))
        label = info.get("algorithm")
        if label not in LEGACY_LABELS:
            raise UserError(f"unknown algorithm {label!r} (known: {', '.join(sorted(LEGACY_LABELS))})")
        return LEGACY_LABELS[label]


IDENTITIES = (
    *(Identity("sac", p.value, e.value) for p in PolicyName for e in ActorEstimator),
    *(Identity("sac-discrete", "categorical", e) for e in ("exact", "score", "gumbel", "straight_through")),
    Identity("reinforce", "gaussian", "score"),
)
"""Every combination the package trains."""
# "sac" alone labelled SAC runs before the estimator was part of the label.
LEGACY_LABELS = {i.label: i for i in IDENTITIES} | {"sac": Identity("sac", "tanh_gaussian", "reparam")}


def run_label(identity: Identity, config: Mapping[str, Any]) -> str:
    """What reports call a run and W&B groups it by (its job type): the identity's label, plus -k<K> for pathwise
    training on K samples per state (agent.reparam_samples > 1), -vae for SAC on the VAE state-encoder's latent
    (encoder=vae; then -kl<w>, -sample and -z<d> where encoder.kl_weight, encoder.latent or encoder.latent_dim
    differ from their defaults) and -bf16 for a run configured precision=bf16. Each trains the same policy with the
    same estimator on another objective, input or arithmetic, whose curves must not be pooled with the plain runs':
    sac-reparam-k8, sac-reparam-vae, sac-reparam-vae-kl0.1, sac-beta-reparam-vae, sac-reparam-bf16, ..."""
    label = identity.label
    if identity.algorithm == "reinforce":
        return label
    k = config.get("agent", {}).get("reparam_samples", 1)
    if identity.algorithm == "sac" and identity.estimator == "reparam" and k > 1:
        label += f"-k{k}"
    encoder = config.get("encoder", {})
    if encoder.get("name", "none") == "vae":
        label += "-vae"
        defaults = EncoderConfig()
        if (kl_weight := float(encoder.get("kl_weight", defaults.kl_weight))) != defaults.kl_weight:
            label += f"-kl{kl_weight:g}"
        if encoder.get("latent", defaults.latent.value) != defaults.latent.value:
            label += f"-{encoder['latent']}"
        if (latent_dim := int(encoder.get("latent_dim", defaults.latent_dim))) != defaults.latent_dim:
            label += f"-z{latent_dim}"
    if config.get("precision") == "bf16":
        label += "-bf16"
    return label


def identity_of_label(label: str) -> Identity:
    """The identity a run_label names (a W&B run's job type): its label without the -k<K>, -vae[...] and -bf16
    parts."""
    return Identity.read({"algorithm": re.sub(r"(-k\d+)?(-vae(-kl[0-9.e+-]+|-sample|-z\d+)*)?(-bf16)?$", "", label)})


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl file; a last line cut short by a crash is skipped."""
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "step" in record:
            records.append(record)
    return records


class MetricsFile:
    """Appends records to metrics.jsonl, one line each, reaching the OS as they are written."""

    def __init__(self, path: Path, append: bool) -> None:
        self._file: IO[str] = open(path, "a" if append else "w", buffering=1)  # noqa: SIM115  (closed by close())

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record) + "\n")

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True)
class RunDir:
    path: Path

    @staticmethod
    def below(root: Path) -> list[RunDir]:
        """Every run directory under `root` (a sweep's), in path order."""
        return [RunDir(p.parent) for p in sorted(root.glob(f"**/{METRICS}"))]

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    @property
    def info_path(self) -> Path:
        return self.path / "run.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def latest(self) -> Path:
        return self.checkpoints / "latest"

    def video(self, step: int) -> Path:
        return self.path / "videos" / f"step_{step:09d}.mp4"

    def status(self) -> Status:
        if self.read_info().get("finished"):
            return Status.finished
        return Status.unfinished if self.latest.exists() else Status.new

    def create(self, config: dict[str, Any]) -> None:
        """Make a new run's directory (one clear error if it cannot be written) and record its config."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.config_path.write_text(OmegaConf.to_yaml(config))
        except OSError as e:
            raise UserError(f"output directory {self.path} is not writable ({e.strerror})") from None

    def read_config(self) -> DictConfig:
        """config.yaml in the current schema's shape, however old the run (config.upgrade_saved_config)."""
        if not self.config_path.is_file():
            raise UserError(f"{self.path} is not a run directory: it has no config.yaml")
        config = OmegaConf.load(self.config_path)
        assert isinstance(config, DictConfig)
        return OmegaConf.create(upgrade_saved_config(config))

    def read_info(self) -> dict[str, Any]:
        """run.json, or {} before the run has written it."""
        if not self.info_path.exists():
            return {}
        info = json.loads(self.info_path.read_text())
        return info if isinstance(info, dict) else {}

    def write_info(self, **values: Any) -> None:
        """Update run.json with `values`, atomically: a sweep may read it at any moment."""
        info = {**self.read_info(), **values}
        tmp = self.info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(info, indent=1))
        os.replace(tmp, self.info_path)

    def add_segment(self, step: int, provenance: dict[str, Any]) -> None:
        """Record in run.json that the run (re)started after `step` with `provenance` (sac/run/provenance.py):
        a resumed run may continue on another machine or with other packages, and each segment says which."""
        self.write_info(segments=[*self.read_info().get("segments", []), {"from_step": step, **provenance}])

    def records(self) -> list[dict[str, Any]]:
        """Every record of metrics.jsonl, in the order logged."""
        if not self.metrics_path.exists():
            raise UserError(f"{self.path} is not a run directory: metrics.jsonl is missing")
        return read_records(self.metrics_path)

    def metrics_file(self, resume: bool) -> MetricsFile:
        """The writer of metrics.jsonl: a new run starts it afresh, a resumed one appends."""
        return MetricsFile(self.metrics_path, append=resume)

    def drop_records_after(self, step: int) -> None:
        """Drop what a crashed run logged after its checkpoint at `step`: the resumed run logs it again."""
        if not self.metrics_path.exists():
            return
        kept = [r for r in read_records(self.metrics_path) if r["step"] <= step]
        tmp = self.metrics_path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
        os.replace(tmp, self.metrics_path)


def series(records: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of every record (metrics.jsonl's) that holds `key`, e.g. the eval curve "eval/return_mean"."""
    rows = [(r["step"], r[key]) for r in records if key in r]
    return (np.array([s for s, _ in rows]), np.array([v for _, v in rows])) if rows else (np.array([]), np.array([]))


def seed_dir(batch_dir: Path, seed: int) -> Path:
    """The run directory of one seed of a batch of seeds trained in one process (sac/run/seeds.py)."""
    return batch_dir / f"seed{seed}"


def batch_status(batch_dir: Path, seeds: list[int]) -> Status:
    """A batch of seeds is finished when every seed's run is, new when none has started, else unfinished."""
    states = [RunDir(seed_dir(batch_dir, s)).status() for s in seeds]
    if all(s == Status.finished for s in states):
        return Status.finished
    return Status.new if all(s == Status.new for s in states) else Status.unfinished
