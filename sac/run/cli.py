"""The command-line layer: Hydra entry points, one-line user errors, the output-directory check,
resume and relaunch, torch threads and WANDB_MODE. Nothing in the package imports it; the scripts in scripts/
are one call each into `main`.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import sys
import tempfile
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import hydra
import torch
from hydra._internal.utils import get_args_parser  # Hydra's own command-line parser: what it takes as overrides
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from envs import EnvError
from sac.config import SCHEMAS, UserError, WandbMode
from sac.run.device import available_cores
from sac.run.options import RENAMED_OPTIONS, as_dict, register_configs, to_object
from sac.run.rundir import RunDir, Status, batch_status

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"

# What a resumed run may change: the rest of its config is the one it was started with.
RESUMABLE_OVERRIDES = (
    "resume", "total_steps", "device", "wandb.mode", "threads", "compile", "cudagraphs", "precision"
)  # fmt: skip


def main(script: str, task: Callable[[DictConfig], Any]) -> None:
    """Run `task` as the Hydra program `configs/<script>.yaml`, with user errors as one line and exit code 2."""
    unknown = unknown_option(script, sys.argv[1:])
    if unknown is not None:
        print(f"error: {unknown}", file=sys.stderr)
        sys.exit(2)
    register_configs()
    hydra.main(config_path=str(CONFIG_DIR), config_name=script, version_base="1.3")(report_user_errors(task))()


def option_names(schema: type) -> list[str]:
    """Every option a dataclass schema has, dotted: `agent`, `agent.batch_size`, `agent.discrete.estimator`, ..."""
    names = []
    for name, hint in typing.get_type_hints(schema).items():
        names.append(name)
        if dataclasses.is_dataclass(hint):
            names += [f"{name}.{child}" for child in option_names(hint)]  # type: ignore[arg-type]
    return names


def config_groups(script: str) -> list[str]:
    """The config groups `configs/<script>.yaml` picks from by name (`env=Hopper`, `encoder=vae`)."""
    config = OmegaConf.load(CONFIG_DIR / f"{script}.yaml")
    assert isinstance(config, DictConfig)
    defaults = config.get("defaults", [])
    return [str(group) for entry in defaults if isinstance(entry, DictConfig) for group in entry]


def unknown_option(script: str, argv: list[str]) -> str | None:
    """The first override in `argv` that names no option of `script`, as one line naming the closest options (or
    the new name of a renamed one); None when every name is known. Hydra's own message for this is several lines
    whose hint, `+key=value`, would add a key that nothing reads."""
    try:
        overrides = get_args_parser().parse_intermixed_args(argv).overrides
    except SystemExit:  # flags Hydra's parser rejects: Hydra says so itself
        return None
    options, groups = option_names(SCHEMAS[script]), config_groups(script)
    sections = {name.rsplit(".", 1)[0] for name in options if "." in name}
    for arg in overrides:
        key = arg.split("=", 1)[0].lstrip("+~").split("@", 1)[0]
        if not key or key.split(".")[0].split("/")[0] == "hydra":
            continue  # Hydra's own settings: Hydra checks those
        parents = [key.rsplit(".", n)[0] for n in range(1, key.count(".") + 1)]
        if key in options or key in groups or any(p in options and p not in sections for p in parents):
            continue  # an option, a group, or an item of an option (agent.hidden_sizes.0)
        value = arg.split("=", 1)[1] if "=" in arg else ""
        if key in RENAMED_OPTIONS:
            return f"{arg} is now {RENAMED_OPTIONS[key]}: use {RENAMED_OPTIONS[key]}={value}"
        leaves = [name for name in options if name not in sections]
        close = closest(key, leaves + (groups if "." not in key else []))
        if not close:  # a leaf without its section: batchsize for agent.batch_size
            near = closest(key.rsplit(".", 1)[-1], sorted({name.rsplit(".", 1)[-1] for name in leaves}))
            close = [name for leaf in near for name in leaves if name.rsplit(".", 1)[-1] == leaf]
        hint = f"; did you mean {' or '.join(close[:3])}?" if close else ""
        return f"{arg}: {script}.py has no option {key}{hint} (all of them: python scripts/{script}.py --cfg job)"
    return None


def closest(word: str, candidates: list[str]) -> list[str]:
    """The candidates most like `word` (difflib's ratio at least 0.6, and within 0.08 of the best), best first."""
    scores = sorted(((difflib.SequenceMatcher(None, word, c).ratio(), c) for c in candidates), reverse=True)
    best = scores[0][0] if scores else 0.0
    return [c for score, c in scores if score >= max(0.6, best - 0.08)]


Fn = TypeVar("Fn", bound=Callable[..., Any])


def report_user_errors(fn: Fn) -> Fn:
    """A UserError or an env that cannot be trained on ends the program with one line on stderr, exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (UserError, EnvError) as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


class TrainFn(Protocol):
    def __call__(self, config: Any, run_dir: Path, resume: bool = False) -> dict[str, float]: ...


def training_job(schema: type, train: TrainFn) -> Callable[[DictConfig], None]:
    """The Hydra task of a training script: a new run in Hydra's run directory, or `resume=RUN_DIR`.

    In a multirun, W&B runs are grouped by sweep and torch threads are shared out among the launcher's
    parallel jobs; with `relaunch=true` a job whose directory holds a finished run is skipped and an
    unfinished one is resumed.
    """

    def job(cfg: DictConfig) -> None:
        hydra_cfg = HydraConfig.get()
        config: Any = to_object(cfg, schema)
        if config.resume is not None:
            run = RunDir(Path(config.resume))
            resumed = resume_config(run, cfg, hydra_cfg.overrides.task, schema)
            honour_wandb_mode_env(resumed, hydra_cfg.overrides.task)
            torch.set_num_threads(job_threads(resumed.threads, hydra_cfg))  # the run's own, unless overridden
            train(resumed, run.path, resume=True)
            return
        seeds = getattr(config, "seeds", None)
        given_seed = [o for o in hydra_cfg.overrides.task if o.split("=", 1)[0].lstrip("+~") == "seed"]
        if seeds is not None and given_seed:
            raise UserError(f"{given_seed[0]} together with seeds={list(seeds)}: give one of them")
        honour_wandb_mode_env(config, hydra_cfg.overrides.task)
        torch.set_num_threads(job_threads(config.threads, hydra_cfg))
        run = RunDir(Path(hydra_cfg.runtime.output_dir))
        if hydra_cfg.mode == RunMode.MULTIRUN and config.wandb.group is None:
            config.wandb.group = sweep_group(hydra_cfg)
        status = batch_status(run.path, list(seeds)) if seeds is not None else run.status()
        if config.relaunch and status == Status.finished:
            print(f"{run.path}: finished earlier, skipped")
        elif config.relaunch and status == Status.unfinished:
            saved = run.read_config()
            saved.relaunch = True  # the only difference a re-launch itself makes
            if OmegaConf.to_container(saved) != as_dict(config):
                raise UserError(f"relaunch: {run.path} holds a run with another config; use a new hydra.sweep.dir")
            print(f"{run.path}: unfinished, resuming from its latest checkpoint")
            train(config, run.path, resume=True)
        else:
            train(config, run.path)

    return job


# W&B's own names for its modes, as its WANDB_MODE accepts them ("dryrun" and "run" are its older names).
WANDB_MODE_NAMES = {"online": WandbMode.online, "run": WandbMode.online, "offline": WandbMode.offline,
                    "dryrun": WandbMode.offline, "disabled": WandbMode.disabled}  # fmt: skip


def honour_wandb_mode_env(config: Any, overrides: list[str]) -> None:
    """W&B's own switch, WANDB_MODE in the environment, sets `config.wandb.mode` unless the command line gives
    `wandb.mode=`: a cluster user sets it once, and the config's default must not silently override it."""
    value = os.environ.get("WANDB_MODE")
    if not value or any(o.split("=", 1)[0].lstrip("+~") == "wandb.mode" for o in overrides):
        return
    if value not in WANDB_MODE_NAMES:
        raise UserError(f"WANDB_MODE={value} in the environment is invalid: allowed {', '.join(WANDB_MODE_NAMES)}")
    config.wandb.mode = WANDB_MODE_NAMES[value]


def resume_config(run: RunDir, cfg: DictConfig, overrides: list[str], schema: type) -> Any:
    """The saved config of `run`, with the few command-line overrides a resume allows taken from `cfg`."""
    if not run.config_path.is_file():
        raise UserError(f"resume={run.path} is not a run directory: it has no config.yaml")
    try:
        saved = OmegaConf.merge(OmegaConf.structured(schema), run.read_config())
    except OmegaConfBaseException as e:
        problem = str(e).splitlines()[0]
        raise UserError(f"resume={run.path} holds a run of another script ({problem})") from None
    assert isinstance(saved, DictConfig)
    allowed = [key for key in RESUMABLE_OVERRIDES if OmegaConf.select(saved, key, default="absent") != "absent"]
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key not in allowed:
            raise UserError(
                f"{override} cannot be combined with resume: a resumed run keeps its saved config "
                f"(allowed: {', '.join(allowed[1:])})"
            )
        OmegaConf.update(saved, key, OmegaConf.select(cfg, key))
    return to_object(saved, schema)


def sweep_group(hydra_cfg: Any) -> str:
    """W&B group of a sweep's runs: its directory, e.g. multirun/2026-11-25/10-00-00 -> 2026-11-25_10-00-00."""
    sweep_dir = Path(hydra_cfg.sweep.dir)
    return f"{sweep_dir.parent.name}_{sweep_dir.name}"


def job_threads(threads: int, hydra_cfg: Any) -> int:
    """`threads`; with 0, `OMP_NUM_THREADS` where it is set to a positive count (the OpenMP convention that cluster
    job scripts, joblib's workers and torch's own default follow), else the cores divided among the jobs a launcher
    runs at once (at least 1)."""
    if threads > 0:
        return threads
    omp = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()  # "4,2": the outermost level's count
    if omp.isdigit() and int(omp) > 0:
        return int(omp)
    cores = available_cores()
    n_jobs = OmegaConf.select(hydra_cfg, "launcher.n_jobs", default=1) if hydra_cfg.mode == RunMode.MULTIRUN else 1
    if n_jobs is None or n_jobs < 1:  # joblib: -1 means one job per core
        n_jobs = cores
    return max(1, cores // n_jobs)


class OutputDirCheck(Callback):
    """Hydra callback (configs/*.yaml, hydra.callbacks): an output directory that cannot be created
    stops the program with one line, before Hydra's own attempt would end in a traceback."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _make_output_dir(config.hydra.run.dir)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _make_output_dir(config.hydra.sweep.dir)


def _make_output_dir(path: str) -> None:
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
        # A uniquely named probe: jobs started in the same second share Hydra's default directory, and one fixed
        # name let one job's cleanup delete the file another was about to remove.
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        print(
            f"error: output directory {path} is not writable ({e.strerror}): choose another with hydra.run.dir=DIR",
            file=sys.stderr,
        )
        sys.exit(2)
