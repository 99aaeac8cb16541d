"""SAC losses as plain functions in the symbols of Haarnoja et al. (2018, "SAC: Algorithms and Applications").

They compute and return; the agent owns the networks and steps the optimizers.
Shapes: reward, terminated, log-probs (B,); Q values (E, B). Discrete SAC (Christodoulou 2019): action
probabilities and log-probabilities (B, |A|), Q values of every action (E, B, |A|).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check_q(q: Tensor, batch: int, name: str = "q") -> None:
    """Q values must be (E, B): a (B,) or (B, 1) tensor would broadcast against (B,) targets silently,
    the classic SAC bug (Spinning Up's "make sure to flatten this"), and min over dim 0 would reduce the batch."""
    if q.dim() != 2 or q.shape[1] != batch:
        raise ValueError(f"{name} must be (E, B) = (E, {batch}), got {tuple(q.shape)}")


def soft_target(
    reward: Tensor, terminated: Tensor, gamma: float, q_next: Tensor, alpha: Tensor, logp_next: Tensor
) -> Tensor:
    """y = r + gamma * (1 - terminated) * (min_j Q'_j(s', a') - alpha * log pi(a'|s')), a' ~ pi(.|s').  (B,)

    Only a true terminal state cuts the bootstrap; an episode cut by a time limit (truncated) still
    bootstraps, because the state it stopped in has a future the agent did not see.
    """
    _check_q(q_next, reward.shape[0], "q_next")
    min_q_next = q_next.min(dim=0).values  # (B,)
    return reward + gamma * (1.0 - terminated) * (min_q_next - alpha * logp_next)


def critic_loss(q: Tensor, target: Tensor) -> Tensor:
    """J_Q = sum_j 1/2 E[(Q_j(s, a) - y)^2]; q (E, B), target (B,) and carries no gradient."""
    _check_q(q, target.shape[0])
    return 0.5 * (q - target.detach()).pow(2).mean(dim=1).sum()


def actor_loss(alpha: Tensor, logp: Tensor, q: Tensor) -> Tensor:
    """J_pi = E[alpha * log pi(a|s) - min_j Q_j(s, a)] with a = tanh(mu + std * eps) (pathwise)."""
    _check_q(q, logp.shape[0])
    return (alpha.detach() * logp - q.min(dim=0).values).mean()


def temperature_loss(log_alpha: Tensor, logp: Tensor, target_entropy: float) -> Tensor:
    """J(alpha) = E[-alpha * (log pi(a|s) + H_target)]: raises alpha while entropy is below target."""
    return -(log_alpha.exp() * (logp.detach() + target_entropy)).mean()


def actor_loss_score(alpha: Tensor, logp: Tensor, q: Tensor) -> Tensor:
    """Surrogate whose gradient is the log-derivative (score-function) estimate of grad J_pi.

    logp (K, B): log pi_theta(a_k|s) of K actions per state sampled *without* gradient, differentiable
    in theta; q (E, K, B): the critics at those actions. With f = alpha * log pi(a|s) - min_j Q_j(s, a),
        grad J_pi = E_a[f(a) grad log pi(a|s)] + alpha * E_a[grad log pi(a|s)],
    and the second term, the direct dependence of f on theta through log pi, is zero in expectation
    because E_a[grad log pi(a|s)] = grad of the integral of pi = grad 1 = 0; it is dropped.
    The leave-one-out baseline b_k = mean_{j != k} f_j is independent of a_k, so it keeps the estimate
    unbiased while removing most of its variance (Kool et al. 2019, "Buy 4 REINFORCE samples").
    """
    k = logp.shape[0]
    if q.dim() != 3 or q.shape[1:] != logp.shape:
        raise ValueError(f"q must be (E, K, B) = (E, {k}, {logp.shape[1]}), got {tuple(q.shape)}")
    return score_surrogate(alpha.detach() * logp - q.min(dim=0).values, logp)


def score_surrogate(f: Tensor, logp: Tensor) -> Tensor:
    """mean_k (f_k - b_k) log pi(a_k|s), whose gradient estimates grad E_a[f(a)] when f does not depend on theta.

    f, logp (K, B): the cost and the differentiable log-prob of K actions per state sampled without gradient;
    b_k = mean_{j != k} f_j is the leave-one-out baseline (Kool et al. 2019), independent of a_k, so unbiased.
    """
    k = logp.shape[0]
    f = f.detach()
    baseline = (f.sum(dim=0, keepdim=True) - f) / (k - 1)  # (K, B)
    return ((f - baseline) * logp).mean()


def _check_q_all(q: Tensor, probs: Tensor, name: str = "q") -> None:
    """Q values of every action must be (E, B, |A|), aligned with the probabilities (B, |A|)."""
    if q.dim() != 3 or q.shape[1:] != probs.shape:
        raise ValueError(f"{name} must be (E, B, |A|) = (E, {', '.join(map(str, probs.shape))}), got {tuple(q.shape)}")


def discrete_soft_target(
    reward: Tensor,
    terminated: Tensor,
    gamma: float,
    q_next: Tensor,
    alpha: Tensor,
    probs_next: Tensor,
    log_probs_next: Tensor,
) -> Tensor:
    """y = r + gamma (1 - terminated) sum_a' pi(a'|s') (min_j Q'_j(s', a') - alpha log pi(a'|s')).  (B,)

    The soft value of s' is an exact sum over the actions instead of a one-sample estimate (Christodoulou 2019,
    eq. 10); q_next (E, B, |A|), probs_next and log_probs_next (B, |A|).
    """
    _check_q_all(q_next, probs_next, "q_next")
    soft_value = (probs_next * (q_next.min(dim=0).values - alpha * log_probs_next)).sum(-1)  # (B,)
    return reward + gamma * (1.0 - terminated) * soft_value


def discrete_actor_loss(alpha: Tensor, probs: Tensor, log_probs: Tensor, q: Tensor) -> Tensor:
    """J_pi = E_s[sum_a pi(a|s) (alpha log pi(a|s) - min_j Q_j(s, a))], exact (Christodoulou 2019, eq. 12)."""
    _check_q_all(q, probs)
    return (probs * (alpha.detach() * log_probs - q.min(dim=0).values)).sum(-1).mean()


def discrete_entropy_term(alpha: Tensor, probs: Tensor, log_probs: Tensor) -> Tensor:
    """alpha E_s[sum_a pi(a|s) log pi(a|s)], the entropy part of J_pi, exact: (B, |A|) each -> scalar.

    The sampled discrete estimators estimate only the E_a[Q] part and take this part exactly: it costs no critic
    evaluation, and a relaxed sample has a density on the simplex, not the categorical's log-prob, so there is no
    sample-based entropy term to differentiate that would estimate the same objective.
    """
    return (alpha.detach() * probs * log_probs).sum(-1).mean()


def relaxed_actor_loss(alpha: Tensor, probs: Tensor, log_probs: Tensor, q: Tensor, y: Tensor) -> Tensor:
    """J_pi with E_a[min_j Q_j(s, a)] read at K relaxed (or straight-through) one-hots y (K, B, |A|): each critic
    at y as Q_j(s, .) . y, then their minimum, differentiated through y; q (E, B, |A|) carries no gradient.

    Each critic is linear in y, so the straight-through gradient (the hard y forward) differs from the
    Gumbel-softmax one (the soft y forward) only through the min: which critic is the smaller one at the hard
    sample and at the soft one. With a single critic the two gradients are equal (tests/test_discrete.py).
    At a hard y this is min_j Q_j(s, a), the exact objective's sample.
    """
    _check_q_all(q, probs)
    q_at_y = torch.einsum("kba,eba->ekb", y, q).min(dim=0).values  # (K, B)
    return discrete_entropy_term(alpha, probs, log_probs) - q_at_y.mean()
