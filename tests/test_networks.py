import torch
from torch import nn

from sac.networks import CriticEnsemble, mlp


def test_ensemble_equals_separate_mlps_in_values_and_gradients() -> None:
    torch.manual_seed(0)
    obs_dim, act_dim, hidden, n = 5, 2, [32, 16], 3
    ensemble = CriticEnsemble(obs_dim, act_dim, hidden, num_critics=n)
    separate = [mlp(obs_dim + act_dim, hidden, 1) for _ in range(n)]
    for e, net in enumerate(separate):
        linears = [m for m in net if isinstance(m, nn.Linear)]
        for layer, (w, b) in zip(linears, zip(ensemble.weights, ensemble.biases, strict=True), strict=True):
            layer.weight.data.copy_(w[e].T)
            layer.bias.data.copy_(b[e, 0])

    obs, action = torch.randn(64, obs_dim), torch.randn(64, act_dim)
    q = ensemble(obs, action)
    assert q.shape == (n, 64)
    expected = torch.stack([net(torch.cat([obs, action], -1)).squeeze(-1) for net in separate])
    torch.testing.assert_close(q, expected)

    q.pow(2).sum().backward()
    expected.pow(2).sum().backward()
    for e, net in enumerate(separate):
        linears = [m for m in net if isinstance(m, nn.Linear)]
        for layer, (w, b) in zip(linears, zip(ensemble.weights, ensemble.biases, strict=True), strict=True):
            torch.testing.assert_close(w.grad[e].T, layer.weight.grad)
            torch.testing.assert_close(b.grad[e, 0], layer.bias.grad)


def test_detached_params_pass_gradient_to_action_only() -> None:
    critic = CriticEnsemble(3, 2, [8])
    action = torch.randn(4, 2, requires_grad=True)
    critic(torch.randn(4, 3), action, detach_params=True).sum().backward()
    assert action.grad is not None and action.grad.abs().sum() > 0
    assert all(p.grad is None for p in critic.parameters())


def test_ensemble_members_are_initialised_independently() -> None:
    critic = CriticEnsemble(3, 2, [8], num_critics=2)
    assert not torch.equal(critic.weights[0][0], critic.weights[0][1])
