"""The categorical policy of discrete SAC and the samples each estimator of grad E_a[f(a)] needs.

pi(a|s) = softmax(logits)_a over |A| actions, batch-first: logits (B, |A|). The reparameterisation trick
has no exact form for a categorical: a = argmax_i(logits_i + g_i), g_i ~ Gumbel(0, 1) i.i.d. (the
Gumbel-max trick; Maddison et al. 2014) is an exact sample but piecewise constant in the logits, so its
pathwise gradient is zero. What each estimator does instead:

    score_samples     one-hot samples without gradient, log pi(a|s) with it: the log-derivative estimator
    gumbel_softmax    y = softmax((logits + g) / tau) on the simplex (Jang et al. 2017; Maddison et al. 2017,
                      "Concrete"): a pathwise gradient of a relaxed problem, biased for tau > 0; the bias
                      shrinks as tau -> 0 while the variance grows
    straight_through  the hard one-hot of argmax(y) forward, y's gradient backward (ST Gumbel-softmax,
                      Jang et al. 2017): an exact sample, a biased gradient

Every sample takes its Gumbel noise from `torch.rand`, so `torch.func.vmap(randomness="different")` draws
new noise per estimate (sac/estimators.py), and one-hots are built by comparison, which vmap can batch.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def one_hot_argmax(x: Tensor) -> Tensor:
    """The one-hot of argmax over the last dim, in x's dtype: (..., |A|) -> (..., |A|). Ties have probability 0
    for continuous noise."""
    return (x == x.amax(dim=-1, keepdim=True)).to(x.dtype)


class Categorical:
    """pi(a|s) = softmax(logits): logits (B, |A|); probs and log_probs (B, |A|) are differentiable."""

    def __init__(self, logits: Tensor) -> None:
        self.logits = logits
        self.log_probs = F.log_softmax(logits, dim=-1)
        self.probs = self.log_probs.exp()

    def entropy(self) -> Tensor:
        """H(pi(.|s)) = -sum_a pi(a|s) log pi(a|s), exact: (B,)."""
        return -(self.probs * self.log_probs).sum(-1)

    def gumbel(self, k: int) -> Tensor:
        """k draws of i.i.d. Gumbel(0, 1) noise per state, -log(-log U): (k, B, |A|)."""
        u = torch.rand((k, *self.logits.shape), device=self.logits.device, dtype=self.logits.dtype)
        tiny = torch.finfo(u.dtype).tiny  # U = 0 has probability 2^-24 and would give -inf
        return -torch.log(-torch.log(u.clamp(min=tiny)))

    def sample(self) -> Tensor:
        """One action index per state (B,), by the Gumbel-max trick: distributed exactly as pi."""
        return (self.logits.detach() + self.gumbel(1)[0]).argmax(dim=-1)

    def mode(self) -> Tensor:
        """The greedy action argmax_a pi(a|s) (B,), used for evaluation."""
        return self.logits.argmax(dim=-1)

    def score_samples(self, k: int) -> tuple[Tensor, Tensor]:
        """k one-hot actions per state drawn without gradient, and their log-probs with it:
        ((k, B, |A|), (k, B)), what the log-derivative estimator needs."""
        one_hot = one_hot_argmax(self.logits.detach() + self.gumbel(k))
        return one_hot, (one_hot * self.log_probs).sum(-1)

    def gumbel_softmax(self, k: int, tau: float) -> Tensor:
        """k relaxed one-hot samples per state, softmax((logits + g) / tau): (k, B, |A|), differentiable in the
        logits. As tau -> 0 they approach the Gumbel-max one-hots, whose frequencies are pi at any tau."""
        return torch.softmax((self.logits + self.gumbel(k)) / tau, dim=-1)

    def straight_through(self, k: int, tau: float) -> Tensor:
        """k exact one-hot samples per state whose backward pass is the Gumbel-softmax sample's: (k, B, |A|)."""
        y = self.gumbel_softmax(k, tau)
        return one_hot_argmax(y).detach() + y - y.detach()
