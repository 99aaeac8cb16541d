import numpy as np
import torch

from sac.config import ReinforceAgentConfig
from sac.reinforce import Reinforce, reward_to_go


def test_reward_to_go_bootstraps_only_at_time_limits() -> None:
    rewards = np.array([1.0, 2.0, 3.0])
    assert reward_to_go(rewards, 0.5, bootstrap=0.0).tolist() == [1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3]
    assert reward_to_go(rewards, 0.5, bootstrap=8.0)[-1] == 3 + 0.5 * 8


def test_policy_gradient_is_the_score_function_estimate() -> None:
    torch.manual_seed(0)
    agent = Reinforce(3, 2, ReinforceAgentConfig(hidden_sizes=[8], value_epochs=1), torch.device("cpu"))
    obs, actions, returns = torch.randn(64, 3), torch.randn(64, 2), torch.randn(64)
    with torch.no_grad():
        adv = returns - agent.value(obs).squeeze(-1)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    logp = agent.policy(obs).log_prob(actions).sum(-1)
    expected = torch.autograd.grad(-(logp * adv).mean(), agent.policy.log_std)[0]
    # Analytic: d log N(a; m, s) / d log s = ((a - m) / s)^2 - 1.
    with torch.no_grad():
        dist = agent.policy(obs)
        analytic = -((((actions - dist.mean) / dist.stddev) ** 2 - 1) * adv[:, None]).mean(0)
    torch.testing.assert_close(expected, analytic)
    before = agent.policy.log_std.detach().clone()
    agent.update(obs, actions, returns)
    # Adam's first step moves each parameter by lr against the sign of its gradient.
    torch.testing.assert_close(agent.policy.log_std.detach(), before - 3e-3 * analytic.sign(), atol=1e-6, rtol=0)


def test_value_baseline_fits_returns() -> None:
    torch.manual_seed(0)
    agent = Reinforce(2, 1, ReinforceAgentConfig(hidden_sizes=[32], value_epochs=300), torch.device("cpu"))
    obs = torch.randn(512, 2)
    returns = 3 * obs[:, 0] - obs[:, 1]
    metrics = agent.update(obs, torch.zeros(512, 1), returns)
    assert metrics["train/explained_variance"] > 0.9
