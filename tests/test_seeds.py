"""Seeds batched in one process (sac/run/seeds.py): the batched update is S single updates, seed k of a batch
starts as the single run of seed k, a killed batch resumes exactly, and every seed directory is an ordinary run.
Bad `seeds` input is in docs/bad_input.md's table (tests/test_bad_input.py)."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import discrete_agent, run_entry_point
from test_resume import kill_at_checkpoint, records

from sac.agent import SAC
from sac.batch import Batch
from sac.config import ActorEstimator, AgentConfig, DiscreteEstimator, PolicyName
from sac.run.checkpoint import load_checkpoint
from sac.run.replay import ReplayBuffer
from sac.run.seeds import SeedAxis, SeedReplay

S, B, OBS, ACT = 3, 16, 5, 2


def fixed_noise(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every sampler draws the same fixed noise in the batched and the single updates: torch's random functions
    replaced by slices of tensors drawn once, here (inside vmap the shape asked for is one seed's, and as no
    random op runs, every seed gets the same values)."""
    g = torch.Generator().manual_seed(123)
    normal, uniform = torch.randn(100_000, generator=g), torch.rand(100_000, generator=g)

    def fixed(source: torch.Tensor, shape: tuple[int, ...] | torch.Size, dtype: torch.dtype | None) -> torch.Tensor:
        shape = torch.Size(shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape)
        return source[: shape.numel()].view(shape).to(dtype or torch.float32)

    monkeypatch.setattr(torch, "randn_like", lambda x, **_: fixed(normal, x.shape, x.dtype))
    monkeypatch.setattr(torch, "randn", lambda *shape, **kw: fixed(normal, shape, kw.get("dtype")))
    monkeypatch.setattr(torch, "rand", lambda *shape, **kw: fixed(uniform, shape, kw.get("dtype")))
    # The Beta's sampler: the mean of each Dirichlet, c / sum(c) (its implicit gradient is taken at that point).
    monkeypatch.setattr(torch, "_sample_dirichlet", lambda c: c / c.sum(-1, keepdim=True))


def continuous_agents(**cfg: object) -> list[SAC]:
    agents = []
    for seed in range(S):
        torch.manual_seed(seed)
        agents.append(SAC(OBS, ACT, AgentConfig(hidden_sizes=[32, 32], **cfg), torch.device("cpu")))  # type: ignore[arg-type]
    return agents


def batches(seed: int, discrete: bool) -> list[Batch]:
    g = torch.Generator().manual_seed(seed)
    obs_dim = 4 if discrete else OBS
    out = []
    for _ in range(S):
        action = torch.randint(3, (B, 1), generator=g).float() if discrete else torch.rand(B, ACT, generator=g) * 2 - 1
        out.append(Batch(torch.randn(B, obs_dim, generator=g), action, torch.randn(B, generator=g),
                         torch.randn(B, obs_dim, generator=g), (torch.rand(B, generator=g) < 0.2).float()))  # fmt: skip
    return out


def stack(per_seed: list[Batch]) -> Batch:
    return Batch(*(torch.stack(fields) for fields in zip(*per_seed, strict=True)))


SETTINGS = {
    "tanh-reparam": dict(),
    "tanh-score": dict(actor_estimator=ActorEstimator.score, score_samples=4),
    "tanh-reparam-k2": dict(reparam_samples=2),
    "beta": dict(policy=PolicyName.beta),
    "truncated-normal": dict(policy=PolicyName.truncated_normal),
    "gaussian-mixture": dict(policy=PolicyName.gaussian_mixture),
    "discrete-exact": DiscreteEstimator.exact,
    "discrete-gumbel": DiscreteEstimator.gumbel,
    "discrete-score": DiscreteEstimator.score,
}


