import numpy as np
import torch

from sac.checkpoint import load_checkpoint
from sac.config import EnvConfig
from sac.replay import ReplayBuffer
from sac.train import train
from conftest import small_config


def fill(buffer: ReplayBuffer, n: int) -> None:
    for i in range(n):
        obs = np.full(3, i, dtype=np.float32)
        buffer.add(obs, np.full(1, -i, dtype=np.float32), float(i), obs + 0.5, i % 5 == 4, i % 7 == 6)


def test_ring_buffer_overwrites_oldest_and_samples_consistent_rows() -> None:
    buffer = ReplayBuffer(3, 1, capacity=10, device=torch.device("cpu"))
    fill(buffer, 13)
    assert len(buffer) == 10 and buffer.ptr == 3
    assert buffer.obs[:3, 0].tolist() == [10.0, 11.0, 12.0]
    batch = buffer.sample(256)
    i = batch.obs[:, 0]
    assert torch.equal(batch.reward, i) and torch.equal(batch.action[:, 0], -i)
    assert torch.equal(batch.next_obs[:, 0], i + 0.5)
    assert torch.equal(batch.terminated, (i.long() % 5 == 4).float())
    assert i.min() >= 3  # rows 0..2 were overwritten


def test_state_round_trip_restores_contents_and_sampling_stream() -> None:
    a = ReplayBuffer(3, 1, capacity=20, device=torch.device("cpu"), seed=3)
    fill(a, 12)
    b = ReplayBuffer(3, 1, capacity=20, device=torch.device("cpu"), seed=99)
    b.load_state_dict(a.state_dict())
    assert len(b) == 12 and b.ptr == a.ptr
    for x, y in zip(a.sample(32), b.sample(32)):
        assert torch.equal(x, y)


def test_loop_stores_time_limits_as_truncated_with_the_final_observation(tmp_path) -> None:
    # Pendulum never terminates; its 200-step time limit truncates.
    train(small_config(total_steps=450, learning_starts=450), tmp_path)
    _, _, replay = load_checkpoint(tmp_path / "checkpoints" / "latest")
    assert not replay["terminated"].any()
    assert torch.nonzero(replay["truncated"]).flatten().tolist() == [199, 399]
    # Inside an episode s' is the next row's s; at a truncation s' is the last state, not the reset state.
    assert torch.equal(replay["next_obs"][:199], replay["obs"][1:200])
    assert not torch.equal(replay["next_obs"][199], replay["obs"][200])


def test_loop_stores_terminal_states_as_terminated(tmp_path) -> None:
    # InvertedPendulum terminates when the pole falls, which random actions make happen quickly.
    train(small_config(env=EnvConfig(name="InvertedPendulum"), total_steps=300, learning_starts=300), tmp_path)
    _, _, replay = load_checkpoint(tmp_path / "checkpoints" / "latest")
    ends = torch.nonzero(replay["terminated"]).flatten()
    assert len(ends) > 5 and not replay["truncated"].any()
    # Every row after a terminal one starts a new episode from a fresh reset.
    starts = ends[:-1] + 1
    assert not torch.equal(replay["obs"][starts], replay["next_obs"][ends[:-1]])
