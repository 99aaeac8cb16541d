"""Actor and critic networks. Batch-first: obs (B, obs_dim), actions (B, act_dim), Q values (E, B);
for discrete actions, logits (B, |A|) and the Q values of every action (E, B, |A|)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sac.beta import BetaPolicy
from sac.categorical import Categorical
from sac.config import PolicyName
from sac.distributions import TanhGaussian
from sac.mixture import TanhGaussianMixture
from sac.truncated_normal import TruncatedNormal

Distribution = TanhGaussian | BetaPolicy | TruncatedNormal | TanhGaussianMixture
"""What an Actor returns: rsample, rsample_n, score_samples, mode (sac/distributions.py's interface)."""


def mlp(in_dim: int, hidden_sizes: Sequence[int], out_dim: int) -> nn.Sequential:
    """Linear-ReLU stack: (B, in_dim) -> (B, out_dim)."""
    layers: list[nn.Module] = []
    for width in hidden_sizes:
        layers += [nn.Linear(in_dim, width), nn.ReLU(inplace=True)]  # Linear's backward needs no output
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


def fp32_head(head: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """head(x) in float32, also under bf16 autocast (precision=bf16): the output layer's rounding would land directly
    in the means, log-stds and Q values, where a bf16 mantissa (8 bits) is too coarse for a TD target's small
    differences, so only the hidden layers run in bf16 (speed.autocast)."""
    if not torch.is_autocast_enabled(x.device.type):
        return head(x)
    with torch.autocast(x.device.type, enabled=False):
        return head(x.float())


class Actor(nn.Module):
    """obs (B, obs_dim) -> a distribution over actions in [-1, 1]^act_dim, by `policy`: TanhGaussian(mu, log_std),
    BetaPolicy(c1, c0) with concentrations 1 + softplus(.) (Chou et al. 2017), TruncatedNormal(mu, log_std), or
    TanhGaussianMixture(logits, mu, log_std) of `components` Gaussians."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden_sizes: Sequence[int],
        log_std_min: float = -5.0,
        log_std_max: float = 2.0,
        policy: PolicyName = PolicyName.tanh_gaussian,
        components: int = 1,
    ) -> None:
        super().__init__()
        self.policy, self.act_dim = PolicyName(policy), act_dim
        self.components = components if self.policy == PolicyName.gaussian_mixture else 1
        # Per component a weight's logit (a mixture only), act_dim means (or c1) and act_dim log-stds (or c0).
        logits = self.components if self.policy == PolicyName.gaussian_mixture else 0
        self.net = mlp(obs_dim, hidden_sizes, logits + 2 * self.components * act_dim)
        self.log_std_min = log_std_min
        self.log_std_max = log_std_max

    def forward(self, obs: Tensor) -> Distribution:
        *hidden, head = self.net
        for layer in hidden:
            obs = layer(obs)
        out = fp32_head(head, obs)
        if self.policy == PolicyName.beta:
            raw_c1, raw_c0 = out.chunk(2, dim=-1)  # (B, act_dim) each
            return BetaPolicy(1.0 + F.softplus(raw_c1), 1.0 + F.softplus(raw_c0))
        if self.policy == PolicyName.gaussian_mixture:
            logits, params = out.split([self.components, 2 * self.components * self.act_dim], dim=-1)
            mu, raw_log_std = params.unflatten(-1, (self.components, 2 * self.act_dim)).chunk(2, dim=-1)
            return TanhGaussianMixture(logits, mu, self.squash_log_std(raw_log_std))  # (B, K), (B, K, act_dim)
        mu, raw_log_std = out.chunk(2, dim=-1)  # (B, act_dim) each
        if self.policy == PolicyName.truncated_normal:
            return TruncatedNormal(mu, self.squash_log_std(raw_log_std))
        return TanhGaussian(mu, self.squash_log_std(raw_log_std))

    def squash_log_std(self, raw: Tensor) -> Tensor:
        """A smooth squash into [log_std_min, log_std_max]: it keeps a gradient at the bounds, unlike a clamp."""
        return self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (torch.tanh(raw) + 1.0)


class CategoricalActor(nn.Module):
    """obs (B, obs_dim) -> Categorical(logits (B, |A|)), the policy of discrete SAC."""

    def __init__(self, obs_dim: int, num_actions: int, hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden_sizes, num_actions)

    def forward(self, obs: Tensor) -> Categorical:
        return Categorical(self.net(obs))


class CriticEnsemble(nn.Module):
    """E independent Q(s, a) MLPs evaluated as one batched matmul per layer: -> (E, B).

    Weights are stacked (E, in, out) so that the twin critics (and any larger ensemble) cost one
    kernel launch per layer instead of E forward passes. With `num_actions` (discrete SAC) each critic
    maps a state to the Q values of all its actions at once, (E, B, |A|): `q_all(obs)`.
    """

    def __init__(
        self, obs_dim: int, act_dim: int, hidden_sizes: Sequence[int], num_critics: int = 2, num_actions: int = 0
    ) -> None:
        super().__init__()
        sizes = [obs_dim + act_dim, *hidden_sizes, num_actions or 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(sizes):
            # nn.Linear's default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), for weights and biases alike.
            bound = 1.0 / math.sqrt(fan_in)
            self.weights.append(nn.Parameter(torch.empty(num_critics, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(num_critics, 1, fan_out).uniform_(-bound, bound)))
        self.num_critics = num_critics

    def forward(self, obs: Tensor, action: Tensor, detach_params: bool = False) -> Tensor:
        """Q values (E, B) for obs (B, obs_dim) and action (B, act_dim).

        With `detach_params`, gradients reach the action but not the critic's weights: the actor
        loss differentiates Q(s, a(theta)) through a only (SAC eq. 13 treats Q as fixed).
        """
        return self._stack(torch.cat([obs, action], dim=-1), detach_params).squeeze(-1)  # (E, B)

    def q_all(self, obs: Tensor, detach_params: bool = False) -> Tensor:
        """Q values of every action (E, B, |A|) for obs (B, obs_dim), in one pass (discrete SAC)."""
        return self._stack(obs, detach_params)

    def _stack(self, inputs: Tensor, detach_params: bool) -> Tensor:
        """(B, in) -> (E, B, out)."""
        x = inputs.expand(self.num_critics, -1, -1)  # (E, B, in): a view, no copy
        layers = list(zip(self.weights, self.biases, strict=True))
        if detach_params:
            layers = [(w.detach(), b.detach()) for w, b in layers]
        *hidden, (w_out, b_out) = layers
        for w, b in hidden:
            x = F.relu_(torch.baddbmm(b, x, w))  # (E, B, width); in place: baddbmm's backward does not need its output
        return fp32_head(lambda h: _per_critic(h, w_out, b_out), x)  # (E, B, out)


def _per_critic(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """x (E, B, in) @ w (E, in, out) + b (E, 1, out) -> (E, B, out) as E 2-D addmm, for the narrow output layer.

    With out = 1 (a Q value) or |A|, a batched matmul runs on the CPU as a slow matrix-vector product, and its
    backward as an outer product (K = 1) and another one; E plain addmm compute the same sums faster (what each
    lever gave: benchmarks/measured/speed/issue40/)."""
    parts = zip(x.unbind(0), w.unbind(0), b.unbind(0), strict=True)
    return torch.stack([torch.addmm(b_e, x_e, w_e) for x_e, w_e, b_e in parts])
