"""Estimator diagnostics against closed forms, and on a live SAC agent."""

import math

import pytest
import torch
from helpers import small_config

from sac.agent import SAC
from sac.config import AgentConfig, DiagnosticsConfig
from sac.estimators import (
    actor_gradient_diagnostics,
    bias_statistics,
    gaussian_pathwise_loss,
    gaussian_score_loss,
    gradient_samples,
    gradient_statistics,
)
from sac.run.rundir import RunDir
from sac.run.train_sac import train

N = 200_000  # estimates per check


def check_mean_and_variance(g: torch.Tensor, true_mean: float, true_var: float) -> None:
    """g (N,): one-sample estimates of d/dmu. Tolerances are 5 standard errors, from the samples' own moments:
    SE(mean) = sqrt(Var / N), SE(sample variance) = sqrt((m4 - Var^2) / N)."""
    g = g.double()
    var = g.var()
    m4 = (g - g.mean()).pow(4).mean()
    assert abs(g.mean() - true_mean) <= 5 * math.sqrt(var / N) + 1e-9
    assert abs(var - true_var) <= 5 * math.sqrt(max(m4 - var**2, 0.0) / N) + 1e-9


@pytest.mark.parametrize(("mu", "sigma", "a", "b"), [(0.7, 1.3, 1.5, -0.5), (-2.0, 0.5, -1.0, 3.0)])
def test_linear_cost(mu: float, sigma: float, a: float, b: float) -> None:
    torch.manual_seed(0)
    params = {"mu": torch.tensor(mu), "sigma": torch.tensor(sigma)}
    f = lambda x: a * x + b  # noqa: E731
    pathwise = gradient_samples(gaussian_pathwise_loss(f), params, N)[:, 0]
    score = gradient_samples(gaussian_score_loss(f), params, N)[:, 0]
    assert pathwise.var().item() == pytest.approx(0.0, abs=1e-10)
    assert pathwise.mean().item() == pytest.approx(a, rel=1e-6)
    check_mean_and_variance(score, a, (a * mu + b) ** 2 / sigma**2 + 2 * a**2)


@pytest.mark.parametrize(("mu", "sigma", "k"), [(1.0, 1.0, 0.0), (0.5, 0.8, -0.3), (-1.0, 2.0, 1.0)])
def test_quadratic_cost(mu: float, sigma: float, k: float) -> None:
    torch.manual_seed(1)
    params = {"mu": torch.tensor(mu), "sigma": torch.tensor(sigma)}
    f = lambda x: (x - k) ** 2  # noqa: E731
    d = mu - k
    pathwise = gradient_samples(gaussian_pathwise_loss(f), params, N)[:, 0]
    score = gradient_samples(gaussian_score_loss(f), params, N)[:, 0]
    check_mean_and_variance(pathwise, 2 * d, 4 * sigma**2)
    check_mean_and_variance(score, 2 * d, d**4 / sigma**2 + 14 * d**2 + 15 * sigma**2)
    if (mu, sigma, k) == (1.0, 1.0, 0.0):  # x^2 at mu = sigma = 1: score 30, pathwise 4, true gradient 2
        assert score.var().item() == pytest.approx(30, rel=0.05) and pathwise.var().item() == pytest.approx(4, rel=0.02)


def test_bias_statistics_against_an_exact_and_a_noisy_reference() -> None:
    """Unbiased estimates: bias_norm is about the noise size sqrt(tr Cov / n), so bias_z is about 1; a shifted
    mean is found at its size; a reference's own variance widens bias_se."""
    torch.manual_seed(3)
    n, p = 4000, 50
    unbiased = torch.randn(n, p) * 2.0  # tr Cov = 200: noise size sqrt(200 / 4000) = 0.224
    stats = bias_statistics(unbiased, torch.zeros(p))
    assert stats["bias_se"].item() == pytest.approx(math.sqrt(200 / n), rel=0.05)
    assert 0.7 < stats["bias_z"].item() < 1.3
    shift = torch.zeros(p)
    shift[0] = 3.0
    biased = bias_statistics(unbiased + shift, torch.zeros(p))
    assert biased["bias_norm"].item() == pytest.approx(3.0, abs=0.1) and biased["bias_z"] > 10
    widened = bias_statistics(unbiased, torch.zeros(p), reference_variance=0.15)
    assert widened["bias_se"].item() == pytest.approx(math.sqrt(200 / n + 0.15), rel=0.05)


