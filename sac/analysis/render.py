"""The renderers of a report, each from the tables computed once (tables.py): Markdown, CSV, PNG panels (matplotlib),
the offline HTML page and the W&B Report spec (wandb-workspaces)."""

from __future__ import annotations

import csv
import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sac.analysis.runs import Run
from sac.analysis.stats import bootstrap_band
from sac.analysis.tables import (
    ESTIMATOR_STATS,
    STAGE_STATS,
    Aggregate,
    EarlySnr,
    EstimatorRow,
    Improvement,
    StageRow,
    Tables,
)
from sac.config import CompareConfig

# The estimators diagnostics log (sac/estimators.py), each with its line style.
DIAGNOSED: dict[str, Any] = {"reparam": "-", "reparam_k": ":", "score": "--", "gumbel": "-.",
                             "straight_through": (0, (1, 3))}  # fmt: skip
GRAD_PANELS = {
    "total_variance": "Actor-gradient total variance",
    "variance_times_cost": "Actor-gradient variance x critic evaluations (equal-cost efficiency)",
    "snr": "Actor-gradient signal-to-noise ratio",
    "bias_z": "Actor-gradient bias / the size its noise alone gives (about 1 when unbiased)",
}


ESTIMATOR_COLUMNS = ("env", "estimator", "diagnostics", "bias", "bias_z", "total variance", "SNR", "critic evals",
                     "variance x cost", "ms / estimate", "trained runs", "IQM final return [95% CI]")  # fmt: skip


def estimator_cells(row: EstimatorRow) -> list[str]:
    """One table row as text, in ESTIMATOR_COLUMNS order."""
    s = row.stats
    g = lambda v: "-" if math.isnan(v) else f"{v:.3g}"  # noqa: E731
    final = f"{row.final[0]:.1f} [{row.final[1]:.1f}, {row.final[2]:.1f}]" if row.final else "-"
    bias = "-" if math.isnan(s["bias_norm"]) else f"{s['bias_norm']:.3g} ± {s['bias_se']:.2g}"
    numbers = [g(s[k]) for k in ("bias_z", "total_variance", "snr", "critic_evals", "variance_times_cost",
                                 "ms_per_estimate")]  # fmt: skip
    return [row.env_id, row.estimator, str(row.diagnosed), bias, *numbers, str(row.trained_runs), final]


def markdown_table(columns: tuple[str, ...], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in rows])


def estimator_markdown(rows: list[EstimatorRow]) -> str:
    return markdown_table(ESTIMATOR_COLUMNS, [estimator_cells(r) for r in rows])


def write_estimator_csv(rows: list[EstimatorRow], path: Path) -> Path:
    """The table with full-precision numbers: one line per env and estimator."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["env", "estimator", "diagnostics", *ESTIMATOR_STATS, "trained_runs", "iqm_final_return",
                         "ci_low", "ci_high"])  # fmt: skip
        for r in rows:
            final = list(r.final) if r.final else ["", "", ""]
            writer.writerow([r.env_id, r.estimator, r.diagnosed, *(r.stats[k] for k in ESTIMATOR_STATS),
                             r.trained_runs, *final])  # fmt: skip
    return path


STAGE_COLUMNS = ("env", "algorithm", "step", "runs", "IQM eval return [95% CI]", "estimator", "total variance", "SNR",
                 "variance x cost", "s / 1k steps")  # fmt: skip


def stage_cells(row: StageRow) -> list[str]:
    """One stage-table row as text, in STAGE_COLUMNS order."""
    g = lambda v: "-" if math.isnan(v) else f"{v:.3g}"  # noqa: E731
    ret = ci_text(row.ret, 0) if row.ret else "-"
    stats = [g(row.stats[k]) for k in STAGE_STATS]
    return [row.env_id, row.algorithm, f"{row.step:,}", str(row.runs), ret, row.estimator, *stats,
            g(row.seconds_per_1k)]  # fmt: skip


GRADIENT_STAGE_COLUMNS = ("estimator", "total variance", "SNR", "variance x cost")


def stage_grid(rows: list[StageRow], measured: bool) -> tuple[tuple[str, ...], list[list[str]]]:
    """The stage table's columns and cells; without the gradient columns where no run measured an estimator."""
    keep = [i for i, c in enumerate(STAGE_COLUMNS) if measured or c not in GRADIENT_STAGE_COLUMNS]
    return tuple(STAGE_COLUMNS[i] for i in keep), [[cells[i] for i in keep] for cells in map(stage_cells, rows)]


