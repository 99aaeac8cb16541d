"""scripts/evaluate.py on saved SAC and REINFORCE policies, and videos (entry points run in this process)."""

import json
from pathlib import Path

import imageio
import pytest
from helpers import run_entry_point

from sac.run.rundir import RunDir


def run(script: str, *overrides: str) -> str:
    """The script's entry point with these arguments; returns its stdout."""
    code, stdout, stderr = run_entry_point(script, list(overrides))
    assert code == 0, stderr
    return stdout


def logged_eval(run_dir: Path) -> float:
    return [r["eval/return_mean"] for r in RunDir(run_dir).records() if "eval/return_mean" in r][-1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval")
    run(
        "train_sac",
        "env=Pendulum",
        "seed=2",
        "total_steps=400",
        "learning_starts=200",
        "eval_every=400",
        "eval_episodes=3",
        "video_every=1",
        "agent.hidden_sizes=[64,64]",
        "wandb.mode=disabled",
        f"hydra.run.dir={root / 'sac'}",
    )
    run(
        "train_sac",
        "env=Hopper",
        "encoder=vae",
        "encoder.latent_dim=8",
        "total_steps=400",
        "learning_starts=200",
        "eval_every=400",
        "eval_episodes=2",
        "agent.hidden_sizes=[32,32]",
        "encoder.hidden_sizes=[32,32]",
        "wandb.mode=disabled",
        f"hydra.run.dir={root / 'sac_vae'}",
    )
    run(
        "train_reinforce",
        "env=InvertedPendulum",
        "seed=1",
        "total_steps=2000",
        "batch_steps=1000",
        "eval_every=2000",
        "eval_episodes=3",
        "wandb.mode=disabled",
        f"hydra.run.dir={root / 'reinforce'}",
    )
    run(
        "train_sac",
        "env=CartPole",
        "seed=3",
        "total_steps=600",
        "learning_starts=200",
        "eval_every=600",
        "eval_episodes=3",
        "agent.hidden_sizes=[32,32]",
        "agent.discrete.estimator=straight_through",
        "wandb.mode=disabled",
        f"hydra.run.dir={root / 'sac_discrete'}",
    )
    names = ("sac", "sac_vae", "reinforce", "sac_discrete")
    return {name: root / name for name in names} | {"root": root}


@pytest.mark.parametrize(("name", "episodes"), [("sac", 3), ("sac_vae", 2), ("reinforce", 3), ("sac_discrete", 3)])
def test_evaluation_reproduces_the_logged_eval_return(
    runs: dict[str, Path], name: str, episodes: int, tmp_path: Path
) -> None:
    out = tmp_path / "eval.json"
    result = run(
        "evaluate",
        f"checkpoint={runs[name] / 'checkpoints' / 'latest'}",
        f"episodes={episodes}",
        f"output={out}",
        f"hydra.run.dir={tmp_path}",
    )
    summary = json.loads(out.read_text())
    labels = {"sac": "sac-reparam", "sac_vae": "sac-reparam", "reinforce": "reinforce",
              "sac_discrete": "sac-discrete-straight_through"}  # fmt: skip
    assert summary["algorithm"] == labels[name]
    assert len(summary["episodes"]) == episodes
    assert summary["return_mean"] == pytest.approx(logged_eval(runs[name]), rel=1e-9)
    assert f"return {summary['return_mean']:.2f} ± {summary['return_std']:.2f}" in result


def test_a_run_directory_evaluates_its_latest_checkpoint(runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    run("evaluate", f"checkpoint={runs['sac']}", "episodes=3", f"output={out}", f"hydra.run.dir={tmp_path}")
    summary = json.loads(out.read_text())
    assert summary["checkpoint"] == str(runs["sac"] / "checkpoints" / "latest")
    assert summary["checkpoint_step"] == 400
    assert summary["return_mean"] == pytest.approx(logged_eval(runs["sac"]), rel=1e-9)


def test_stochastic_evaluation_is_seeded(runs: dict[str, Path], tmp_path: Path) -> None:
    def returns(seed: int, name: str) -> list[float]:
        out = tmp_path / f"{name}.json"
        run(
            "evaluate",
            f"checkpoint={runs['sac'] / 'checkpoints' / 'latest'}",
            "episodes=2",
            "deterministic=false",
            f"seed={seed}",
            f"output={out}",
            f"hydra.run.dir={tmp_path / name}",
        )
        return [e["return"] for e in json.loads(out.read_text())["episodes"]]

    assert returns(7, "a") == returns(7, "b")
    assert returns(7, "a") != returns(8, "c")


@pytest.mark.parametrize(
    ("algorithm", "env"), [("sac", "Pendulum"), ("reinforce", "InvertedPendulum"), ("sac_discrete", "CartPole")]
)
def test_video_has_one_frame_per_step(runs: dict[str, Path], tmp_path: Path, algorithm: str, env: str) -> None:
    out = tmp_path / "eval.json"
    run(
        "evaluate",
        f"checkpoint={runs[algorithm] / 'checkpoints' / 'latest'}",
        "episodes=2",
        "video=true",
        "max_episode_steps=40",
        f"output={out}",
        f"hydra.run.dir={tmp_path}",
    )
    for episode in json.loads(out.read_text())["episodes"]:
        with imageio.get_reader(episode["video"]) as reader:
            assert reader.count_frames() == episode["length"] > 0
            assert (reader.get_data(0) > 20).mean() > 0.01  # a rendered scene, not an empty frame


@pytest.mark.slow  # a training run of its own: the fast suite keeps the four policies above
@pytest.mark.parametrize("policy", ["beta", "truncated_normal", "gaussian_mixture"])
def test_evaluation_and_video_of_an_implicitly_reparameterised_policy(tmp_path: Path, policy: str) -> None:
    """The checkpoint acts deterministically as training's evaluation did (the Beta's mean, the truncated normal's
    clamped mu, the heaviest component's mean), and films its episodes."""
    run("train_sac", "env=Pendulum", f"agent.policy={policy}", "seed=5", "total_steps=400", "learning_starts=200",
        "eval_every=400", "eval_episodes=2", "agent.hidden_sizes=[32,32]", "wandb.mode=disabled",
        f"hydra.run.dir={tmp_path / 'run'}")  # fmt: skip
    out = tmp_path / "eval.json"
    checkpoint = tmp_path / "run" / "checkpoints" / "latest"
    run("evaluate", f"checkpoint={checkpoint}", "episodes=2", "video=true", f"output={out}",
        f"hydra.run.dir={tmp_path / 'eval'}")  # fmt: skip
    summary = json.loads(out.read_text())
    assert summary["algorithm"] == f"sac-{policy.replace('_', '-')}-reparam"
    assert summary["return_mean"] == pytest.approx(logged_eval(tmp_path / "run"), rel=1e-9)
    for episode in summary["episodes"]:
        with imageio.get_reader(episode["video"]) as reader:
            assert reader.count_frames() == episode["length"] == 200


def test_training_films_evaluations_when_asked(runs: dict[str, Path]) -> None:
    video = runs["sac"] / "videos" / "step_000000400.mp4"
    with imageio.get_reader(video) as reader:
        assert reader.count_frames() == 200  # one Pendulum episode
    assert {"step": 400, "eval/video": "videos/step_000000400.mp4"} in RunDir(runs["sac"]).records()