@pytest.mark.parametrize("setting", SETTINGS)
def test_a_batched_update_of_three_seeds_equals_their_three_single_updates(
    monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    fixed_noise(monkeypatch)
    spec = SETTINGS[setting]
    discrete = isinstance(spec, DiscreteEstimator)
    agents: list = [discrete_agent(spec) for _ in range(S)] if discrete else continuous_agents(**spec)  # type: ignore[arg-type]
    if discrete:  # distinct seeds: perturb each copy differently
        for k, agent in enumerate(agents):
            torch.manual_seed(100 + k)
            with torch.no_grad():
                for p in agent.actor.parameters():
                    p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(100 + k)))
    singles = copy.deepcopy(agents)
    axis = SeedAxis(agents)
    for update in range(2):  # the second update also checks the Adam moments carried between steps
        per_seed = batches(update, discrete)
        batched = axis.update(stack(per_seed))
        for k, single in enumerate(singles):
            metrics = single.update(per_seed[k])
            for key, value in metrics.items():
                torch.testing.assert_close(batched[key][k], value, rtol=1e-5, atol=1e-6, msg=f"{key}, seed {k}")
    for k, single in enumerate(singles):
        exported = axis.export(k)
        for (name, p), q in zip(exported.actor.named_parameters(), single.actor.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=f"actor {name}, seed {k}")
        for p, q in zip(exported.critic_target.net.parameters(), single.critic_target.net.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(exported.temperature.log_alpha, single.temperature.log_alpha)
        moments = exported.critic_optim.state_dict()["state"][0]["exp_avg_sq"]
        torch.testing.assert_close(moments, single.critic_optim.state_dict()["state"][0]["exp_avg_sq"])
        assert exported.updates == single.updates == 2


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda
@pytest.mark.parametrize("switches", [{"cudagraphs": True}, {"compile": True, "cudagraphs": True}])
def test_cuda_graph_of_the_batched_update_replays_the_eager_one(switches: dict[str, bool]) -> None:
    gpu = torch.device("cuda")
    runs = []
    for speed in (switches, {}):
        agents = []
        for seed in range(S):
            torch.manual_seed(seed)
            agents.append(SAC(OBS, ACT, AgentConfig(hidden_sizes=[32, 32]), gpu))
        axis = SeedAxis(agents, **speed)
        torch.manual_seed(0)
        runs.append([axis.update(Batch(*(t.to(gpu) for t in stack(batches(i, False))))) for i in range(8)])
    for graphed, eager in zip(*runs, strict=True):
        for key in eager:
            torch.testing.assert_close(graphed[key], eager[key], rtol=1e-4, atol=1e-5, msg=key)


def test_export_then_load_agents_round_trips_every_seed() -> None:
    agents = continuous_agents()
    axis = SeedAxis(agents)
    torch.manual_seed(0)
    axis.update(stack(batches(0, False)))
    states = [copy.deepcopy(axis.export(k).state_dict()) for k in range(S)]
    fresh = SeedAxis(continuous_agents())
    for agent, state in zip(fresh.agents, states, strict=True):
        agent.load_state_dict(state)
    fresh.load_agents()
    for name, p in axis.params.items():
        assert torch.equal(p, fresh.params[name]), name
    for mine, theirs in ((axis.actor_optim, fresh.actor_optim), (axis.critic_optim, fresh.critic_optim)):
        for a, b in zip(mine.state_dict()["state"].values(), theirs.state_dict()["state"].values(), strict=True):
            assert all(torch.equal(a[key].cpu(), b[key].cpu()) for key in a)


@pytest.mark.parametrize("discrete", [False, True])
def test_seed_replay_stores_and_samples_each_seed_as_its_own_buffer_would(discrete: bool) -> None:
    seeds, cols = [7, 8], 1 if discrete else ACT
    replay = SeedReplay(seeds, OBS, cols, 50, torch.device("cpu"))
    singles = [ReplayBuffer(OBS, cols, 50, torch.device("cpu"), seed=s) for s in seeds]
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(2, OBS)).astype(np.float32)
    for t in range(70):  # past the capacity: rows wrap around
        nxt = rng.normal(size=(2, OBS)).astype(np.float32)
        actions = rng.integers(0, 3, 2) if discrete else rng.uniform(-1, 1, (2, ACT)).astype(np.float32)
        rewards, terminated = rng.normal(size=2), np.array([t % 11 == 10, t % 7 == 6])
        truncated = np.array([t % 13 == 12, False])
        replay.add(obs, actions, rewards, nxt, terminated, truncated)
        for k in range(2):
            singles[k].add(obs[k], actions[k], float(rewards[k]), nxt[k], bool(terminated[k]), bool(truncated[k]))
        done = terminated | truncated
        obs = np.where(done[:, None], rng.normal(size=(2, OBS)).astype(np.float32), nxt)
    for k, single in enumerate(singles):
        mine = replay.buffers[k].state_dict()
        for key, value in single.state_dict().items():
            assert torch.equal(mine[key], value), (k, key)
    batch = replay.sample(32)
    for k, single in enumerate(singles):
        for name, got, want in zip(Batch._fields, batch, single.sample(32), strict=True):
            assert torch.equal(got[k], want), name


PENDULUM = ["env=Pendulum", "agent.hidden_sizes=[32,32]", "agent.batch_size=32", "eval_episodes=2",
            "log_every=100", "wandb.mode=disabled", "threads=1", "seeds_mode=batched"]  # fmt: skip