def test_statistics_of_known_samples() -> None:
    samples = torch.tensor([[1.0, 0.0], [3.0, 0.0], [2.0, 2.0], [2.0, -2.0]])
    stats = gradient_statistics(samples, reference=torch.tensor([1.0, 0.0]))
    assert stats["norm_of_mean"].item() == pytest.approx(2.0)
    assert stats["total_variance"].item() == pytest.approx(2 / 3 + 8 / 3)
    assert stats["snr"].item() == pytest.approx(2.0 / math.sqrt(10 / 3))
    assert stats["cosine"].item() == pytest.approx((1 + 1 + 2 / math.sqrt(8) * 2) / 4)


def test_both_actor_estimators_are_unbiased_for_the_same_gradient() -> None:
    torch.manual_seed(0)
    agent = SAC(4, 2, AgentConfig(hidden_sizes=[16, 16], score_samples=4), torch.device("cpu"))
    obs = torch.randn(32, 4)
    params = {k: v.detach() for k, v in agent.actor.named_parameters()}

    def loss(estimator: str):
        return lambda p: agent.actor_objective(torch.func.functional_call(agent.actor, p, (obs,)), obs, estimator)[0]

    n = 4000
    pathwise, score = gradient_samples(loss("reparam"), params, n), gradient_samples(loss("score"), params, n)
    # For unbiased estimators E||mean_a - mean_b||^2 = (tr Cov_a + tr Cov_b) / n; a bias adds its squared norm.
    expected = (pathwise.var(0).sum() + score.var(0).sum()) / n
    assert (pathwise.mean(0) - score.mean(0)).pow(2).sum() < 1.5 * expected
    assert score.var(0).sum() > pathwise.var(0).sum()  # and the pathwise one has the lower variance here


@pytest.mark.parametrize("policy", ["beta", "truncated_normal", "gaussian_mixture"])
def test_implicit_pathwise_and_score_estimate_the_same_gradient(policy: str) -> None:
    # The Beta's and the truncated normal's implicit gradients and the mixture's distributional-transform gradient
    # (weights included) are unbiased: each agrees with the score function's estimate on the live actor and critics
    # within their sampling noise, at a lower variance.
    torch.manual_seed(0)
    cfg = AgentConfig(hidden_sizes=[16, 16], score_samples=4, policy=policy)  # type: ignore[arg-type]
    agent = SAC(4, 2, cfg, torch.device("cpu"))
    obs = torch.randn(32, 4)
    params = {k: v.detach() for k, v in agent.actor.named_parameters()}

    def loss(estimator: str):
        return lambda p: agent.actor_objective(torch.func.functional_call(agent.actor, p, (obs,)), obs, estimator)[0]

    # vmap cannot batch the Beta's gamma sampler, so its estimates are looped and fewer. The check's power comes from
    # the number of parameters, over which the squared gap is summed, more than from n.
    vectorize = policy != "beta"
    n = 2000 if vectorize else 500
    implicit = gradient_samples(loss("reparam"), params, n, vectorize=vectorize)
    score = gradient_samples(loss("score"), params, n, vectorize=vectorize)
    expected = (implicit.var(0).sum() + score.var(0).sum()) / n
    assert (implicit.mean(0) - score.mean(0)).pow(2).sum() < 1.5 * expected
    assert score.var(0).sum() > implicit.var(0).sum()


def test_k_sample_pathwise_estimate_has_one_kth_of_the_variance() -> None:
    # Averaging K independent reparameterised samples per state: the same mean, the variance divided by K.
    torch.manual_seed(0)
    agent = SAC(4, 2, AgentConfig(hidden_sizes=[16, 16]), torch.device("cpu"))
    obs = torch.randn(32, 4)
    params = {k: v.detach() for k, v in agent.actor.named_parameters()}

    def loss(k: int):
        return lambda p: agent.actor_objective(torch.func.functional_call(agent.actor, p, (obs,)), obs, "reparam", k)[0]

    n, k = 4000, 4
    one, many = gradient_samples(loss(1), params, n), gradient_samples(loss(k), params, n)
    assert float(many.var(0).sum() * k / one.var(0).sum()) == pytest.approx(1.0, rel=0.15)
    expected = (one.var(0).sum() + many.var(0).sum()) / n
    assert (one.mean(0) - many.mean(0)).pow(2).sum() < 1.5 * expected


