"""precision=bf16: the hidden layers' matmuls in bfloat16 during updates, everything else float32; a bf16 run saves
float32 weights and resumes exactly; precision=auto is bf16 only where bf16 has shown learning parity and pays.

On a CPU without bf16 units the bf16 arithmetic is emulated (slow, but exact to the same rounding), so these tests
run on every machine: they pretend the units are there where the CLI would refuse."""

import json
from pathlib import Path

import pytest
import torch
from helpers import small_config
from safetensors import safe_open

from sac.config import Precision
from sac.networks import Actor, CriticEnsemble
from sac.run import device as device_module
from sac.run.device import resolve_precision
from sac.run.rundir import RunDir
from sac.run.train_sac import train
from sac.speed import autocast

CPU = torch.device("cpu")


def test_hidden_layers_run_in_bf16_and_the_heads_in_fp32() -> None:
    torch.manual_seed(0)
    critic, actor = CriticEnsemble(5, 2, [32, 32]), Actor(5, 2, [32, 32])
    obs, action = torch.randn(16, 5), torch.rand(16, 2) * 2 - 1
    with autocast(CPU, bf16=True):
        q, dist = critic(obs, action), actor(obs)

    # The critics by hand: bf16 hidden layers, then the output layer in fp32 on the bf16 features.
    x = torch.cat([obs, action], -1).expand(2, -1, -1).bfloat16()
    ws, bs = list(critic.weights), list(critic.biases)
    for w, b in zip(ws[:-1], bs[:-1], strict=True):
        x = torch.relu(torch.baddbmm(b.bfloat16(), x, w.bfloat16()))
    expected_q = _head(x.float(), ws[-1], bs[-1])
    assert q.dtype == torch.float32 and torch.equal(q, expected_q)
    # The actor: the same, through its nn.Linear layers.
    h = obs.bfloat16()
    for layer in list(actor.net)[:-1]:
        h = (
            layer(h)
            if isinstance(layer, torch.nn.ReLU)
            else torch.nn.functional.linear(h, layer.weight.bfloat16(), layer.bias.bfloat16())
        )
    head = actor.net[-1]
    mu = torch.nn.functional.linear(h.float(), head.weight, head.bias).chunk(2, dim=-1)[0]
    assert dist.mu.dtype == torch.float32 and torch.equal(dist.mu, mu)

    # bf16 changed the numbers, by about its rounding (8 mantissa bits), and fp32 outside the region is exact fp32.
    q32 = critic(obs, action)
    relative = ((q - q32).abs().max() / q32.abs().max()).item()
    assert 1e-4 < relative < 5e-2, relative
    assert torch.equal(q32, _head(_fp32_hidden(critic, obs, action), ws[-1], bs[-1]))


def _head(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The critics' output layer as CriticEnsemble computes it: one addmm per critic -> (E, B)."""
    return torch.stack([torch.addmm(b[e], x[e], w[e]) for e in range(len(w))]).squeeze(-1)


def _fp32_hidden(critic: CriticEnsemble, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    x = torch.cat([obs, action], -1).expand(2, -1, -1)
    for w, b in zip(list(critic.weights)[:-1], list(critic.biases)[:-1], strict=True):
        x = torch.relu(torch.baddbmm(b, x, w))
    return x


def test_a_bf16_run_saves_fp32_weights_and_resumes_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device_module, "bf16_units", lambda device: True)
    common = {"learning_starts": 50, "eval_every": 100, "checkpoint_every": 100, "log_every": 50, "threads": 1}
    whole, part, fp32 = tmp_path / "whole", tmp_path / "part", tmp_path / "fp32"
    bf16 = small_config(total_steps=200, precision=Precision.bf16, **common)
    bf16.agent.hidden_sizes, bf16.agent.batch_size = [32, 32], 32
    train(bf16, whole)
    train(small_config(**{**vars(bf16), "total_steps": 100}), part)
    train(bf16, part, resume=True)
    train(small_config(**{**vars(bf16), "precision": Precision.fp32}), fp32)

    def strip(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k not in ("time", "perf/steps_per_sec")} for r in rows]

    assert strip(RunDir(part).records()) == strip(RunDir(whole).records())
    state = whole / "checkpoints" / "latest" / "state.safetensors"
    assert state.read_bytes() == (part / "checkpoints" / "latest" / "state.safetensors").read_bytes()
    with safe_open(str(state), "pt") as f:
        dtypes = {f.get_tensor(k).dtype for k in f.keys() if k.startswith("state.agent.")}  # noqa: SIM118
    assert dtypes == {torch.float32}  # weights, targets, log_alpha, Adam's moments and step counts
    segments = json.loads((part / "run.json").read_text())["segments"]
    assert [s["precision"] for s in segments] == ["bf16", "bf16"]
    # bf16 was on: the same seed in fp32 trains to other losses.
    losses = [[r["train/critic_loss"] for r in RunDir(d).records() if "train/critic_loss" in r] for d in (whole, fp32)]
    assert losses[0] != losses[1]


def test_auto_is_bf16_only_with_bf16_units_parity_and_the_configuration_parity_was_shown_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wide = [256, 256]
    for units in (False, True):
        monkeypatch.setattr(device_module, "bf16_units", lambda device, units=units: units)
        for parity in (False, True):
            monkeypatch.setattr(device_module, "BF16_PARITY", parity)
            expected = Precision.bf16 if units and parity else Precision.fp32
            assert resolve_precision("auto", CPU, wide, "none") == expected
            # Narrower hidden layers (bf16 is slower there), the VAE latent (no parity runs), a GPU (not measured).
            assert resolve_precision("auto", CPU, [64, 64], "none") == Precision.fp32
            assert resolve_precision("auto", CPU, [256, 128], "none") == Precision.fp32
            assert resolve_precision("auto", CPU, wide, "vae") == Precision.fp32
            assert resolve_precision("auto", torch.device("cuda"), wide, "none") == Precision.fp32
        assert resolve_precision("fp32", CPU, wide, "none") == Precision.fp32
    assert resolve_precision("bf16", CPU, [64, 64], "vae") == Precision.bf16  # units (the last loop's): as asked
