from typing import Any

import numpy as np
import pytest

from envs import ENV_IDS, EnvError, env_id
from envs.make import make_env
from sac.config import EnvConfig


def test_short_names_map_to_registered_ids() -> None:
    assert env_id("HalfCheetah") == "HalfCheetah-v5"
    assert env_id("Pendulum") == "Pendulum-v1"
    discrete = {"CartPole": "CartPole-v1", "Acrobot": "Acrobot-v1", "LunarLander": "LunarLander-v3"}
    assert {k: ENV_IDS[k] for k in discrete} == discrete
    assert all(v.endswith("-v5") for k, v in ENV_IDS.items() if k not in {"Pendulum", *discrete})
    assert env_id("Hopper-v5") == "Hopper-v5"  # full ids pass through


def test_unknown_env_names_the_value_and_the_choices() -> None:
    with pytest.raises(EnvError, match=r"env.name=NoSuchEnv is unknown: allowed are HalfCheetah, Hopper"):
        env_id("NoSuchEnv")


def test_wrapper_stack_rescales_actions_and_casts_observations() -> None:
    env = make_env(EnvConfig(name="Pendulum"), seed=0)  # native torque bounds are [-2, 2]
    assert env.action_space.low.tolist() == [-1.0] and env.action_space.high.tolist() == [1.0]
    obs, _ = env.reset()
    assert obs.dtype == np.float32
    env.unwrapped.state = np.array([0.0, 0.0])
    env.step(np.array([1.0], dtype=np.float32))
    assert env.unwrapped.last_u == pytest.approx(2.0)  # +1 in the agent's space is the env's max torque
    env.close()


def test_first_reset_is_seeded_and_later_resets_continue_the_stream() -> None:
    def starts(seed: int) -> list[np.ndarray]:
        env = make_env(EnvConfig(name="Hopper"), seed=seed)
        obs = [env.reset()[0] for _ in range(3)]
        env.close()
        return obs

    a, b, c = starts(1), starts(1), starts(2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], a[1])
    assert not np.array_equal(a[0], c[0])


def test_episode_statistics_and_time_limit_override() -> None:
    env = make_env(EnvConfig(name="Pendulum", max_episode_steps=7), seed=0)
    env.reset()
    for _t in range(7):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
    assert truncated and not terminated and info["episode"]["l"] == 7
    env.close()


@pytest.mark.parametrize("name", ["Pendulum", "Hopper"])
def test_env_state_round_trip_continues_the_episode_exactly(name: str) -> None:
    import json

    from envs.state import get_env_state, set_env_state

    actions = np.random.default_rng(0).uniform(-1, 1, size=(40, 3)).astype(np.float32)

    def rollout(env: Any, start: int) -> list[tuple[np.ndarray, float, bool, bool]]:
        rows = []
        for a in actions[start:]:
            obs, reward, terminated, truncated, _ = env.step(a[: env.action_space.shape[0]])
            rows.append((obs, float(reward), terminated, truncated))
            if terminated or truncated:
                env.reset()  # the next episode's start comes from the restored env RNG
        return rows

    env = make_env(EnvConfig(name=name, max_episode_steps=25), seed=5)
    env.reset()
    rollout_a = rollout(env, 0)[:10]
    state = json.loads(json.dumps(get_env_state(env)))  # what a checkpoint's meta.json holds
    expected = rollout(env, 10)
    env.close()

    fresh = make_env(EnvConfig(name=name, max_episode_steps=25), seed=99)
    fresh.reset()
    set_env_state(fresh, state)
    got = rollout(fresh, 10)
    fresh.close()
    assert len(rollout_a) == 10 and len(got) == len(expected) == 30
    for (o1, r1, t1, u1), (o2, r2, t2, u2) in zip(expected, got, strict=True):
        np.testing.assert_array_equal(o1, o2)
        assert (r1, t1, u1) == (r2, t2, u2)


@pytest.mark.parametrize(("name", "actions"), [("CartPole", 2), ("Acrobot", 3), ("LunarLander", 4)])
def test_discrete_envs_take_action_indices(name: str, actions: int) -> None:
    from envs.make import dims, is_discrete

    env = make_env(EnvConfig(name=name), seed=0)
    assert is_discrete(env.action_space) and dims(env.observation_space, env.action_space)[1] == actions
    obs, _ = env.reset()
    assert obs.dtype == np.float32
    env.step(actions - 1)  # the index itself: no rescaling wrapper on a Discrete space
    env.close()


def test_cartpole_state_round_trip_continues_the_episode_exactly() -> None:
    from envs.state import get_env_state, set_env_state

    actions = np.random.default_rng(0).integers(0, 2, size=40)
    env = make_env(EnvConfig(name="CartPole"), seed=5)
    env.reset()
    for a in actions[:10]:
        env.step(int(a))
    state = get_env_state(env)
    expected = [env.step(int(a))[0] for a in actions[10:20]]
    fresh = make_env(EnvConfig(name="CartPole"), seed=99)
    fresh.reset()
    assert set_env_state(fresh, state) is None  # the episode continues
    got = [fresh.step(int(a))[0] for a in actions[10:20]]
    env.close()
    fresh.close()
    assert all(np.array_equal(x, y) for x, y in zip(expected, got, strict=True))


def test_a_box2d_env_restarts_its_episode_on_restore() -> None:
    """A Box2D world is not plain data: restoring gives a new episode, from the restored RNG, and says so."""
    from envs.state import get_env_state, set_env_state

    def restored_start() -> np.ndarray:
        env = make_env(EnvConfig(name="LunarLander"), seed=1)
        env.reset()
        for _ in range(5):
            env.step(0)
        state = get_env_state(env)
        env.close()
        fresh = make_env(EnvConfig(name="LunarLander"), seed=2)
        fresh.reset()
        with pytest.warns(UserWarning, match="starts a new one"):
            obs = set_env_state(fresh, state)
        fresh.close()
        assert obs is not None
        return obs

    np.testing.assert_array_equal(restored_start(), restored_start())


def test_mujoco_notes_for_gymnasium_are_dropped_and_other_warnings_forwarded(capfd: pytest.CaptureFixture) -> None:
    import mujoco

    make_env(EnvConfig(name="HalfCheetah"), seed=0).close()
    out, err = capfd.readouterr()
    assert "settotalmass" not in out + err
    with pytest.warns(RuntimeWarning, match="MuJoCo: Nan, Inf or huge value in QACC"):
        mujoco.get_mju_user_warning()("Nan, Inf or huge value in QACC at DOF 0. The simulation is unstable.")
