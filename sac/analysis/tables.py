"""The tables a report shows, each computed once from the runs (`tabulate`) and then rendered (render.py):
per env and algorithm the IQM of final and average eval return, P(improvement) for every pair of algorithms that
share an env, every estimator the runs' diagnostics measured, each algorithm at given stages of training, and
whether a run's early gradient SNR predicts its return at the last stage."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from sac.analysis.runs import Run
from sac.analysis.stats import (
    area_under_curve,
    iqm_ci,
    probability_of_improvement,
    spearman_ci,
    spearman_p,
    stratified_bootstrap_ci,
)
from sac.run.rundir import run_label

CI = tuple[float, float, float]
"""(point estimate, 2.5%, 97.5%) of a stratified bootstrap."""


@dataclass
class Aggregate:
    env_id: str
    algorithm: str
    runs: int
    final: CI
    """IQM over seeds of the final eval return, and its 95% CI."""
    auc: CI
    """The same for the eval return averaged over training."""


@dataclass
class Improvement:
    """P(a run of `better` ends above a run of `worse`) on final eval return, averaged over the envs both ran."""

    better: str
    worse: str
    envs: list[str]
    probability: CI


def aggregate(runs: list[Run]) -> list[Aggregate]:
    """Per env and algorithm: IQM of final and average eval return over seeds, with bootstrap CIs."""
    rows = []
    for env in sorted({r.env_id for r in runs}):
        for algorithm in sorted({r.algorithm for r in runs if r.env_id == env}):
            group = [r for r in runs if r.env_id == env and r.algorithm == algorithm]
            final = np.array([r.final_return() for r in group])
            auc = np.array([area_under_curve(*r.series("eval/return_mean")) for r in group])
            rows.append(
                Aggregate(env, algorithm, len(group), iqm_ci(final), iqm_ci(auc))
            )  # fmt: skip
    return rows


def improvement_ci(x: list[np.ndarray], y: list[np.ndarray]) -> CI:
    """P(X > Y) with its CI; x and y hold one array of final returns per env, in the same env order."""
    k = len(x)
    return stratified_bootstrap_ci(x + y, lambda s: probability_of_improvement(s[:k], s[k:]))


def improvements(runs: list[Run]) -> list[Improvement]:
    """P(improvement) for every pair of algorithms that share at least one env, each env a stratum of the
    bootstrap; a pair is listed once, in the direction whose probability is at least 0.5."""
    envs_of = {a: {r.env_id for r in runs if r.algorithm == a} for a in {r.algorithm for r in runs}}
    found = []
    for a, b in itertools.combinations(sorted(envs_of), 2):
        shared = sorted(envs_of[a] & envs_of[b])
        if not shared:
            continue
        finals = {x: [np.array([r.final_return() for r in runs if r.env_id == e and r.algorithm == x])
                      for e in shared] for x in (a, b)}  # fmt: skip
        p = improvement_ci(finals[a], finals[b])
        # P(b > a) = 1 - P(a > b): ties count half either way.
        flipped = (1 - p[0], 1 - p[2], 1 - p[1])
        found.append(Improvement(a, b, shared, p) if p[0] >= 0.5 else Improvement(b, a, shared, flipped))
    return found


# (policy, diagnosed estimator) -> what it is. Runs train with it when they have that policy and their own estimator
# (own_estimator) is it: reparam_k, the pathwise estimator at the score estimator's cost, for agent.reparam_samples > 1.
ESTIMATORS: dict[tuple[str, str], str] = {
    ("tanh_gaussian", "reparam"): "tanh-Gaussian pathwise",
    ("tanh_gaussian", "reparam_k"): "tanh-Gaussian pathwise, K samples",
    ("tanh_gaussian", "score"): "tanh-Gaussian score function",
    ("beta", "reparam"): "Beta implicit pathwise",
    ("beta", "reparam_k"): "Beta implicit pathwise, K samples",
    ("beta", "score"): "Beta score function",
    ("truncated_normal", "reparam"): "truncated-normal implicit pathwise",
    ("truncated_normal", "reparam_k"): "truncated-normal implicit pathwise, K samples",
    ("truncated_normal", "score"): "truncated-normal score function",
    ("gaussian_mixture", "reparam"): "Gaussian-mixture transform pathwise",
    ("gaussian_mixture", "reparam_k"): "Gaussian-mixture transform pathwise, K samples",
    ("gaussian_mixture", "score"): "Gaussian-mixture score function",
    ("categorical", "exact"): "categorical exact sum",
    ("categorical", "score"): "categorical score function",
    ("categorical", "gumbel"): "Gumbel-softmax",
    ("categorical", "straight_through"): "straight-through Gumbel",
}
ESTIMATOR_STATS = ("bias_norm", "bias_se", "bias_z", "total_variance", "snr", "critic_evals", "variance_times_cost",
                   "ms_per_estimate")  # fmt: skip


@dataclass
class EstimatorRow:
    env_id: str
    estimator: str
    """What it is (ESTIMATORS), with the Gumbel temperature where it applies."""
    diagnosed: int
    """Diagnostic measurements averaged: every diagnostic step of every run of this policy on this env."""
    stats: dict[str, float]
    """Each of ESTIMATOR_STATS, averaged over those measurements (nan where not logged)."""
    trained_runs: int
    final: tuple[float, float, float] | None
    """IQM final eval return of the runs trained with this estimator, with its 95% bootstrap CI."""


def estimator_table(runs: list[Run]) -> list[EstimatorRow]:
    """Every estimator the runs' diagnostics measured, per env and policy: the mean of each statistic over all
    diagnostic steps of all runs of that policy, and the learning outcome of the finished runs that trained with it.

    Bias is against the exact gradient for a categorical policy and against the many-sample pathwise reference
    for a continuous one (sac/estimators.py); bias_z = bias_norm / bias_se is about 1 for an unbiased estimator.
    The exact sum has no noise: its variance and bias are 0 by construction.
    """
    rows = []
    for env in sorted({r.env_id for r in runs}):
        for policy in dict.fromkeys(p for p, _ in ESTIMATORS):
            family = [r for r in runs if r.env_id == env and r.identity.policy == policy]
            diagnosed = [rec for r in family for rec in r.records if any(k.startswith("grad/") for k in rec)]
            for (p, estimator), name in ESTIMATORS.items():
                if p != policy:
                    continue
                measured = [rec for rec in diagnosed if any(k.startswith(f"grad/{estimator}/") for k in rec)]
                trained = [r for r in family if own_estimator(r) == estimator and plain_input(r) and r.finished]
                if not measured and not trained:
                    continue
                stats = {}
                for stat in ESTIMATOR_STATS:
                    values = [rec[f"grad/{estimator}/{stat}"] for rec in measured if f"grad/{estimator}/{stat}" in rec]
                    stats[stat] = float(np.mean(values)) if values else math.nan
                if estimator == "exact" and measured:
                    stats |= {
                        "bias_norm": 0.0,
                        "bias_se": 0.0,
                        "total_variance": 0.0,
                        "critic_evals": 1.0,
                        "variance_times_cost": 0.0,
                    }
                if estimator in ("gumbel", "straight_through"):
                    taus = sorted({r.config["agent"]["discrete"]["gumbel_temperature"] for r in family})
                    name = f"{name} (tau = {', '.join(f'{t:g}' for t in taus)})"
                final = None
                if trained:
                    finals = np.array([r.final_return() for r in trained])
                    final = iqm_ci(finals)
                rows.append(EstimatorRow(env, name, len(measured), stats, len(trained), final))
    return rows


STAGE_STATS = ("total_variance", "snr", "variance_times_cost")


@dataclass
class StageRow:
    """One algorithm on one env at one step of training."""

    env_id: str
    algorithm: str
    step: int
    runs: int
    """Runs with an evaluation at this step or since the previous stage."""
    ret: CI | None
    """IQM over those runs of their last eval return up to this step, with its 95% CI."""
    estimator: str
    """The estimator the algorithm trains with, as diagnostics name it (reparam, reparam_k, score, ...)."""
    stats: dict[str, float]
    """Each of STAGE_STATS of that estimator at its last diagnostic up to this step, on each run's own policy and
    critics, averaged over the runs (nan where none was logged since the previous stage)."""
    seconds_per_1k: float
    """Median over the runs of 1000 / (median steps/s logged since the previous stage): wall time per 1k steps."""


def plain_input(run: Run) -> bool:
    """Whether the run's label names its estimator alone (no -vae input, no -bf16 arithmetic): the estimator
    table's learning outcome compares estimators, so runs on another input or arithmetic are left to the stage
    table, which keeps every label apart."""
    return run.algorithm == run_label(run.identity, {"agent": run.config.get("agent", {})})


def own_estimator(run: Run) -> str:
    """The diagnostics' name for the estimator a run trains with: K-sample pathwise is reparam_k."""
    k = run.config.get("agent", {}).get("reparam_samples", 1)
    return "reparam_k" if run.identity.estimator == "reparam" and k > 1 else run.identity.estimator


