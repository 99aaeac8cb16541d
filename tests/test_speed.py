"""The speed switches change how the update runs, not what it computes."""

import pytest
import torch

from sac.agent import SAC
from sac.batch import Batch
from sac.config import AgentConfig

OBS_DIM, ACT_DIM = 11, 3
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def batches(n: int, seed: int = 0) -> list[Batch]:
    g = torch.Generator().manual_seed(seed)
    return [
        Batch(
            obs=torch.randn(64, OBS_DIM, generator=g),
            action=torch.rand(64, ACT_DIM, generator=g) * 2 - 1,
            reward=torch.randn(64, generator=g),
            next_obs=torch.randn(64, OBS_DIM, generator=g),
            terminated=(torch.rand(64, generator=g) < 0.1).float(),
        )
        for _ in range(n)
    ]


def run(device: torch.device, n: int, **switches: bool) -> tuple[list[dict[str, float]], SAC]:
    """n updates of a seeded agent on fixed batches; the update's own noise comes from the global RNG."""
    torch.manual_seed(0)
    agent = SAC(OBS_DIM, ACT_DIM, AgentConfig(hidden_sizes=[64, 64]), device, **switches)
    history = []
    for batch in batches(n):
        metrics = agent.update(Batch(*(t.to(device) for t in batch)))
        history.append({k: float(v) for k, v in metrics.items()})
    return history, agent


def assert_same_run(a: tuple[list[dict[str, float]], SAC], b: tuple[list[dict[str, float]], SAC]) -> None:
    for step_a, step_b in zip(a[0], b[0], strict=True):
        assert step_a.keys() == step_b.keys()
        for key in step_a:
            assert step_a[key] == pytest.approx(step_b[key], rel=1e-4, abs=1e-5), key
    x, y = a[1], b[1]
    for p_x, p_y in ((x.critic, y.critic), (x.critic_target.net, y.critic_target.net), (x.actor, y.actor)):
        for p, q in zip(p_x.parameters(), p_y.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(x.temperature.log_alpha, y.temperature.log_alpha)


@pytest.mark.slow  # Inductor's first compile takes most of a minute on 2 cores
def test_compiled_and_eager_updates_give_the_same_losses_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    # Inductor draws random numbers with its own generator unless told to fall back to eager's:
    # with the same noise, the two runs must agree to float tolerance.
    monkeypatch.setattr(torch._inductor.config, "fallback_random", True)
    cpu = torch.device("cpu")
    assert_same_run(run(cpu, 4, compile=True), run(cpu, 4))


@cuda
def test_cuda_graph_replays_the_eager_update() -> None:
    gpu = torch.device("cuda")
    # 3 eager warm-up updates, the capture (replayed once), then 4 plain replays.
    assert_same_run(run(gpu, 8, cudagraphs=True), run(gpu, 8))


@cuda
def test_compiled_cuda_graph_replays_the_eager_update(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch._inductor.config, "fallback_random", True)
    gpu = torch.device("cuda")
    assert_same_run(run(gpu, 8, compile=True, cudagraphs=True), run(gpu, 8))


def test_adam_step_is_the_optimizers_own_step_bit_for_bit() -> None:
    """speed.adam_step calls the fused kernel itself: the same parameters and state as optimizer.step(), over two param
    groups with their own learning rates, a parameter without a gradient (skipped by both), and the first step, where
    the state is made."""
    from sac.speed import adam, adam_step, zero_grad

    def run(step: str) -> tuple[list[torch.Tensor], dict]:
        torch.manual_seed(0)
        params = [torch.nn.Parameter(torch.randn(5, 4)), torch.nn.Parameter(torch.randn(4)),
                  torch.nn.Parameter(torch.randn(3)), torch.nn.Parameter(torch.zeros(()))]  # fmt: skip
        optimizer = adam([{"params": params[:3]}, {"params": params[3:], "lr": 1e-2}], lr=3e-3)
        own_step, calls = optimizer.step, []
        optimizer.step = lambda: calls.append(1) or own_step()  # type: ignore[method-assign]
        g = torch.Generator().manual_seed(1)
        for i in range(6):
            zero_grad(optimizer) if step == "lean" else optimizer.zero_grad()
            x = torch.randn(7, 5, generator=g)
            loss = ((x @ params[0] + params[1]).tanh().sum() + params[3].exp() * (i + 1)) ** 2
            if i % 2:
                loss = loss + params[2].pow(2).sum()  # params[2] has a gradient only on odd steps
            loss.backward()
            adam_step(optimizer) if step == "lean" else optimizer.step()
        # The lean step took the optimizer's own for the steps that made state: the first, and params[2]'s first.
        assert len(calls) == (2 if step == "lean" else 6)
        return [p.detach().clone() for p in params], optimizer.state_dict()

    (p_lean, s_lean), (p_own, s_own) = run("lean"), run("own")
    for a, b in zip(p_lean, p_own, strict=True):
        assert torch.equal(a, b)
    assert s_lean["state"].keys() == s_own["state"].keys() == {0, 1, 2, 3}
    for i, state in s_own["state"].items():
        assert int(state["step"]) == (3 if i == 2 else 6)
        for key, value in state.items():
            assert torch.equal(s_lean["state"][i][key], value), (i, key)
