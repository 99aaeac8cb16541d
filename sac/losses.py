"""SAC losses as plain functions in the symbols of Haarnoja et al. (2018, "SAC: Algorithms and Applications").

They compute and return; the agent owns the networks and steps the optimizers.
Shapes: reward, terminated, log-probs (B,); Q values (E, B).
"""

from __future__ import annotations

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
    f = (alpha.detach() * logp - q.min(dim=0).values).detach()  # (K, B)
    baseline = (f.sum(dim=0, keepdim=True) - f) / (k - 1)  # (K, B)
    return ((f - baseline) * logp).mean()