def stage_note(measured: bool) -> str:
    return STAGE_RETURNS + (STAGE_GRADIENTS if measured else "") + STAGE_TIME


def stage_markdown(rows: list[StageRow], measured: bool) -> str:
    return markdown_table(*stage_grid(rows, measured))


def write_stage_csv(rows: list[StageRow], path: Path) -> Path:
    """The stage table with full-precision numbers: one line per env, algorithm and stage."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["env", "algorithm", "step", "runs", "iqm_return", "ci_low", "ci_high", "estimator",
                         *STAGE_STATS, "seconds_per_1k_steps"])  # fmt: skip
        for r in rows:
            ret = list(r.ret) if r.ret else ["", "", ""]
            writer.writerow([r.env_id, r.algorithm, r.step, r.runs, *ret, r.estimator,
                             *(r.stats[k] for k in STAGE_STATS), r.seconds_per_1k])  # fmt: skip
    return path


EARLY_SNR_COLUMNS = ("env", "run", "algorithm", "seed", "early SNR (median)", "later eval return")


def early_snr_summary(t: EarlySnr) -> str:
    rho = f"{t.rho[0]:.2f}" if math.isnan(t.rho[1]) else ci_text(t.rho, 2)
    return (f"{t.env_id}: Spearman's rho between each run's median SNR up to step {t.early:,} and its eval return at "
            f"{t.later:,}: {rho}, permutation p = {t.p:.2g}, over {len(t.runs)} runs")  # fmt: skip


def early_snr_rows(tables: list[EarlySnr]) -> list[list[str]]:
    return [[r.env_id, r.name, r.algorithm, str(r.seed), f"{r.early_snr:.3g}", f"{r.later_return:.0f}"]
            for t in tables for r in t.runs]  # fmt: skip


def early_snr_markdown(tables: list[EarlySnr]) -> str:
    summaries = "\n".join(f"- {early_snr_summary(t)}" for t in tables)
    return summaries + "\n\n" + markdown_table(EARLY_SNR_COLUMNS, early_snr_rows(tables))


def write_early_snr_csv(tables: list[EarlySnr], path: Path) -> Path:
    """Every run's early SNR and later return, with its env's rho and CI on each line."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["env", "run", "algorithm", "seed", "early_step", "early_snr_median", "later_step",
                         "later_return", "spearman_rho", "rho_ci_low", "rho_ci_high", "permutation_p"])  # fmt: skip
        for t in tables:
            for r in t.runs:
                writer.writerow([r.env_id, r.name, r.algorithm, r.seed, t.early, r.early_snr, t.later, r.later_return,
                                 *t.rho, t.p])  # fmt: skip
    return path


def early_snr_html(tables: list[EarlySnr]) -> str:
    """The early-SNR table, or nothing without two stages or three runs to rank."""
    if not tables:
        return ""
    summaries = "".join(f"<li>{html.escape(early_snr_summary(t))}</li>" for t in tables)
    return (f"<h2>Does early SNR predict the later return?</h2>\n<p>{html.escape(EARLY_SNR_NOTE)}</p>\n"
            f"<ul>{summaries}</ul>\n{html_table(EARLY_SNR_COLUMNS, early_snr_rows(tables))}")  # fmt: skip


