"""Through the real entry point, as a user runs it."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from helpers import run_entry_point, wandb_history
from hydra.types import RunMode
from omegaconf import OmegaConf

from envs.make import make_env
from sac.agent import SAC
from sac.config import AgentConfig, EnvConfig, TrainConfig, WandbConfig, WandbMode
from sac.run import cli, device
from sac.run.checkpoint import load_checkpoint, restore
from sac.run.cli import honour_wandb_mode_env
from sac.run.rollout import EVAL_SEED_OFFSET, run_episodes
from sac.run.rundir import RunDir

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*overrides: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_sac.py"), *overrides],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )


def test_training_run_writes_metrics_checkpoint_and_offline_wandb_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_cli(
        "env=Pendulum",
        "seed=1",
        "total_steps=400",
        "learning_starts=200",
        "log_every=100",
        "eval_every=200",
        "eval_episodes=2",
        "checkpoint_every=200",
        "agent.hidden_sizes=[64,64]",
        "wandb.mode=online",  # no API key in tests: must fall back to offline by itself, promptly
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "logging offline" in result.stdout

    records = RunDir(run_dir).records()
    keys = set().union(*records)
    assert {
        "step",
        "train/critic_loss",
        "train/actor_loss",
        "train/alpha",
        "train/entropy",
        "train/q_mean",
        "train/episode_return",
        "eval/return_mean",
        "perf/steps_per_sec",
    } <= keys
    assert [r["step"] for r in records if "eval/return_mean" in r] == [200, 400]
    assert (run_dir / "config.yaml").exists() and (run_dir / ".hydra" / "config.yaml").exists()

    # The checkpoint loads, and its deterministic policy reproduces the eval return logged at that step.
    state, meta, _ = load_checkpoint(run_dir / "checkpoints" / "latest")
    assert meta["step"] == 400 and meta["env_id"] == "Pendulum-v1"
    agent = SAC(meta["obs_dim"], meta["act_dim"], AgentConfig(hidden_sizes=[64, 64]), torch.device("cpu"))
    restore(agent, state["agent"], run_dir)
    env = make_env(EnvConfig(name="Pendulum"), seed=0)
    returns, _ = run_episodes(env, lambda o: agent.act(o, deterministic=True), 2, seed=1 + EVAL_SEED_OFFSET)
    env.close()
    logged = next(r["eval/return_mean"] for r in records if r["step"] == 400 and "eval/return_mean" in r)
    assert returns.mean() == pytest.approx(logged, rel=1e-6)

    # The offline W&B run holds the same history, read back from its transaction log.
    (wandb_file,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    history = wandb_history(wandb_file)
    logged_keys = set().union(*history)
    assert {"train/critic_loss", "eval/return_mean", "train/episode_return"} <= logged_keys
    wandb_eval = [row["eval/return_mean"] for row in history if "eval/return_mean" in row]
    assert wandb_eval == pytest.approx([r["eval/return_mean"] for r in records if "eval/return_mean" in r])


def test_wandb_mode_in_the_environment_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """WANDB_MODE=disabled, set once by a cluster user, turns W&B off although the config's default is online."""
    monkeypatch.setenv("WANDB_MODE", "disabled")
    run_dir = tmp_path / "run"
    args = ["env=Pendulum", "total_steps=200", "learning_starts=100", "eval_every=200", "eval_episodes=1",
            "agent.hidden_sizes=[16,16]", f"hydra.run.dir={run_dir}"]  # fmt: skip
    code, _, stderr = run_entry_point("train_sac", args)
    assert code == 0, stderr
    assert not (run_dir / "wandb").exists()
    assert RunDir(run_dir).read_config().wandb.mode == "disabled"

    monkeypatch.setenv("WANDB_MODE", "sometimes")
    code, _, stderr = run_entry_point("train_sac", [*args[:-1], f"hydra.run.dir={tmp_path / 'bad'}"])
    assert code == 2 and stderr.strip().splitlines() == [
        "error: WANDB_MODE=sometimes in the environment is invalid: allowed online, run, offline, dryrun, disabled"
    ]