def test_seed_k_of_a_batch_starts_as_the_single_run_of_seed_k(tmp_path: Path) -> None:
    """Before the first update: the same initial weights, warm-up actions, replay rows and evaluations."""
    steps = ["total_steps=300", "learning_starts=1000", "eval_every=300", "checkpoint_every=300"]
    code, _, err = run_entry_point("train_sac", [*PENDULUM, *steps, "seeds=[3,5]", f"hydra.run.dir={tmp_path / 'b'}"])
    assert code == 0, err
    code, _, err = run_entry_point("train_sac", [*PENDULUM, *steps, "seed=5", f"hydra.run.dir={tmp_path / 's'}"])
    assert code == 0, err
    batched, single = tmp_path / "b" / "seed5", tmp_path / "s"
    assert records(batched) == records(single)  # episode returns of the warm-up actions and the evaluation
    state_b, meta_b, replay_b = load_checkpoint(batched / "checkpoints" / "latest")
    state_s, meta_s, replay_s = load_checkpoint(single / "checkpoints" / "latest")
    assert replay_b is not None and replay_s is not None
    assert all(torch.equal(replay_b[key], replay_s[key]) for key in replay_s)
    for part in ("actor", "critic", "critic_target"):
        for name, value in state_s["agent"][part].items():
            assert torch.equal(state_b["agent"][part][name], value), (part, name)
    assert meta_b["config"]["seed"] == 5 and meta_b["config"]["seeds"] is None
    clock = lambda layers: [{k: v for k, v in layer.items() if k != "episode_start_time"} for layer in layers]  # noqa: E731
    assert clock(meta_b["loop"]["env"]["layers"]) == clock(meta_s["loop"]["env"]["layers"])  # the env's own state


@pytest.mark.slow  # two batches and a resumption, in processes of their own: the full suite's
def test_a_killed_batch_resumes_exactly_and_each_seed_evaluates(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    argv = [*PENDULUM, "seeds=[0,2]", "total_steps=800", "learning_starts=200", "eval_every=200",
            "checkpoint_every=200"]  # fmt: skip
    code, _, err = run_entry_point("train_sac", [*argv, f"hydra.run.dir={a}"])
    assert code == 0, err
    # Killed as soon as seed 0, the first to save, has its checkpoint at 400: seed 2's may not be written yet, and
    # the batch then resumes both from 200, where seed 0's replay buffer was kept for that case.
    kill_at_checkpoint("train_sac", [*argv, f"hydra.run.dir={b}"], b / "seed0", 400)
    code, _, err = run_entry_point("train_sac", [f"resume={b}", f"hydra.run.dir={tmp_path / 'r'}"])
    assert code == 0, err
    for seed in (0, 2):
        assert len([r for r in records(a / f"seed{seed}") if r["step"] > 400]) > 5
        assert records(b / f"seed{seed}") == records(a / f"seed{seed}")
        # Once every seed saved a step, the older replay buffers are gone: one on disk per seed.
        assert [p.parent.name for p in (b / f"seed{seed}" / "checkpoints").glob("step_*/replay.safetensors")] == [
            "step_000000800"
        ]
    # Every seed directory is an ordinary run: evaluate.py reproduces its last logged evaluation.
    for seed in (0, 2):
        run = b / f"seed{seed}"
        out = tmp_path / f"eval{seed}.json"
        code, _, err = run_entry_point(
            "evaluate",
            [
                f"checkpoint={run / 'checkpoints' / 'latest'}",
                "episodes=2",
                f"output={out}",
                f"hydra.run.dir={tmp_path / f'e{seed}'}",
            ],
        )
        assert code == 0, err
        logged = [r for r in records(run) if "eval/return_mean" in r][-1]["eval/return_mean"]
        assert json.loads(out.read_text())["return_mean"] == pytest.approx(logged)


@pytest.mark.slow  # four runs, two in processes of their own: the full suite's
def test_on_a_cpu_each_seed_runs_as_its_own_single_run_in_a_process_of_its_own(tmp_path: Path) -> None:
    """seeds_mode=auto on a CPU is seeds_mode=processes: seed k's directory holds exactly the single run of seed k."""
    argv = [*PENDULUM[:-1], "total_steps=600", "learning_starts=200", "eval_every=300", "checkpoint_every=300"]
    code, _, err = run_entry_point("train_sac", [*argv, "seeds=[1,4]", "threads=2", f"hydra.run.dir={tmp_path / 'b'}"])
    assert code == 0, err
    for seed in (1, 4):
        code, _, err = run_entry_point("train_sac", [*argv, f"seed={seed}", f"hydra.run.dir={tmp_path / str(seed)}"])
        assert code == 0, err
        assert records(tmp_path / "b" / f"seed{seed}") == records(tmp_path / str(seed))
        state_b = (tmp_path / "b" / f"seed{seed}" / "checkpoints" / "latest" / "state.safetensors").read_bytes()
        assert state_b == (tmp_path / str(seed) / "checkpoints" / "latest" / "state.safetensors").read_bytes()