def html_table(columns: tuple[str, ...], rows: list[list[str]]) -> str:
    """A compact table of text cells, escaped: the HTML twin of markdown_table."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    cells = "\n".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="estimators"><tr>{head}</tr>\n{cells}\n</table>'


def is_diagnosed(run: Run) -> bool:
    """Whether the run measured actor-gradient estimators on its live policy (it logged grad/...). A report whose
    runs measured none (a study of the VAE encoder, of bf16) shows no estimator section and no gradient panels."""
    return any(k.startswith("grad/") for rec in run.records for k in rec)


def log_steps(runs: list[Run]) -> bool:
    """A log step axis where the finished runs' plotted budgets lie an order of magnitude apart (SAC beside
    REINFORCE); a run still training is short because it is unfinished, and does not count."""
    ends = [r.records[-1]["step"] for r in runs if r.finished and r.records]
    return bool(ends) and max(ends) > 10 * min(ends)


def plot_panels(runs: list[Run], out: Path, metrics: Sequence[str] = ()) -> list[tuple[str, Path]]:
    """One PNG per panel: eval return per env, then each of `metrics` per env (mean over seeds per algorithm
    and a 95% bootstrap band), and the gradient diagnostics of each estimator (mean over the runs of an env and
    policy) on a log scale. Returns [(title, path)]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    plotted = [("eval/return_mean", "Evaluation return", "mean eval return"), *((key, key, key) for key in metrics)]
    for key, title, ylabel in plotted:
        for env in sorted({r.env_id for r in runs}):
            fig, ax = plt.subplots(figsize=(7, 4))
            if _seed_bands(ax, [r for r in runs if r.env_id == env], key):
                ax.set(title=f"{title}, {env}", xlabel="environment steps", ylabel=ylabel)
                if log_steps([r for r in runs if r.env_id == env]):
                    ax.set_xscale("log")
                ax.legend()
                name = "eval_return" if key == "eval/return_mean" else key.replace("/", "_")
                panels.append((f"{title}, {env}", _save(fig, out / f"{name}_{env}.png")))
            else:
                plt.close(fig)

    diagnosed = [r for r in runs if is_diagnosed(r)]
    # One line per env, policy and estimator: the mean over that group's runs at each diagnostic step.
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in diagnosed:
        groups.setdefault((run.env_id, run.identity.policy), []).append(run)
    for stat, title in GRAD_PANELS.items():
        if not diagnosed:
            break
        fig, ax = plt.subplots(figsize=(10, 4.5))
        for (env, policy), group in sorted(groups.items()):
            for estimator, style in DIAGNOSED.items():
                curves = [c for c in (r.series(f"grad/{estimator}/{stat}") for r in group) if len(c[0])]
                if not curves:
                    continue
                grid = np.unique(np.concatenate([steps for steps, _ in curves]))
                mean = np.mean([np.interp(grid, steps, values) for steps, values in curves], axis=0)
                runs_label = f"{len(curves)} run{'s' * (len(curves) > 1)}"
                ax.plot(grid, mean, linestyle=style, label=f"{estimator}, {policy}, {env} ({runs_label})")
        ax.set(title=title, xlabel="environment steps", yscale="log")
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
        panels.append((title, _save(fig, out / f"grad_{stat}.png")))
    return panels


def _seed_bands(ax: Any, runs: list[Run], key: str) -> bool:
    """Per algorithm, the mean over its runs of `key` and a 95% bootstrap band over them; whether any run logged it.
    Each run's curve ends at its last value: a run still training does not extend flat."""
    drawn = False
    for algorithm in sorted({r.algorithm for r in runs}):
        curves = [c for c in (r.series(key) for r in runs if r.algorithm == algorithm) if len(c[0])]
        if not curves:
            continue
        grid = np.unique(np.concatenate([steps for steps, _ in curves]))
        ys = np.stack([np.interp(grid, steps, values, right=np.nan) for steps, values in curves])
        (line,) = ax.plot(
            grid, np.nanmean(ys, axis=0), label=f"{algorithm} ({len(curves)} seed{'s' * (len(curves) > 1)})"
        )
        low, high = bootstrap_band(ys)
        ax.fill_between(grid, low, high, alpha=0.2, color=line.get_color())
        drawn = True
    return drawn


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def ci_text(v: tuple[float, float, float], digits: int = 1) -> str:
    return f"{v[0]:.{digits}f} [{v[1]:.{digits}f}, {v[2]:.{digits}f}]"


def improvement_text(i: Improvement) -> str:
    return f"P({i.better} > {i.worse}), final return over {', '.join(i.envs)}: {ci_text(i.probability, 2)}"


def aggregate_markdown(rows: list[Aggregate], found: list[Improvement]) -> str:
    """The aggregate table and the probabilities of improvement as Markdown (the W&B report's text block)."""
    lines = [
        "| env | algorithm | runs | IQM final return [95% CI] | IQM mean return over training [95% CI] |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {a.env_id} | {a.algorithm} | {a.runs} | {ci_text(a.final)} | {ci_text(a.auc)} |" for a in rows]
    if found:
        lines += ["", *(f"- {improvement_text(i)}" for i in found)]
    return "\n".join(lines)


