"""The SAC losses (sac/losses.py) as functions: each against a hand-written case of its formula."""

import pytest
import torch

from sac.losses import (
    actor_loss,
    actor_loss_score,
    critic_loss,
    discrete_actor_loss,
    discrete_soft_target,
    soft_target,
    temperature_loss,
)


def test_terminated_cuts_the_bootstrap_and_truncated_does_not() -> None:
    reward = torch.tensor([1.0, 1.0])
    terminated = torch.tensor([1.0, 0.0])  # transition 1 ended by a time limit: stored as not terminated
    q_next = torch.tensor([[5.0, 5.0], [3.0, 4.0]])  # (E, B): min over critics is [3, 4]
    logp_next = torch.tensor([0.5, 0.5])
    y = soft_target(reward, terminated, 0.9, q_next, torch.tensor(0.2), logp_next)
    assert y[0].item() == pytest.approx(1.0)
    assert y[1].item() == pytest.approx(1.0 + 0.9 * (4.0 - 0.2 * 0.5))


def test_critic_loss_is_half_mse_summed_over_critics() -> None:
    q = torch.tensor([[1.0, 2.0], [0.0, 4.0]])
    target = torch.tensor([1.0, 1.0])
    assert critic_loss(q, target).item() == pytest.approx(0.5 * (0.5 + 5.0))


def test_temperature_loss_raises_alpha_when_entropy_is_below_target() -> None:
    log_alpha = torch.tensor(0.0, requires_grad=True)
    logp = torch.full((8,), 2.0)  # entropy -2 < target -1
    temperature_loss(log_alpha, logp, target_entropy=-1.0).backward()
    assert log_alpha.grad.item() < 0  # gradient descent increases log_alpha


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


def test_soft_target_and_actor_loss_are_the_sums_over_actions() -> None:
    torch.manual_seed(4)
    e, b, n = 2, 5, 3
    q = torch.randn(e, b, n)
    logits = torch.randn(b, n)
    reward, terminated = torch.randn(b), torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0])
    alpha, gamma = torch.tensor(0.3), 0.9
    p = torch.softmax(logits, -1)
    logp = torch.log_softmax(logits, -1)
    expected_target, expected_loss = torch.empty(b), torch.tensor(0.0)
    for i in range(b):
        v = sum(p[i, a] * (min(q[0, i, a], q[1, i, a]) - alpha * logp[i, a]) for a in range(n))
        expected_target[i] = reward[i] + gamma * (1 - terminated[i]) * v
        expected_loss += sum(p[i, a] * (alpha * logp[i, a] - min(q[0, i, a], q[1, i, a])) for a in range(n)) / b
    torch.testing.assert_close(discrete_soft_target(reward, terminated, gamma, q, alpha, p, logp), expected_target)
    torch.testing.assert_close(discrete_actor_loss(alpha, p, logp, q), expected_loss)
    with pytest.raises(ValueError, match=r"must be \(E, B, \|A\|\)"):
        discrete_actor_loss(alpha, p, logp, q.min(0).values)
