"""Uniform replay buffer in preallocated tensors on the training device, each observation stored once."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from sac.batch import Batch


class ReplayBuffer:
    """A ring of rows (s, a, r, terminated); the transition in row i goes to the state in row i + 1.

    Storing s' as the next row's s keeps one copy of every observation: (obs_dim + act_dim + 1) * 4 + 2
    bytes per row. The last state of an episode gets a row of its own that is never sampled (its
    action and reward are unused), so s' of the episode's last transition is the true final state,
    not the next episode's reset state. That costs one row per episode: `capacity` rows hold
    `capacity - episodes` transitions.

    `terminated` cuts the critic's bootstrap; a time limit (truncation) only ends the episode, so its
    last transition is still bootstrapped from s'. `has_next` marks the sampleable rows; it lives on
    the host with the index generator, so sampling never waits on the device.
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        capacity: int,
        device: torch.device,
        seed: int = 0,
        storage: dict[str, Tensor] | None = None,
    ) -> None:
        """`storage`: the tensors to write rows into, `allocate(...)`'s; batched seeds (sac/run/seeds.py) pass
        views of one tensor with a leading seed axis, so that S buffers are gathered from in one indexing op."""
        if capacity < 2:
            raise ValueError(f"capacity={capacity}: a replay buffer needs at least 2 rows")
        self.capacity = capacity
        self.device = device
        storage = storage if storage is not None else allocate(obs_dim, act_dim, capacity, device)
        self.obs, self.action = storage["obs"], storage["action"]  # (capacity, obs_dim), (capacity, act_dim)
        self.reward, self.terminated = storage["reward"], storage["terminated"]  # (capacity,) each
        self.has_next = np.zeros(capacity, dtype=bool)  # row i is a transition whose s' is row i + 1
        self.ptr = 0  # the row the next transition goes into
        self.size = 0  # rows written so far, at most capacity
        self.transitions = 0  # sampleable rows: has_next.sum()
        self.obs_written = False  # row ptr already holds the current state (the last transition's s')
        # A generator of its own on the host: sampling neither perturbs nor depends on the global torch RNG.
        self.generator = torch.Generator()
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return self.transitions

    @property
    def nbytes(self) -> int:
        """Bytes of storage, device tensors and host flags together."""
        tensors = (self.obs, self.action, self.reward, self.terminated)
        return sum(t.numel() * t.element_size() for t in tensors) + self.has_next.nbytes

    def add(
        self,
        obs: np.ndarray,
        action: np.ndarray | int,
        reward: float,
        next_obs: np.ndarray,
        terminated: bool,
        truncated: bool,
    ) -> None:
        """Store one transition. `obs` must be the previous call's `next_obs`, unless that call ended an episode."""
        i, j, write_obs = self.advance(terminated, truncated)
        if write_obs:
            self.obs[i] = torch.as_tensor(obs)
        self.action[i] = torch.as_tensor(action)
        self.reward[i] = float(reward)
        self.terminated[i] = bool(terminated)
        self.obs[j] = torch.as_tensor(next_obs)  # overwrites the oldest row: it is no transition any more

    def advance(self, terminated: bool, truncated: bool) -> tuple[int, int, bool]:
        """The host bookkeeping of one `add`, whose rows the caller then writes: the transition's row i, the row j
        of its s', and whether s must be written into row i (not when the previous transition's s' is there)."""
        i, j = self.ptr, (self.ptr + 1) % self.capacity
        write_obs = not self.obs_written
        self._set_has_next(i, True)
        self._set_has_next(j, False)
        self.size = min(self.capacity, max(self.size, i + 2))  # rows are written in order from 0
        if terminated or truncated:  # row j keeps the final state; the next episode starts after it
            self.ptr, self.obs_written = (j + 1) % self.capacity, False
        else:
            self.ptr, self.obs_written = j, True
        return i, j, write_obs

    def end_episode(self) -> None:
        """Cut the episode in progress without a transition, as a time limit would: its last state keeps its
        row and the next `add` starts a new episode after it."""
        if self.obs_written:
            self.ptr, self.obs_written = (self.ptr + 1) % self.capacity, False

    def _set_has_next(self, row: int, value: bool) -> None:
        self.transitions += int(value) - int(self.has_next[row])
        self.has_next[row] = value

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """Uniform batch of transitions with replacement; `generator` (CPU) replaces the buffer's own."""
        return self.gather(torch.from_numpy(self.sample_rows(batch_size, generator)).to(self.device, non_blocking=True))

    def sample_rows(self, batch_size: int, generator: torch.Generator | None = None) -> np.ndarray:
        """The rows of a uniform batch of transitions, drawn with replacement on the host: (B,) int64."""
        if self.transitions == 0:
            raise ValueError("cannot sample from a replay buffer that holds no transition")
        generator = generator or self.generator
        idx = torch.randint(self.size, (batch_size,), generator=generator).numpy()  # (B,)
        # Rejection keeps the draw uniform over transitions: redraw the rows that hold no transition
        # (episode-final states and the newest row); they are ~1/episode_length of the rows.
        while not (valid := self.has_next[idx]).all():
            idx[~valid] = torch.randint(self.size, (int((~valid).sum()),), generator=generator).numpy()
        return idx

    def gather(self, rows: Tensor) -> Batch:
        """The transitions in `rows` (B,), a device tensor."""
        return Batch(
            obs=self.obs[rows],
            action=self.action[rows],
            reward=self.reward[rows],
            next_obs=self.obs[(rows + 1) % self.capacity],
            terminated=self.terminated[rows].float(),
        )

    def state_dict(self) -> dict[str, Tensor]:
        """The rows written so far, the write position and the sampling RNG state."""
        n = self.size
        return {
            "obs": self.obs[:n],
            "action": self.action[:n],
            "reward": self.reward[:n],
            "terminated": self.terminated[:n],
            "has_next": torch.from_numpy(self.has_next[:n].copy()),
            "ptr": torch.tensor(self.ptr),
            "obs_written": torch.tensor(self.obs_written),
            "rng": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        size = state["obs"].shape[0]
        if size > self.capacity:
            raise ValueError(f"saved buffer holds {size} rows, more than capacity {self.capacity}")
        for name in ("obs", "action", "reward", "terminated"):
            getattr(self, name)[:size] = state[name].to(self.device)
        self.has_next[:] = False
        self.has_next[:size] = state["has_next"].numpy()
        self.size = size
        self.transitions = int(self.has_next.sum())
        self.ptr = int(state["ptr"])
        self.obs_written = bool(state["obs_written"])
        self.generator.set_state(state["rng"].cpu())


def capacity(buffer_size: int, total_steps: int) -> int:
    """The rows a run's buffer gets: `buffer_size`, but no more than a run of `total_steps` fills, which is at most
    2 * total_steps rows (an episode's final state takes a row of its own)."""
    return min(buffer_size, 2 * total_steps)


def allocate(obs_dim: int, act_dim: int, capacity: int, device: torch.device, seeds: int = 0) -> dict[str, Tensor]:
    """A buffer's row storage, with a leading seed axis of size `seeds` when it is not 0.

    Zeros, not empty: the unused fields of final-state rows are saved in checkpoints, which must not depend on
    uninitialised memory.
    """
    lead = (seeds,) if seeds else ()
    return {
        "obs": torch.zeros(*lead, capacity, obs_dim, device=device),
        "action": torch.zeros(*lead, capacity, act_dim, device=device),
        "reward": torch.zeros(*lead, capacity, device=device),
        "terminated": torch.zeros(*lead, capacity, dtype=torch.bool, device=device),
    }
