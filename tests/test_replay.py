import numpy as np
import pytest
import torch
from helpers import small_config

from sac.config import EnvConfig
from sac.run.checkpoint import load_checkpoint
from sac.run.replay import ReplayBuffer
from sac.run.train_sac import train

CPU = torch.device("cpu")


def fill(
    buffer: ReplayBuffer, episode_lengths: list[int], terminal: bool = True, state: float = 0.0
) -> list[tuple[float, float, bool]]:
    """Episodes (ended by termination, or else by truncation) whose states are numbered from `state`
    on, across episodes; the transition out of state k has reward k and action -k.
    Returns the stored (s, s', terminated) in order."""
    transitions = []
    for length in episode_lengths:
        for t in range(length):
            last = t == length - 1
            obs, next_obs = np.full(3, state, np.float32), np.full(3, state + 1, np.float32)
            buffer.add(obs, np.full(1, -state, np.float32), state, next_obs, last and terminal, last and not terminal)
            transitions.append((state, state + 1, last and terminal))
            state += 1
        state += 1  # the final state's successor in the numbering is the next episode's reset state
    return transitions


def test_each_observation_is_stored_once_within_the_issue_budget() -> None:
    obs_dim, act_dim = 348, 17  # Humanoid-v5
    buffer = ReplayBuffer(obs_dim, act_dim, capacity=1000, device=CPU)
    assert buffer.nbytes / buffer.capacity <= (obs_dim + act_dim + 3) * 4
    assert not hasattr(buffer, "next_obs")


def test_samples_are_stored_transitions_and_episode_ends_keep_their_final_state() -> None:
    buffer = ReplayBuffer(3, 1, capacity=100, device=CPU)
    stored = fill(buffer, [4, 1, 6], terminal=True)
    stored += fill(buffer, [5], terminal=False, state=stored[-1][1] + 1)
    assert len(buffer) == 16 and buffer.size == 16 + 4
    batch = buffer.sample(4096)
    s, s_next = batch.obs[:, 0], batch.next_obs[:, 0]
    assert torch.equal(batch.reward, s) and torch.equal(batch.action[:, 0], -s)
    assert torch.equal(s_next, s + 1)  # never the next episode's reset state (that would be s + 2)
    ends = {a for a, _, term in stored if term}
    assert torch.equal(batch.terminated, torch.tensor([float(x in ends) for x in s.tolist()]))
    # Uniform over the 16 transitions (4096 draws: each count is 256 +- 15.5, binomial sd).
    counts = torch.bincount(s.long(), minlength=30)
    assert set(torch.nonzero(counts).flatten().tolist()) == {a for a, _, _ in stored}
    assert (counts[counts > 0] - 256).abs().max() < 5 * 15.5


def test_ring_overwrites_oldest_rows_and_never_pairs_across_the_write_head() -> None:
    buffer = ReplayBuffer(3, 1, capacity=10, device=CPU)
    stored = fill(buffer, [7, 8], terminal=False)  # 15 transitions + 2 final rows = 17 rows into 10
    assert buffer.size == 10 and len(buffer) == 8
    batch = buffer.sample(2048)
    s = batch.obs[:, 0]
    assert torch.equal(batch.next_obs[:, 0], s + 1)
    assert set(s.long().tolist()) == {int(a) for a, _, _ in stored[-8:]}  # the newest 8 transitions


def test_sampling_an_empty_buffer_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="holds no transition"):
        ReplayBuffer(3, 1, capacity=10, device=CPU).sample(4)


def test_state_round_trip_restores_contents_and_sampling_stream() -> None:
    a = ReplayBuffer(3, 1, capacity=20, device=CPU, seed=3)
    fill(a, [5, 3])
    b = ReplayBuffer(3, 1, capacity=20, device=CPU, seed=99)
    b.load_state_dict(a.state_dict())
    assert len(b) == 8 and b.ptr == a.ptr
    for x, y in zip(a.sample(32), b.sample(32), strict=True):
        assert torch.equal(x, y)
    fill(a, [2], state=100)
    fill(b, [2], state=100)  # the episode boundary state is restored too
    for x, y in zip(a.sample(64), b.sample(64), strict=True):
        assert torch.equal(x, y)


def test_loop_stores_time_limits_as_truncated_with_the_final_observation(tmp_path) -> None:
    # Pendulum never terminates; its 200-step time limit truncates: 450 transitions in 453 rows.
    train(small_config(total_steps=450, learning_starts=450), tmp_path)
    _, _, replay = load_checkpoint(tmp_path / "checkpoints" / "latest")
    assert not replay["terminated"].any() and int(replay["has_next"].sum()) == 450
    # Rows 200 and 401 hold the final states of the two truncated episodes (never sampled, and not
    # the reset state that follows them); row 452 is the newest state, whose transition is to come.
    assert torch.nonzero(~replay["has_next"]).flatten().tolist() == [200, 401, 452]
    assert not torch.equal(replay["obs"][200], replay["obs"][201])


def test_loop_stores_terminal_states_as_terminated(tmp_path) -> None:
    # InvertedPendulum terminates when the pole falls, which random actions make happen quickly.
    train(small_config(env=EnvConfig(name="InvertedPendulum"), total_steps=300, learning_starts=300), tmp_path)
    _, _, replay = load_checkpoint(tmp_path / "checkpoints" / "latest")
    ends = torch.nonzero(replay["terminated"] & replay["has_next"]).flatten()
    assert len(ends) > 5 and int(replay["has_next"].sum()) == 300
    # A terminal transition is followed by its final-state row, which is not a transition.
    assert not replay["has_next"][ends + 1].any()


def test_end_episode_cuts_an_episode_without_a_transition_into_the_next() -> None:
    """After end_episode (a resumed Box2D env restarts its episode) the next add starts a new episode: no sampled
    transition leads from the cut episode's last state to the new episode's first."""
    buffer = ReplayBuffer(3, 1, 20, CPU)
    for s in range(3):  # states 0 -> 1 -> 2 -> 3, the episode still running in state 3
        buffer.add(np.full(3, s, np.float32), np.zeros(1), 0.0, np.full(3, s + 1, np.float32), False, False)
    buffer.end_episode()
    buffer.add(np.full(3, 10, np.float32), np.zeros(1), 0.0, np.full(3, 11, np.float32), False, False)
    assert len(buffer) == 4
    batch = buffer.sample(500)
    pairs = {(int(a), int(b)) for a, b in zip(batch.obs[:, 0], batch.next_obs[:, 0], strict=True)}
    assert pairs == {(0, 1), (1, 2), (2, 3), (10, 11)}
    buffer.end_episode()
    buffer.end_episode()  # twice in a row: nothing more to cut
    assert buffer.ptr == 6 and not buffer.obs_written  # rows 0-3: the cut episode, 4-5: the new one
