import torch
from torch import nn

from sac.networks import CriticEnsemble, _per_critic, mlp


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


def test_per_critic_output_layer_equals_the_batched_matmul_it_replaced() -> None:
    """Issue 40's lever: the critics' narrow output layer as one addmm per critic instead of one baddbmm. The same
    sums in values and gradients (bit for bit where MKL's batched matmul loops over the same 2-D kernels, as on the
    AVX2 EPYC it was measured on; within float tolerance anywhere)."""
    torch.manual_seed(0)
    for out in (1, 5):  # a Q value; the Q values of |A| discrete actions
        x = torch.randn(2, 64, 32, requires_grad=True)
        w, b = torch.randn(2, 32, out, requires_grad=True), torch.randn(2, 1, out, requires_grad=True)
        per_critic, batched = _per_critic(x, w, b), torch.baddbmm(b, x, w)
        torch.testing.assert_close(per_critic, batched)
        g = torch.randn_like(batched)
        grads = torch.autograd.grad(per_critic, (x, w, b), g)
        for mine, theirs in zip(grads, torch.autograd.grad(batched, (x, w, b), g), strict=True):
            torch.testing.assert_close(mine, theirs)