def last_values(runs: list[Run], key: str, after: int, until: int) -> list[float]:
    """Each run's last value of `key` logged at a step in (after, until], for the runs that trained to `until` and
    logged one: a stage's value also where a run logs at other steps than the stage's (REINFORCE evaluates after
    whole batches), and none from a run still short of the stage."""
    found = [next((rec[key] for rec in reversed(r.records) if after < rec["step"] <= until and key in rec), None)
             for r in runs if r.last_step >= until]  # fmt: skip
    return [v for v in found if v is not None]


def stage_table(runs: list[Run], stages: list[int]) -> list[StageRow]:
    """Per env, algorithm and stage: the IQM [CI] over runs of each run's last eval return up to that step (since the
    previous stage), the gradient statistics of the algorithm's own estimator at its last diagnostic up to that step,
    and the wall time per 1k steps since the previous stage."""
    rows = []
    for env in sorted({r.env_id for r in runs}):
        for algorithm in sorted({r.algorithm for r in runs if r.env_id == env}):
            group = [r for r in runs if r.env_id == env and r.algorithm == algorithm]
            for previous, step in zip([0, *stages], stages, strict=False):
                returns = np.array(last_values(group, "eval/return_mean", previous, step))
                estimator = own_estimator(group[0])
                stats = {}
                for stat in STAGE_STATS:
                    values = last_values(group, f"grad/{estimator}/{stat}", previous, step)
                    stats[stat] = float(np.mean(values)) if values else math.nan
                rates = [np.median(v) for r in group
                         if len(v := [rec["perf/steps_per_sec"] for rec in r.records
                                      if previous < rec["step"] <= step and "perf/steps_per_sec" in rec])]  # fmt: skip
                seconds = float(np.median([1000.0 / rate for rate in rates])) if rates else math.nan
                ret = iqm_ci(returns) if len(returns) else None
                rows.append(StageRow(env, algorithm, step, len(returns), ret, estimator, stats, seconds))
    return rows