def test_looped_and_vectorised_gradient_samples_agree() -> None:
    params = {"w": torch.tensor([1.0, -2.0]), "b": torch.tensor(0.5)}
    loss = lambda p: (p["w"] ** 2).sum() * p["b"]  # noqa: E731  (deterministic: every estimate is the gradient)
    torch.testing.assert_close(
        gradient_samples(loss, params, 3, vectorize=False), gradient_samples(loss, params, 3, vectorize=True)
    )


@pytest.mark.parametrize("policy", ["beta", "truncated_normal", "gaussian_mixture"])
def test_diagnostics_run_on_the_implicitly_reparameterised_policies(policy: str) -> None:
    torch.manual_seed(0)
    agent = SAC(4, 2, AgentConfig(hidden_sizes=[16, 16], policy=policy), torch.device("cpu"))  # type: ignore[arg-type]
    metrics = actor_gradient_diagnostics(agent, torch.randn(8, 4), samples=4, reference_samples=8, seed=0)
    assert len(metrics) == 33 and all(torch.isfinite(v) for v in metrics.values())  # 3 estimators x 11 statistics
    assert 0 < float(metrics["grad/reparam/cosine"]) <= 1


def test_diagnostics_leave_agent_and_rng_untouched() -> None:
    agent = SAC(4, 2, AgentConfig(hidden_sizes=[16, 16]), torch.device("cpu"))
    before = [p.clone() for p in agent.actor.parameters()]
    torch.manual_seed(7)
    state = torch.get_rng_state()
    metrics = actor_gradient_diagnostics(agent, torch.ones(8, 4), samples=4, reference_samples=8, seed=0)
    assert torch.equal(state, torch.get_rng_state())
    assert all(torch.equal(a, b) for a, b in zip(before, agent.actor.parameters(), strict=True))
    assert all(p.grad is None for p in agent.actor.parameters())
    stats = ("norm_of_mean", "mean_norm", "total_variance", "snr", "cosine", "critic_evals", "variance_times_cost",
             "bias_norm", "bias_se", "bias_z", "ms_per_estimate")  # fmt: skip
    assert set(metrics) == {f"grad/{e}/{s}" for e in ("reparam", "reparam_k", "score") for s in stats}
    k = agent.cfg.score_samples
    assert [float(metrics[f"grad/{e}/critic_evals"]) for e in ("reparam", "reparam_k", "score")] == [1, k, k]
    for e, cost in (("reparam", 1), ("reparam_k", k), ("score", k)):
        assert float(metrics[f"grad/{e}/variance_times_cost"]) == float(metrics[f"grad/{e}/total_variance"]) * cost


def test_training_is_bit_identical_with_diagnostics_on_or_off(tmp_path) -> None:
    def run(every: int, name: str) -> tuple[list[dict], bytes]:
        c = small_config(total_steps=400, learning_starts=200, log_every=100, eval_every=200, checkpoint_every=400)
        c.diagnostics = DiagnosticsConfig(grad_variance_every=every, samples=8, reference_samples=32)
        train(c, tmp_path / name)
        records = RunDir(tmp_path / name).records()
        weights = (tmp_path / name / "checkpoints" / "latest" / "state.safetensors").read_bytes()
        return records, weights

    off_records, off_weights = run(0, "off")
    on_records, on_weights = run(200, "on")
    diagnostics = [r for r in on_records if any(k.startswith("grad/") for k in r)]
    assert [r["step"] for r in diagnostics] == [200, 400]
    assert all(math.isfinite(v) for r in diagnostics for k, v in r.items() if k.startswith("grad/"))

    def strip(records: list[dict]) -> list[dict]:
        return [
            {k: v for k, v in r.items() if k not in ("time", "perf/steps_per_sec")}
            for r in records
            if not any(k.startswith("grad/") for k in r)
        ]

    assert strip(on_records) == strip(off_records)
    assert on_weights == off_weights
