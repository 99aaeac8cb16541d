"""The statistics of a comparison across seeds (Agarwal et al. 2021, "Deep RL at the Edge of the Statistical
Precipice"): robust point estimates with stratified bootstrap confidence intervals."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np


def iqm(x: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% (Agarwal et al. 2021), robust to outlier seeds.
    Cuts int(n / 4) values from each end, as scipy.stats.trim_mean(x, 0.25) does."""
    x = np.sort(np.asarray(x, dtype=float))
    k = len(x) // 4
    return float(x[k : len(x) - k].mean())


def stratified_bootstrap_ci(
    strata: list[np.ndarray], statistic: Callable[[list[np.ndarray]], float], reps: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """(point estimate, 2.5%, 97.5% percentile) of `statistic` under resampling of each stratum (the runs of
    one env) with replacement, independently: the rliable stratified bootstrap."""
    rng = np.random.default_rng(seed)
    point = statistic(strata)
    samples = [statistic([x[rng.integers(0, len(x), len(x))] for x in strata]) for _ in range(reps)]
    low, high = np.percentile(samples, [2.5, 97.5])
    return point, float(low), float(high)


def iqm_ci(x: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """The IQM of one set of runs' values (x: one per seed) with its 95% bootstrap CI: (iqm, 2.5%, 97.5%)."""
    return stratified_bootstrap_ci([np.asarray(x, dtype=float)], lambda s: iqm(s[0]), reps, seed)


def probability_of_improvement(x: list[np.ndarray], y: list[np.ndarray]) -> float:
    """P(X > Y) for a random run of X and one of Y on the same env (ties count half), averaged over envs."""
    return float(
        np.mean(
            [((a[:, None] > b[None, :]) + 0.5 * (a[:, None] == b[None, :])).mean() for a, b in zip(x, y, strict=True)]
        )
    )


def area_under_curve(steps: np.ndarray, values: np.ndarray) -> float:
    """Eval return averaged over training: the area under its curve divided by the steps it spans."""
    if len(values) < 2:
        return float(values[-1]) if len(values) else float("nan")
    return float(np.trapezoid(values, steps) / (steps[-1] - steps[0]))


def bootstrap_band(curves: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The 95% percentile-bootstrap band of the mean curve over runs: curves (runs, T), NaN where a run has no
    value (it stopped earlier) -> (low (T,), high (T,)), resampling the runs with replacement."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(curves), size=(reps, len(curves)))  # (reps, runs)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample of only stopped runs: NaN at that step
        means = np.nanmean(curves[picks], axis=1)  # (reps, T)
        return np.nanpercentile(means, 2.5, axis=0), np.nanpercentile(means, 97.5, axis=0)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation of paired values x, y (n,): Pearson's correlation of their ranks, ties given their
    average rank; nan when either side's ranks are all equal."""
    rx, ry = _average_ranks(np.asarray(x, dtype=float)), _average_ranks(np.asarray(y, dtype=float))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    norm = math.sqrt(float((rx * rx).sum() * (ry * ry).sum()))
    return float((rx * ry).sum() / norm) if norm > 0 else math.nan


def spearman_ci(x: np.ndarray, y: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Spearman's rho with its 95% percentile-bootstrap CI over the pairs (resampled with replacement; a resample
    whose ranks are all tied on one side is left out): (rho, 2.5%, 97.5%)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(x), size=(reps, len(x)))
    samples = np.array([spearman(x[p], y[p]) for p in picks])
    samples = samples[~np.isnan(samples)]
    if not len(samples):
        return spearman(x, y), math.nan, math.nan
    low, high = np.percentile(samples, [2.5, 97.5])
    return spearman(x, y), float(low), float(high)


def spearman_p(x: np.ndarray, y: np.ndarray, reps: int = 10000, seed: int = 0) -> float:
    """Two-sided permutation p-value of Spearman's rho: the share of pairings of y with x at least as correlated, in
    absolute value, as the observed one; every pairing when n <= 8 (exact), else `reps` random ones. A bootstrap CI
    over a handful of runs collapses onto the observed rho; this says how often chance alone ranks them as well
    (with n = 3 at least 2 of the 6 pairings do)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    observed = abs(spearman(x, y))
    if math.isnan(observed):
        return math.nan
    if len(x) <= 8:
        pairings: Iterable[Any] = itertools.permutations(range(len(y)))
    else:
        rng = np.random.default_rng(seed)
        pairings = (rng.permutation(len(y)) for _ in range(reps))
    rhos = np.array([abs(spearman(x, y[list(p)])) for p in pairings])
    return float(np.mean(rhos >= observed - 1e-12))


def _average_ranks(v: np.ndarray) -> np.ndarray:
    """Ranks 1..n of v (n,), tied values sharing the mean of their ranks."""
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(1, len(v) + 1)
    for value in np.unique(v):
        tied = v == value
        ranks[tied] = ranks[tied].mean()
    return ranks