def improvements_html(tables: Tables) -> str:
    """The report's list of P(improvement) statements, or nothing when no pair of algorithms shares an env."""
    if not tables.improvements:
        return ""
    lines = "\n".join(f"<li>{html.escape(improvement_text(i))}</li>" for i in tables.improvements)
    return f"<p>Probability of improvement (a run of the first ends above a run of the second):</p>\n<ul>{lines}</ul>"


def write_html(runs: list[Run], tables: Tables, panels: list[tuple[str, Path]], title: str, out: Path) -> Path:
    aggregates = "\n".join(
        f"<tr><td>{a.env_id}</td><td>{a.algorithm}</td><td>{a.runs}</td><td>{ci_text(a.final)}</td>"
        f"<td>{ci_text(a.auc)}</td></tr>"
        for a in tables.aggregates
    )
    improvement_block = improvements_html(tables)
    rows = "\n".join(
        f"<tr><td>{html.escape(r.name)}</td><td>{r.algorithm}</td><td>{r.env_id}</td><td>{r.seed}</td>"
        f"<td>{r.records[-1]['step'] if r.records else 0}</td><td>{r.final_return():.1f}</td></tr>"
        for r in sorted(runs, key=lambda r: (r.env_id, r.algorithm, r.seed))
    )
    measured = any(is_diagnosed(r) for r in runs)
    stages = stages_html(tables.stages, measured) + early_snr_html(tables.early_snr)
    description = f"<p>{html.escape(DESCRIPTION)}</p>" if measured else ""
    estimator_section = (
        f"<h2>Every estimator, per env</h2>\n<p>{html.escape(ESTIMATOR_NOTE)}</p>\n"
        f"{html_table(ESTIMATOR_COLUMNS, [estimator_cells(r) for r in tables.estimators])}"
        if measured
        else ""
    )
    figures = "\n".join(f'<h2>{html.escape(t)}</h2>\n<img src="{p.name}" alt="{html.escape(t)}">' for t, p in panels)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:80em;margin:auto}} td,th{{padding:.2em .8em;text-align:left}}