@dataclass
class EarlySnrRun:
    env_id: str
    name: str
    algorithm: str
    seed: int
    early_snr: float
    """The median SNR of the estimator the run trains with, over its diagnostics up to the early stage."""
    later_return: float
    """Its last eval return up to the last stage, after the stage before it."""


@dataclass
class EarlySnr:
    """Does a run's gradient SNR early in training predict its return later? Per env, over every run that was
    diagnosed by the early stage and trained to the last: Spearman's rho between the two, its 95% bootstrap CI and
    its permutation p-value."""

    env_id: str
    early: int
    later: int
    runs: list[EarlySnrRun]
    rho: CI
    p: float
    """The two-sided permutation p-value of rho (stats.spearman_p)."""


def early_snr(runs: list[Run], stages: list[int]) -> list[EarlySnr]:
    """With stages [s_1, ..., s_n], n >= 2: each run's median own-estimator SNR over its diagnostics at steps <= s_1
    against its return at s_n (as the stage table reads it), pooled over the algorithms of an env: the question is
    whether the estimators' signal early on orders the runs' later results, across estimators and seeds alike."""
    if len(stages) < 2:
        return []
    early, previous, later = stages[0], stages[-2], stages[-1]
    tables = []
    for env in sorted({r.env_id for r in runs}):
        rows = []
        for r in sorted((r for r in runs if r.env_id == env), key=lambda r: (r.algorithm, r.seed)):
            key = f"grad/{own_estimator(r)}/snr"
            snrs = [rec[key] for rec in r.records if rec["step"] <= early and key in rec]
            returns = last_values([r], "eval/return_mean", previous, later)
            if snrs and returns:
                rows.append(EarlySnrRun(env, r.name, r.algorithm, r.seed, float(np.median(snrs)), returns[0]))
        if len(rows) >= 3:  # fewer pairs have no rank correlation to speak of
            x, y = np.array([r.early_snr for r in rows]), np.array([r.later_return for r in rows])
            tables.append(EarlySnr(env, early, later, rows, spearman_ci(x, y), spearman_p(x, y)))
    return tables


@dataclass
class Tables:
    aggregates: list[Aggregate]
    improvements: list[Improvement]
    estimators: list[EstimatorRow]
    stages: list[StageRow]
    early_snr: list[EarlySnr]


def tabulate(runs: list[Run], stages: list[int] | None = None) -> Tables:
    """Every table of a report, computed once (each bootstrap is 2000 resamples). The final-return tables (the
    aggregates, P(improvement), the estimators' trained runs) count finished runs only: a run still training would
    enter with the return of wherever it stopped. The stage tables count each run up to the steps it reached."""
    stages = stages or []
    done = [r for r in runs if r.finished]
    return Tables(aggregate(done), improvements(done), estimator_table(runs), stage_table(runs, stages),
                  early_snr(runs, stages))  # fmt: skip