@pytest.mark.parametrize(
    ("env", "overrides", "given", "expected"),
    [("offline", [], "online", "offline"),  # the environment replaces the config's default
     ("dryrun", ["seed=1"], "online", "offline"),  # W&B's older name; other overrides do not count
     ("offline", ["wandb.mode=disabled"], "disabled", "disabled"),  # the command line wins
     ("disabled", ["+wandb.mode=online"], "online", "online"),
     ("", [], "online", "online")],  # an empty WANDB_MODE sets nothing
)  # fmt: skip
def test_the_command_line_wins_over_wandb_mode_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: str, overrides: list[str], given: str, expected: str
) -> None:
    monkeypatch.setenv("WANDB_MODE", env)
    config = TrainConfig(wandb=WandbConfig(mode=WandbMode(given)))  # what Hydra made of the command line
    honour_wandb_mode_env(config, overrides)
    assert config.wandb.mode == WandbMode(expected)


def test_automatic_threads_work_without_sched_getaffinity(monkeypatch: pytest.MonkeyPatch) -> None:
    class Run:
        mode = None

    monkeypatch.delattr("os.sched_getaffinity")  # as on macOS
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the suite sets it (tests/conftest.py)
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert device.available_cores() == 6
    assert cli.job_threads(0, Run()) == 6
    assert cli.job_threads(3, Run()) == 3


@pytest.mark.parametrize(("omp", "expected"), [("3", 3), ("2,1", 2), (" 5 ", 5), ("0", 8), ("", 8), ("four", 8)])
def test_automatic_threads_follow_omp_num_threads_where_it_is_a_positive_count(
    monkeypatch: pytest.MonkeyPatch, omp: str, expected: int
) -> None:
    # 16 cores, a sweep of 2 jobs at a time: 8 threads each, unless OMP_NUM_THREADS gives a count.
    sweep = OmegaConf.create({"mode": RunMode.MULTIRUN, "launcher": {"n_jobs": 2}})
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.setenv("OMP_NUM_THREADS", omp)
    assert cli.job_threads(0, sweep) == expected
    assert cli.job_threads(4, sweep) == 4  # a run's own threads win


@pytest.mark.parametrize(
    ("script", "argv"),
    [
        ("train_sac", ["env=Hopper", "encoder=vae", "encoder.latent_dim=8", "agent.discrete.estimator=gumbel"]),
        ("train_sac", ["--multirun", "hydra/launcher=slurm", "seed=0,1", "agent.hidden_sizes=[64,64]"]),
        ("train_sac", ["agent.hidden_sizes.0=3", "+wandb.tags=[a]", "seeds=[0,1]", "hydra.run.dir=x", "--cfg", "job"]),
        ("train_reinforce", ["env=Hopper", "agent.policy_lr=1e-3", "num_envs=4"]),
        ("evaluate", ["checkpoint=x", "episodes=3", "wandb.mode=offline", "env_name=Hopper"]),
        ("compare_estimators", ["runs=[a,b]", "sweep_dir=d", "title=t"]),
    ],
)
def test_every_real_option_passes_the_name_check(script: str, argv: list[str]) -> None:
    # Groups, items of a list option, Hydra's flags and its own settings are names too: none may be refused.
    assert cli.unknown_option(script, argv) is None


def test_each_option_of_every_schema_is_a_known_name() -> None:
    names = cli.option_names(TrainConfig)
    assert {"agent.batch_size", "agent.discrete.estimator", "encoder.latent_dim", "diagnostics.samples"} <= set(names)
    for name in names:
        assert cli.unknown_option("train_sac", [f"{name}=1"]) is None, name


def test_jobs_started_together_share_an_output_directory_without_failing(tmp_path: Path) -> None:
    """Two lanes resumed in the same second share Hydra's default directory; each probes it for writability at once.
    With one fixed probe name, one job's cleanup deleted the file another was about to remove (exit 2)."""
    failures: list[BaseException] = []

    def probe_many() -> None:
        for _ in range(300):
            try:
                cli._make_output_dir(str(tmp_path / "outputs"))
            except SystemExit as e:
                failures.append(e)
                return

    threads = [threading.Thread(target=probe_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert list((tmp_path / "outputs").iterdir()) == []  # no probe left behind
