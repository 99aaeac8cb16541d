"""Sweeps: the SLURM launcher config, a local joblib multirun, re-launching a sweep."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import read_wandb_records
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from sac.run.options import register_configs
from sac.run.rundir import RunDir

ROOT = Path(__file__).resolve().parents[1]
CHEAP = [
    "learning_starts=300",
    "eval_every=300",
    "eval_episodes=1",
    "log_every=100",
    "agent.hidden_sizes=[32,32]",
    "agent.batch_size=64",
    "checkpoint_every=1000",
]


def test_slurm_launcher_config_renders_the_sbatch_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    register_configs()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(
            "train_sac",
            return_hydra_config=True,
            overrides=[
                "hydra/launcher=slurm",
                "hydra.launcher.partition=gpu",
                "hydra.launcher.gpus_per_node=1",
                "hydra.launcher.timeout_min=90",
                f"hydra.sweep.dir={tmp_path}",
                "hydra.job.name=train_sac",
            ],
        )
    params = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert params["_target_"].endswith("SlurmLauncher")
    # What the submitit launcher does with these parameters, up to writing the sbatch file; a stub srun
    # stands in for the cluster, which submitit looks for on PATH.
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "srun").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    executor = submitit.AutoExecutor(
        folder=params.pop("submitit_folder"), cluster="slurm", slurm_max_num_timeout=params.pop("max_num_timeout")
    )
    params.pop("_target_")
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()})
    script = executor._executor._make_submission_file_text("python -u train.py", "uid")
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --time=90",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --mem=16GB",
        "#SBATCH --job-name=train_sac",
    ):
        assert line in script


def sweep(sweep_dir: Path, *overrides: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "train_sac.py"),
            "--multirun",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            f"hydra.sweep.dir={sweep_dir}",
            "wandb.mode=offline",
            *CHEAP,
            *overrides,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_local_sweep_of_eight_runs_and_its_aggregate_report(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    proc = sweep(
        sweep_dir, "env=Pendulum,InvertedPendulum", "seed=0,1", "agent.actor_estimator=reparam,score", "total_steps=600"
    )
    _, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 0, stderr
    infos = [RunDir(p.parent).read_info() for p in sweep_dir.glob("*/run.json")]
    assert len(infos) == 8 and all(i["finished"] for i in infos)
    assert len({i["pid"] for i in infos}) >= 2  # jobs ran in parallel worker processes
    configs = [OmegaConf.load(p) for p in sweep_dir.glob("*/config.yaml")]
    assert all(c.threads == 0 for c in configs)  # automatic: cores shared out among n_jobs
    groups = {
        r.run.run_group
        for f in sweep_dir.glob("*/wandb/offline-run-*/run-*.wandb")
        for r in read_wandb_records(f)
        if r.WhichOneof("record_type") == "run"
    }
    assert groups == {f"{sweep_dir.parent.name}_{sweep_dir.name}"}  # one W&B group per sweep

    report = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "compare_estimators.py"),
            f"sweep_dir={sweep_dir}",
            f"output={tmp_path / 'report'}",
            f"hydra.run.dir={tmp_path / 'report'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count("<td>sac-reparam</td><td>") == 4 + 2 and page.count("<td>sac-score</td><td>") == 4 + 2
    for env in ("Pendulum-v1", "InvertedPendulum-v5"):
        for algorithm in ("sac-reparam", "sac-score"):
            assert f"<tr><td>{env}</td><td>{algorithm}</td><td>2</td><td>" in page  # IQM [CI] over 2 seeds
    pair = (
        r"P\((sac-reparam|sac-score) {} (sac-score|sac-reparam)\), final return over InvertedPendulum-v5, Pendulum-v1"
    )
    assert re.search(pair.format("&gt;"), page)
    spec = (tmp_path / "report" / "wandb_report.json").read_text()
    assert "interquartile mean" in spec and re.search(pair.format(">"), spec)


@pytest.mark.slow
def test_relaunched_sweep_redoes_only_the_killed_job(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    overrides = ("env=Pendulum", "total_steps=600,4000")
    proc = sweep(sweep_dir, *overrides)
    # Each job's directory is named by its overrides (hydra.job.override_dirname).
    short, long = (sweep_dir / ",".join(sorted([*CHEAP, "env=Pendulum", f"total_steps={n}"])) for n in (600, 4000))
    deadline = time.monotonic() + 300
    while not (RunDir(short).read_info().get("finished") and (long / "checkpoints" / "latest").exists()):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(RunDir(long).read_info()["pid"], signal.SIGKILL)  # the node running it dies
    proc.communicate(timeout=120)
    assert not RunDir(long).read_info()["finished"]
    short_metrics = (short / "metrics.jsonl").read_bytes()

    relaunch = sweep(sweep_dir, *overrides, "relaunch=true")
    stdout, stderr = relaunch.communicate(timeout=600)
    assert relaunch.returncode == 0, stderr
    assert f"{short}: finished earlier, skipped" in stdout
    assert f"{long}: unfinished, resuming from its latest checkpoint" in stdout
    assert (short / "metrics.jsonl").read_bytes() == short_metrics  # not redone
    steps = [r["step"] for r in RunDir(long).records() if "perf/steps_per_sec" in r]
    assert steps == list(range(100, 4001, 100))  # every log event once: nothing lost, nothing repeated
    assert RunDir(long).read_info()["finished"]