table.estimators td,table.estimators th{{padding:.2em .5em;font-size:90%}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
{description}
<h2>Across seeds (finished runs): interquartile mean, 95% stratified bootstrap CI</h2>
<table><tr><th>env</th><th>algorithm</th><th>runs</th><th>IQM final return</th>
<th>IQM mean return over training</th></tr>
{aggregates}
</table>
{improvement_block}
{stages}
{estimator_section}
<h2>Final evaluation return per run</h2>
<table><tr><th>run</th><th>algorithm</th><th>env</th><th>seed</th><th>env steps</th><th>final eval return</th></tr>
{rows}
</table>
{figures}
</body></html>
"""
    path = out / "report.html"
    path.write_text(page)
    return path


def stages_html(rows: list[StageRow], measured: bool) -> str:
    """The stage table, or nothing when the report was asked for no stages."""
    if not rows:
        return ""
    return (f"<h2>At each stage of training</h2>\n<p>{html.escape(stage_note(measured))}</p>\n"
            f"{html_table(*stage_grid(rows, measured))}")  # fmt: skip


STAGE_RETURNS = (
    "Each algorithm at the given steps: the IQM over seeds of each run's last eval return up to that step (since the "
    "previous stage: REINFORCE evaluates after whole batches) with its 95% stratified bootstrap CI; "
)
STAGE_GRADIENTS = (
    "the gradient statistics of the estimator it trains with, at its last measurement up to that step on each run's "
    "own policy and critics, averaged over the runs; "
)
STAGE_TIME = (
    "and the wall time per 1000 steps since the previous stage (the median over runs of 1000 / the median logged "
    "steps/s; runs that shared a machine with other work read slower)."
)

EARLY_SNR_NOTE = (
    "Each run's signal-to-noise ratio of the gradient estimator it trains with (the median of its live diagnostics "
    "up to the first stage) beside its eval return at the last stage (its last evaluation after the stage before), "
    "pooled over the algorithms of an env; Spearman's rank correlation with a 95% bootstrap CI over the runs and its "
    "two-sided permutation p-value (over a handful of runs the bootstrap CI collapses onto the observed rho; the "
    "p-value says how often chance alone ranks them as well). A run enters only if it was diagnosed early and trained "
    "to the last stage."
)

ESTIMATOR_NOTE = (
    "Each statistic is the mean over every diagnostic step of every run of that policy on that env (all estimators "
    "measured on the same replay batch each time). bias: ||mean of the estimates - reference|| ± the size the noise "
    "alone gives; the reference is the exact gradient for a categorical policy and a many-sample pathwise estimate "
    "for a continuous one. bias_z = bias / that noise size: about 1 for an unbiased estimator. variance x cost: total "
    "variance times critic evaluations per state, the variance at a budget of one critic evaluation (lower is "
    "better). The last column is the learning outcome of the runs trained with that estimator."
)

DESCRIPTION = (
    "SAC's actor gradient estimated several ways on the same objective: for a tanh-Gaussian or Beta policy "
    "pathwise (reparameterised, explicitly or implicitly) and score-function (log-derivative with a leave-one-out "
    "baseline); for a categorical policy the exact sum over actions, score function, Gumbel-softmax and "
    "straight-through; next to REINFORCE with a value baseline. Gradient panels: total variance (trace of the "
    "covariance of one estimate), variance x cost, signal-to-noise ratio and bias over its noise, measured on the "
    "live actor and critics during training."
)


def wandb_report(runs: list[Run], tables: Tables, c: CompareConfig, online: bool) -> Any:
    """The W&B Report: eval return grouped by algorithm and, where the runs measured estimators, gradient variance
    and SNR on log scales.

    Offline, the run set names no project: wandb-workspaces looks a named project up on the server
    when it serialises the report, which would block without a network.
    """
    import wandb_workspaces.reports.v2 as wr
    from wandb_workspaces import expr

    filters = [expr.Metric("ID").isin(sorted(r.wandb_id for r in runs if r.wandb_id))]
    if c.wandb_group:
        filters.append(expr.Metric("Group") == c.wandb_group)
    runset = wr.Runset(
        entity=(c.wandb_entity or "") if online else "",
        project=(c.wandb_project or "") if online else "",
        name="runs",
        filters=filters,
    )
    # Eval return and the asked-for curves grouped by algorithm (the job type, rundir.run_label): mean and range.
    grouped = [("eval/return_mean", "Evaluation return"), *((key, key) for key in c.curves)]
    panels: list[Any] = [wr.LinePlot(title=title, x="Step", y=[key], groupby="JobType", groupby_aggfunc="mean",
                                     groupby_rangefunc="minmax") for key, title in grouped]  # fmt: skip
    measured = any(is_diagnosed(r) for r in runs)
    for stat, title in GRAD_PANELS.items() if measured else ():
        panels.append(wr.LinePlot(title=title, x="Step", y=[f"grad/{e}/{stat}" for e in DIAGNOSED], log_y=True))
    names = ", ".join(sorted({f"{r.name} ({r.algorithm})" for r in runs}))
    stage_blocks: list[Any] = []
    if tables.stages:
        stage_blocks = [wr.H2(text="At each stage of training"), wr.P(text=stage_note(measured)),
                        wr.MarkdownBlock(text=stage_markdown(tables.stages, measured))]  # fmt: skip
    if tables.early_snr:
        stage_blocks += [wr.H2(text="Does early SNR predict the later return?"), wr.P(text=EARLY_SNR_NOTE),
                         wr.MarkdownBlock(text=early_snr_markdown(tables.early_snr))]  # fmt: skip
    estimator_blocks: list[Any] = []
    if measured:
        estimator_blocks = [wr.H2(text="Every estimator, per env"), wr.P(text=ESTIMATOR_NOTE),
                            wr.MarkdownBlock(text=estimator_markdown(tables.estimators))]  # fmt: skip
    return wr.Report(
        entity=c.wandb_entity or "",
        project=c.wandb_project or "",
        title=c.title,
        description="Actor-gradient estimators of SAC, measured and compared" if measured else "Runs compared",
        blocks=[
            wr.H1(text=c.title),
            *([wr.P(text=DESCRIPTION)] if measured else []),
            wr.P(text=f"Runs: {names}."),
            wr.H2(text="Across seeds (finished runs): interquartile mean, 95% stratified bootstrap CI"),
            wr.MarkdownBlock(text=aggregate_markdown(tables.aggregates, tables.improvements)),
            *stage_blocks,
            *estimator_blocks,
            wr.PanelGrid(runsets=[runset], panels=panels),
        ],
    )
