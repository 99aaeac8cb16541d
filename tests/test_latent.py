"""What a VAE latent keeps of each state dimension (sac/analysis/latent.py, benchmarks/vae_latent_dims.py)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import load_script, small_config

from envs.make import make_env
from sac.analysis.latent import explained_variance, reconstruction_r2, replay_states, state_names
from sac.config import EncoderConfig, EnvConfig
from sac.encoders import VAE
from sac.run.checkpoint import load_checkpoint
from sac.run.evaluate import checkpoint_path, load_agent
from sac.run.replay import ReplayBuffer
from sac.run.train_sac import train

ROOT = Path(__file__).resolve().parents[1]


def test_explained_variance_of_a_shrunk_prediction_is_one_minus_the_shrinkage_squared() -> None:
    """prediction = mean + a * (target - mean) leaves (1 - a)^2 of each dimension's variance: R^2 = 1 - (1 - a)^2."""
    target = torch.randn(1000, 4, dtype=torch.float64) * torch.tensor([1.0, 3.0, 0.1, 10.0], dtype=torch.float64)
    a = torch.tensor([1.0, 0.5, 0.0, -1.0], dtype=torch.float64)
    mean = target.mean(0)
    r2 = explained_variance(target, mean + a * (target - mean))
    torch.testing.assert_close(r2, 1 - (1 - a) ** 2)  # 1, 0.75, 0 (the mean alone), -3 (worse than the mean)


def test_reconstruction_r2_scores_the_decoder_on_the_normalised_state() -> None:
    """A decoder whose output is a constant c: with states normalised to mean 0 and variance 1 by the VAE's own
    statistics, R^2_d = -c_d^2 (raw states, with their scales of 5 and 100, would give other numbers)."""
    obs = torch.randn(4096, 3, dtype=torch.float64) * torch.tensor([1.0, 5.0, 100.0], dtype=torch.float64) + 7.0
    vae = VAE(3, EncoderConfig(name="vae", latent_dim=2, hidden_sizes=[16])).double()
    vae.normalizer.update(obs)
    c = torch.tensor([0.0, 0.5, 2.0], dtype=torch.float64)
    with torch.no_grad():
        vae.decoder[-1].weight.zero_()
        vae.decoder[-1].bias.copy_(c)
    torch.testing.assert_close(reconstruction_r2(vae, obs), -(c**2), atol=1e-4, rtol=0)


@pytest.mark.parametrize("steps", [5, 23])  # the ring part-filled, and wrapped more than twice
def test_replay_states_are_the_transitions_starting_states_oldest_first(steps: int) -> None:
    buffer = ReplayBuffer(obs_dim=1, act_dim=1, capacity=9, device=torch.device("cpu"))
    clock = 0.0  # every state, reset states too, holds the time it was seen: later states hold larger values
    for t in range(1, steps + 1):
        done = t % 4 == 0  # every fourth transition ends its episode; a reset state follows
        buffer.add(np.array([clock]), np.zeros(1), 0.0, np.array([clock + 1]), terminated=done, truncated=False)
        clock += 2 if done else 1
    states = replay_states(buffer.state_dict())[:, 0]
    sampleable = buffer.obs[: buffer.size][torch.from_numpy(buffer.has_next[: buffer.size]), 0]
    assert len(states) == len(buffer)
    assert sorted(states.tolist()) == sorted(sampleable.tolist())
    assert torch.all(states[1:] > states[:-1])  # oldest first


def test_state_names_follow_the_mujoco_joints() -> None:
    names = {}
    for env_name in ("HalfCheetah", "Hopper", "Pendulum"):
        env = make_env(EnvConfig(name=env_name), seed=0)
        names[env_name] = state_names(env)
        env.close()
    # Gymnasium's HalfCheetah-v5 table: obs[0] the front tip's z, obs[8] its x velocity (what the reward pays for)
    assert len(names["HalfCheetah"]) == 17
    assert names["HalfCheetah"][0] == "rootz" and names["HalfCheetah"][8] == "rootx_vel"
    assert names["HalfCheetah"][16] == "ffoot_vel"
    assert names["Hopper"] == [
        "rootz", "rooty", "thigh_joint", "leg_joint", "foot_joint",
        "rootx_vel", "rootz_vel", "rooty_vel", "thigh_joint_vel", "leg_joint_vel", "foot_joint_vel",
    ]  # fmt: skip
    assert names["Pendulum"] == ["s[0]", "s[1]", "s[2]"]  # no MuJoCo model


def test_the_script_tables_each_dimension_and_refuses_a_run_without_a_vae(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    vae_cfg = EncoderConfig(name="vae", latent_dim=4, hidden_sizes=[32])
    train(small_config(env=EnvConfig(name="Hopper"), encoder=vae_cfg), tmp_path / "vae")
    train(small_config(), tmp_path / "raw")
    script = load_script(ROOT / "benchmarks" / "vae_latent_dims.py")

    monkeypatch.setattr("sys.argv", ["vae_latent_dims.py", str(tmp_path / "vae"), "--recent", "100"])
    script.main()
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    path = checkpoint_path(tmp_path / "vae")
    agent, _ = load_agent(path, torch.device("cpu"))
    states = replay_states(load_checkpoint(path)[2])  # type: ignore[arg-type]
    whole, latest = reconstruction_r2(agent.encoder.vae, states), reconstruction_r2(agent.encoder.vae, states[-100:])
    assert len(lines) == 2 + 11 + 1  # header, rule, Hopper-v5's 11 dimensions, the mean lost share
    assert lines[2] == f"| rootz | {whole[0]:.2f} / {latest[0]:.2f} |"
    assert lines[-1].endswith(f"| {(1 - whole).mean():.3f} / {(1 - latest).mean():.3f} |")

    monkeypatch.setattr("sys.argv", ["vae_latent_dims.py", str(tmp_path / "raw")])
    with pytest.raises(SystemExit) as exit_info:
        script.main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "has no VAE encoder" in err
