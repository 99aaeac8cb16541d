"""Measuring gradient estimators: per-estimate gradients and their variance, SNR and cosine.

The same two functions serve a plain Gaussian with a user-supplied cost f(x), where the variances
have closed forms (tests/test_estimators.py), and the live SAC actor, where they are logged during
training under `grad/<estimator>/...`:

    samples = gradient_samples(loss_fn, params, n)       # (n, P): n independent estimates, fresh noise each
    stats = gradient_statistics(samples, reference)      # norms, total variance, SNR, cosine

`loss_fn(params)` is any surrogate whose gradient is one estimate; noise is drawn inside it from
the global torch RNG, which `gradient_samples` vectorises over (torch.func.vmap, different noise per
estimate). Diagnostics on a live agent run inside `torch.random.fork_rng`, so training draws the
same random numbers whether or not they run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch.distributions import Normal
from torch.func import functional_call, grad, vmap
from torch.nn import functional as F

from sac.config import ActorEstimator, DiscreteEstimator, PolicyName
from sac.discrete import DiscreteSAC

if TYPE_CHECKING:
    from sac.agent import SAC

Params = dict[str, Tensor]


def gradient_samples(loss_fn: Callable[[Params], Tensor], params: Params, n: int, vectorize: bool = True) -> Tensor:
    """n independent gradient estimates of loss_fn at params, flattened: (n, P).

    Vectorised with vmap (different noise per estimate); `vectorize=False` loops instead, for samplers
    that vmap cannot batch (the Beta's implicit-gradient Dirichlet sampler is an autograd.Function).
    """
    detached = {k: v.detach() for k, v in params.items()}
    if vectorize:
        per_estimate = vmap(lambda p, _: grad(loss_fn)(p), in_dims=(None, 0), randomness="different")
        grads = per_estimate(detached, torch.arange(n))
        return torch.cat([g.reshape(n, -1) for g in grads.values()], dim=1)
    return torch.stack([autograd_gradient(loss_fn, detached) for _ in range(n)])


def autograd_gradient(loss_fn: Callable[[Params], Tensor], params: Params) -> Tensor:
    """One gradient of loss_fn at params through torch.autograd, flattened (P,): for code that torch.func's
    transforms cannot trace."""
    leaves = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    grads = torch.autograd.grad(loss_fn(leaves), list(leaves.values()))
    return torch.cat([g.flatten() for g in grads])


def gradient_statistics(samples: Tensor, reference: Tensor) -> dict[str, Tensor]:
    """Summary of n estimates (n, P) of one gradient, against a reference gradient (P,).

    norm_of_mean    ||mean_i g_i||
    mean_norm       mean_i ||g_i||
    total_variance  trace of the covariance of one estimate, sum_p Var(g_p) (unbiased, n - 1)
    snr             ||mean_i g_i|| / sqrt(total_variance): signal-to-noise ratio of a single estimate
    cosine          mean_i cos(g_i, reference)
    """
    mean = samples.mean(0)
    total_variance = samples.var(0, unbiased=True).sum()
    return {
        "norm_of_mean": mean.norm(),
        "mean_norm": samples.norm(dim=1).mean(),
        "total_variance": total_variance,
        "snr": mean.norm() / total_variance.sqrt(),
        "cosine": F.cosine_similarity(samples, reference.unsqueeze(0), dim=1).mean(),
    }


def bias_statistics(samples: Tensor, reference: Tensor, reference_variance: float | Tensor = 0.0) -> dict[str, Tensor]:
    """How far the mean of n estimates (n, P) lies from a reference gradient (P,), against the noise alone.

    bias_norm  ||mean_i g_i - reference||
    bias_se    sqrt(tr Cov(g) / n + reference_variance): the root-mean-square size of bias_norm that the
               noise of the mean (and of the reference: tr of its covariance, 0 for an exact gradient)
               alone gives, E||noise||^2 = tr Cov / n. An unbiased estimator shows bias_norm near bias_se
    bias_z     bias_norm / bias_se: about 1 (below about 2) when unbiased, much larger for a real bias
    """
    bias_norm = (samples.mean(0) - reference).norm()
    bias_se = (samples.var(0, unbiased=True).sum() / samples.shape[0] + reference_variance).sqrt()
    return {"bias_norm": bias_norm, "bias_se": bias_se, "bias_z": bias_norm / bias_se}


def gaussian_pathwise_loss(f: Callable[[Tensor], Tensor]) -> Callable[[Params], Tensor]:
    """x = mu + sigma * eps, eps ~ N(0, 1); one sample; the gradient flows through x: f'(x) * dx/dtheta."""

    def loss(p: Params) -> Tensor:
        eps = torch.randn_like(p["mu"])
        return f(p["mu"] + p["sigma"] * eps).sum()

    return loss


def gaussian_score_loss(f: Callable[[Tensor], Tensor]) -> Callable[[Params], Tensor]:
    """x ~ N(mu, sigma^2) sampled without gradient; one sample; f(x) * grad log N(x; mu, sigma)."""

    def loss(p: Params) -> Tensor:
        x = (p["mu"] + p["sigma"] * torch.randn_like(p["mu"])).detach()
        return (f(x).detach() * Normal(p["mu"], p["sigma"]).log_prob(x)).sum()

    return loss


def actor_gradient_diagnostics(
    agent: SAC | DiscreteSAC, obs: Tensor, samples: int, reference_samples: int, seed: int
) -> dict[str, Tensor]:
    """The actor-gradient estimators on the live actor and critics, at the replay batch obs (B, obs_dim):
    pathwise with one sample (`reparam`), pathwise with K = score_samples samples (`reparam_k`, the score
    estimate's cost) and score function with K samples (`score`).

    Each estimate is the gradient of the actor loss on the whole batch with fresh noise; the reference
    is the mean of `reference_samples` pathwise estimates (the lower-variance unbiased estimator),
    computed in one pass over the batch tiled that many times. Nothing of the agent is modified and the
    global RNG is restored afterwards. Returns {"grad/<estimator>/<statistic>": 0-dim tensor}.
    A discrete agent's estimators are measured against its exact gradient instead (`discrete_gradient_diagnostics`).
    """
    if isinstance(agent, DiscreteSAC):
        return discrete_gradient_diagnostics(agent, obs, samples, seed)
    params = {k: v.detach() for k, v in agent.actor.named_parameters()}
    with torch.no_grad():
        features = agent.encoder.features(obs, deterministic=True)  # what the actor sees

    def loss_fn(estimator: ActorEstimator, x: Tensor, k: int = 1) -> Callable[[Params], Tensor]:
        return lambda p: agent.actor_objective(functional_call(agent.actor, p, (x,)), x, estimator, k)[0]

    k = agent.cfg.score_samples
    # (name, estimator, critic evaluations per state): the pathwise estimate once with one sample and once
    # with as many as the score estimate uses, so the two are also compared at equal cost.
    diagnosed = [("reparam", ActorEstimator.reparam, 1), ("reparam_k", ActorEstimator.reparam, k),
                 ("score", ActorEstimator.score, k)]  # fmt: skip

    devices = [obs.device] if obs.device.type == "cuda" else []
    vectorize = agent.cfg.policy != PolicyName.beta
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        reference = autograd_gradient(loss_fn(ActorEstimator.reparam, features.repeat(reference_samples, 1)), params)
        metrics: dict[str, Tensor] = {}
        reference_variance = torch.tensor(0.0)
        for name, estimator, cost in diagnosed:
            start = time.perf_counter()
            estimates = gradient_samples(loss_fn(estimator, features, cost), params, samples, vectorize)
            seconds = time.perf_counter() - start
            stats = gradient_statistics(estimates, reference)
            if name == "reparam":  # the reference averages reference_samples of these estimates
                reference_variance = stats["total_variance"] / reference_samples
            stats |= bias_statistics(estimates, reference, reference_variance)
            stats["ms_per_estimate"] = torch.tensor(1000.0 * seconds / samples)
            # Averaging m estimates divides the variance by m and multiplies the cost by m: variance x cost
            # is the variance at a budget of one critic evaluation per state (lower is more efficient).
            stats["critic_evals"] = torch.tensor(float(cost))
            stats["variance_times_cost"] = stats["total_variance"] * cost
            metrics |= {f"grad/{name}/{stat}": value for stat, value in stats.items()}
    return metrics


def discrete_gradient_diagnostics(agent: DiscreteSAC, obs: Tensor, samples: int, seed: int) -> dict[str, Tensor]:
    """Every discrete actor-gradient estimator on the live actor and critics at the replay batch obs (B, obs_dim),
    measured against the exact gradient on that batch: the one place in RL where it is cheap, a sum over |A|.

    The critics give Q(s, .) for every action in one pass, so each estimator costs one critic evaluation per state:
    they differ in variance and bias only. Returns {"grad/<estimator>/<statistic>": 0-dim tensor}, the exact
    gradient's norm under grad/exact/norm_of_mean.
    """
    params = {k: v.detach() for k, v in agent.actor.named_parameters()}

    def loss_fn(estimator: DiscreteEstimator) -> Callable[[Params], Tensor]:
        return lambda p: agent.actor_objective(functional_call(agent.actor, p, (obs,)), obs, estimator)

    devices = [obs.device] if obs.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        start = time.perf_counter()
        exact = autograd_gradient(loss_fn(DiscreteEstimator.exact), params)
        metrics = {
            "grad/exact/norm_of_mean": exact.norm(),
            "grad/exact/ms_per_estimate": torch.tensor(1000.0 * (time.perf_counter() - start)),
        }
        for estimator in (DiscreteEstimator.score, DiscreteEstimator.gumbel, DiscreteEstimator.straight_through):
            start = time.perf_counter()
            estimates = gradient_samples(loss_fn(estimator), params, samples)
            seconds = time.perf_counter() - start
            stats = gradient_statistics(estimates, exact) | bias_statistics(estimates, exact)
            stats["ms_per_estimate"] = torch.tensor(1000.0 * seconds / samples)
            stats["critic_evals"] = torch.tensor(1.0)
            stats["variance_times_cost"] = stats["total_variance"]
            metrics |= {f"grad/{estimator.value}/{stat}": value for stat, value in stats.items()}
    return metrics
