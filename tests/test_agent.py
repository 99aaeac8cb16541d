import pytest
import torch
from helpers import ACT_DIM, OBS_DIM, random_batch

from sac.agent import SAC
from sac.batch import Batch
from sac.config import AgentConfig
from sac.losses import temperature_loss


def make_agent(**overrides: object) -> SAC:
    torch.manual_seed(0)
    return SAC(OBS_DIM, ACT_DIM, AgentConfig(hidden_sizes=[32, 32], **overrides), torch.device("cpu"))


def test_target_entropy_defaults_to_minus_act_dim() -> None:
    assert make_agent().temperature.target_entropy == -ACT_DIM
    assert make_agent(target_entropy=-1.5).temperature.target_entropy == -1.5


def test_actor_loss_leaves_no_gradient_on_critics() -> None:
    agent = make_agent()
    loss, _, _ = agent.actor_loss(random_batch().obs)
    loss.backward()
    assert all(p.grad is None for p in agent.critic.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.actor.parameters())


def test_critic_loss_leaves_no_gradient_on_actor() -> None:
    agent = make_agent()
    loss, _ = agent.critic_loss(random_batch())
    loss.backward()
    assert all(p.grad is None for p in agent.actor.parameters())
    assert agent.temperature.log_alpha.grad is None
    assert all(p.grad is not None for p in agent.critic.parameters())


def test_agent_target_uses_min_of_target_twins_and_entropy_bonus() -> None:
    agent = make_agent()
    batch = random_batch(terminated=torch.tensor([1.0] * 8 + [0.0] * 8))
    torch.manual_seed(1)
    _, metrics = agent.critic_loss(batch)
    torch.manual_seed(1)
    next_action, logp_next = agent.actor(batch.next_obs).rsample()
    q_next = agent.critic_target.net(batch.next_obs, next_action).min(0).values
    expected = batch.reward + 0.99 * (1 - batch.terminated) * (q_next - agent.temperature.alpha * logp_next)
    torch.testing.assert_close(metrics["train/target_q_mean"], expected.mean())


def test_update_moves_targets_by_polyak_average_and_returns_device_tensors() -> None:
    agent = make_agent(tau=0.1)
    before = [p.clone() for p in agent.critic_target.net.parameters()]
    metrics = agent.update(random_batch())
    target_params = agent.critic_target.net.parameters()
    for old, target, online in zip(before, target_params, agent.critic.parameters(), strict=True):
        torch.testing.assert_close(target, 0.9 * old + 0.1 * online)
    assert all(isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad for v in metrics.values())
    assert {"train/critic_loss", "train/actor_loss", "train/alpha", "train/entropy"} <= metrics.keys()


def test_fixed_alpha_is_not_learned() -> None:
    agent = make_agent(learn_alpha=False, init_alpha=0.2)
    agent.update(random_batch())
    assert agent.temperature.alpha.item() == pytest.approx(0.2)


def test_deterministic_action_is_tanh_of_mean() -> None:
    agent = make_agent()
    obs = torch.randn(OBS_DIM)
    expected = torch.tanh(agent.actor(obs.unsqueeze(0)).mu)[0]
    torch.testing.assert_close(torch.from_numpy(agent.act(obs.numpy(), deterministic=True)), expected.detach())


def test_actor_loss_leaves_no_gradient_on_log_alpha_and_temperature_loss_none_on_actor() -> None:
    # The merged actor/temperature optimizer takes one backward of their sum: each must touch only its own.
    agent = make_agent()
    loss, logp, _ = agent.actor_loss(random_batch().obs)
    loss.backward(retain_graph=True)
    assert agent.temperature.log_alpha.grad is None
    actor_grads = [p.grad.clone() for p in agent.actor.parameters()]
    temperature_loss(agent.temperature.log_alpha, logp, agent.temperature.target_entropy).backward()
    assert agent.temperature.log_alpha.grad is not None and agent.temperature.log_alpha.grad.abs() > 0
    for before, p in zip(actor_grads, agent.actor.parameters(), strict=True):
        torch.testing.assert_close(p.grad, before, rtol=0, atol=0)


def test_score_estimator_leaves_critics_untouched() -> None:
    agent = make_agent(actor_estimator="score", score_samples=4)
    loss, logp, _ = agent.actor_loss(random_batch().obs)
    assert logp.shape == (4, 16)
    loss.backward()
    assert all(p.grad is None for p in agent.critic.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.actor.parameters())


POLICY_METRICS = {"tanh_gaussian": "train/log_std", "beta": "train/concentration",
                  "truncated_normal": "train/log_std", "gaussian_mixture": "train/component_entropy"}  # fmt: skip


@pytest.mark.parametrize("estimator", ["reparam", "score"])
@pytest.mark.parametrize("policy", POLICY_METRICS)
def test_every_policy_sends_actor_gradients_to_the_actor_only_and_updates(policy: str, estimator: str) -> None:
    torch.manual_seed(0)
    cfg = AgentConfig(hidden_sizes=[32], policy=policy, actor_estimator=estimator)  # type: ignore[arg-type]
    agent = SAC(5, 3, cfg, torch.device("cpu"))
    obs = torch.randn(16, 5)
    loss, _, metrics = agent.actor_loss(obs)
    loss.backward()
    assert all(p.grad is None for p in agent.critic.parameters()) and agent.temperature.log_alpha.grad is None
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.actor.parameters())
    assert POLICY_METRICS[policy] in metrics
    batch = Batch(obs, torch.rand(16, 3) * 2 - 1, torch.randn(16), torch.randn(16, 5), torch.zeros(16))
    assert all(torch.isfinite(v) for v in agent.update(batch).values())
    action = agent.act(obs[0].numpy(), deterministic=True)
    assert action.shape == (3,) and (abs(action) <= 1).all()
