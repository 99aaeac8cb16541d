import pytest
import torch
from helpers import ACT_DIM, OBS_DIM, random_batch

from sac.agent import SAC
from sac.config import AgentConfig
from sac.losses import actor_loss, actor_loss_score, critic_loss, soft_target, temperature_loss


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


def test_terminated_cuts_the_bootstrap_and_truncated_does_not() -> None:
    reward = torch.tensor([1.0, 1.0])
    terminated = torch.tensor([1.0, 0.0])  # transition 1 ended by a time limit: stored as not terminated
    q_next = torch.tensor([[5.0, 5.0], [3.0, 4.0]])  # (E, B): min over critics is [3, 4]
    logp_next = torch.tensor([0.5, 0.5])
    y = soft_target(reward, terminated, 0.9, q_next, torch.tensor(0.2), logp_next)
    assert y[0].item() == pytest.approx(1.0)
    assert y[1].item() == pytest.approx(1.0 + 0.9 * (4.0 - 0.2 * 0.5))


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


def test_critic_loss_is_half_mse_summed_over_critics() -> None:
    q = torch.tensor([[1.0, 2.0], [0.0, 4.0]])
    target = torch.tensor([1.0, 1.0])
    assert critic_loss(q, target).item() == pytest.approx(0.5 * (0.5 + 5.0))


def test_temperature_loss_raises_alpha_when_entropy_is_below_target() -> None:
    log_alpha = torch.tensor(0.0, requires_grad=True)
    logp = torch.full((8,), 2.0)  # entropy -2 < target -1
    temperature_loss(log_alpha, logp, target_entropy=-1.0).backward()
    assert log_alpha.grad.item() < 0  # gradient descent increases log_alpha


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


@pytest.mark.parametrize("shape", [(16,), (16, 1), (2, 8)])
def test_losses_reject_q_values_that_are_not_ensemble_by_batch(shape: tuple[int, ...]) -> None:
    q, target, logp = torch.zeros(shape), torch.zeros(16), torch.zeros(16)
    with pytest.raises(ValueError, match=r"must be \(E, B\) = \(E, 16\)"):
        critic_loss(q, target)
    with pytest.raises(ValueError, match=r"must be \(E, B\) = \(E, 16\)"):
        actor_loss(torch.tensor(1.0), logp, q)
    with pytest.raises(ValueError, match=r"q_next must be \(E, B\) = \(E, 16\)"):
        soft_target(target, target, 0.99, q, torch.tensor(1.0), logp)
    with pytest.raises(ValueError, match=r"q must be \(E, K, B\)"):
        actor_loss_score(torch.tensor(1.0), torch.zeros(4, 16), torch.zeros(2, 16))
