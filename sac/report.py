"""Estimator comparison report: a W&B Report (wandb-workspaces) and an offline HTML page with PNG plots.

Runs come from local run directories (their `metrics.jsonl`, `config.yaml`, `run.json`) or from a
W&B project/group through the public API. Each run is labelled by its algorithm (sac/rundir.py):
sac-reparam, sac-score, sac-beta-*, sac-discrete-* or reinforce. The estimator table puts every
estimator the runs' diagnostics measured side by side per env: bias, variance, SNR, cost and the
learning outcome of the runs that trained with it.
"""

from __future__ import annotations

import csv
import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from envs import env_id
from sac.config import ActorEstimator, CompareConfig, UserError, to_object, upgrade_saved_config, validate_compare
from sac.logger import why_offline
from sac.rundir import Identity, RunDir

REPARAM, SCORE = (Identity("sac", "tanh_gaussian", e.value).label for e in ActorEstimator)
# The estimators diagnostics log (sac/estimators.py), each with its line style.
DIAGNOSED: dict[str, Any] = {"reparam": "-", "reparam_k": ":", "score": "--", "gumbel": "-.",
                             "straight_through": (0, (1, 3))}  # fmt: skip
GRAD_PANELS = {
    "total_variance": "Actor-gradient total variance",
    "variance_times_cost": "Actor-gradient variance x critic evaluations (equal-cost efficiency)",
    "snr": "Actor-gradient signal-to-noise ratio",
    "bias_z": "Actor-gradient bias / the size its noise alone gives (about 1 when unbiased)",
}


@dataclass
class Run:
    name: str
    identity: Identity
    env_id: str
    seed: int
    records: list[dict[str, Any]]
    wandb_id: str | None = None
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def algorithm(self) -> str:
        """The display label: sac-reparam, sac-beta-score, sac-discrete-gumbel, reinforce, ..."""
        return self.identity.label

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of every record holding `key`."""
        rows = [(r["step"], r[key]) for r in self.records if key in r]
        return (
            (np.array([s for s, _ in rows]), np.array([v for _, v in rows])) if rows else (np.array([]), np.array([]))
        )

    def final_return(self) -> float:
        _, values = self.series("eval/return_mean")
        return float(values[-1]) if len(values) else float("nan")


def load_local_run(path: Path) -> Run:
    """A run directory written by train_sac.py or train_reinforce.py."""
    run = RunDir(path)
    try:
        records, config, info = run.records(), run.read_config(), run.read_info()
    except (json.JSONDecodeError, ValueError) as e:
        raise UserError(f"{path} holds an unreadable file ({e})") from None
    if "algorithm" not in info:
        raise UserError(f"{path} is not a run directory: run.json is missing")
    return Run(
        path.name,
        Identity.read(info),
        env_id(config["env"]["name"]),
        int(config["seed"]),
        records,
        info.get("wandb_run_id"),
        OmegaConf.to_container(config),  # type: ignore[arg-type]
    )


def load_wandb_runs(project: str, entity: str | None, group: str | None) -> list[Run]:
    reason = why_offline()
    if reason is not None:
        raise UserError(f"wandb_project={project} needs W&B online, but {reason}: pass local runs=[...] instead")
    import wandb

    path = f"{entity}/{project}" if entity else project
    filters = {"group": group} if group else {}
    runs = []
    for r in wandb.Api(timeout=30).runs(path, filters=filters):
        records = [dict(row, step=row["_step"]) for row in r.scan_history()]
        cfg = upgrade_saved_config(r.config)
        identity = Identity.read({"algorithm": r.job_type})  # a W&B run's job type is its label
        runs.append(Run(r.name, identity, env_id(cfg["env"]["name"]), int(cfg["seed"]), records, r.id, dict(cfg)))
    return runs


def collect_runs(c: CompareConfig) -> list[Run]:
    paths = [Path(p) for p in c.runs]
    if c.sweep_dir:
        if not Path(c.sweep_dir).is_dir():
            raise UserError(f"sweep_dir={c.sweep_dir} is not a directory")
        paths += [run.path for run in RunDir.below(Path(c.sweep_dir))]
    if paths:
        runs = [load_local_run(p) for p in paths]
    elif c.wandb_project:
        runs = load_wandb_runs(c.wandb_project, c.wandb_entity, c.wandb_group)
    else:
        runs = []
    if not runs:
        raise UserError("no runs found: pass runs=[dir,...], sweep_dir=DIR or wandb_project=NAME")
    return runs


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


def probability_of_improvement(x: list[np.ndarray], y: list[np.ndarray]) -> float:
    """P(X > Y) for a random run of X and one of Y on the same env (ties count half), averaged over envs."""
    return float(
        np.mean(
            [((a[:, None] > b[None, :]) + 0.5 * (a[:, None] == b[None, :])).mean() for a, b in zip(x, y, strict=True)]
        )
    )


def area_under_curve(run: Run) -> float:
    """Eval return averaged over training (the area under its curve divided by the steps it spans)."""
    steps, values = run.series("eval/return_mean")
    if len(values) < 2:
        return float(values[-1]) if len(values) else float("nan")
    return float(np.trapezoid(values, steps) / (steps[-1] - steps[0]))


@dataclass
class Aggregate:
    env_id: str
    algorithm: str
    runs: int
    final: tuple[float, float, float]  # IQM over seeds and its 95% CI
    auc: tuple[float, float, float]


def aggregate(runs: list[Run]) -> tuple[list[Aggregate], tuple[float, float, float] | None]:
    """Per env and algorithm: IQM of final and AUC eval return over seeds with bootstrap CIs; and
    P(sac-reparam > sac-score) on final return, over the envs that have both, with its CI."""
    rows = []
    for env in sorted({r.env_id for r in runs}):
        for algorithm in sorted({r.algorithm for r in runs if r.env_id == env}):
            group = [r for r in runs if r.env_id == env and r.algorithm == algorithm]
            final = np.array([r.final_return() for r in group])
            auc = np.array([area_under_curve(r) for r in group])
            one = lambda s: iqm(s[0])  # noqa: E731  (a single stratum: this env)
            rows.append(
                Aggregate(
                    env,
                    algorithm,
                    len(group),
                    stratified_bootstrap_ci([final], one),
                    stratified_bootstrap_ci([auc], one),
                )
            )
    both = [
        e for e in sorted({r.env_id for r in runs}) if {REPARAM, SCORE} <= {r.algorithm for r in runs if r.env_id == e}
    ]
    if not both:
        return rows, None
    finals = {
        a: [np.array([r.final_return() for r in runs if r.env_id == e and r.algorithm == a]) for e in both]
        for a in (REPARAM, SCORE)
    }
    k = len(both)
    improvement = stratified_bootstrap_ci(
        finals[REPARAM] + finals[SCORE], lambda s: probability_of_improvement(s[:k], s[k:])
    )
    return rows, improvement


# (policy, diagnosed estimator) -> what it is. Runs train with it when their identity has that policy and estimator
# (no run trains with reparam_k, the pathwise estimator at the score estimator's cost).
ESTIMATORS: dict[tuple[str, str], str] = {
    ("tanh_gaussian", "reparam"): "tanh-Gaussian pathwise",
    ("tanh_gaussian", "reparam_k"): "tanh-Gaussian pathwise, K samples",
    ("tanh_gaussian", "score"): "tanh-Gaussian score function",
    ("beta", "reparam"): "Beta implicit pathwise",
    ("beta", "reparam_k"): "Beta implicit pathwise, K samples",
    ("beta", "score"): "Beta score function",
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
    diagnostic steps of all runs of that policy, and the learning outcome of the runs that trained with it.

    Bias is against the exact gradient for a categorical policy and against the many-sample pathwise reference
    for a continuous one (sac/estimators.py); bias_z = bias_norm / bias_se is about 1 for an unbiased estimator.
    The exact sum has no noise: its variance and bias are 0 by construction.
    """
    rows = []
    for env in sorted({r.env_id for r in runs}):
        for policy in ("tanh_gaussian", "beta", "categorical"):
            family = [r for r in runs if r.env_id == env and r.identity.policy == policy]
            diagnosed = [rec for r in family for rec in r.records if any(k.startswith("grad/") for k in rec)]
            for (p, estimator), name in ESTIMATORS.items():
                if p != policy:
                    continue
                measured = [rec for rec in diagnosed if any(k.startswith(f"grad/{estimator}/") for k in rec)]
                trained = [r for r in family if r.identity.estimator == estimator]
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
                    final = stratified_bootstrap_ci([finals], lambda s: iqm(s[0]))
                rows.append(EstimatorRow(env, name, len(measured), stats, len(trained), final))
    return rows


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


def estimator_markdown(rows: list[EstimatorRow]) -> str:
    lines = ["| " + " | ".join(ESTIMATOR_COLUMNS) + " |", "|" + " --- |" * len(ESTIMATOR_COLUMNS)]
    return "\n".join(lines + ["| " + " | ".join(estimator_cells(r)) + " |" for r in rows])


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


def plot_panels(runs: list[Run], out: Path) -> list[tuple[str, Path]]:
    """One PNG per panel: eval return per env (mean and min-max over seeds per algorithm) and the
    gradient diagnostics of each estimator (mean over the runs of an env and policy) on a log scale.
    Returns [(title, path)]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for env in sorted({r.env_id for r in runs}):
        fig, ax = plt.subplots(figsize=(7, 4))
        for algorithm in sorted({r.algorithm for r in runs if r.env_id == env}):
            curves = [r.series("eval/return_mean") for r in runs if r.env_id == env and r.algorithm == algorithm]
            curves = [c for c in curves if len(c[0])]
            if not curves:
                continue
            grid = np.unique(np.concatenate([steps for steps, _ in curves]))
            ys = np.stack([np.interp(grid, steps, values) for steps, values in curves])
            (line,) = ax.plot(grid, ys.mean(0), label=f"{algorithm} ({len(curves)} seed{'s' * (len(curves) > 1)})")
            ax.fill_between(grid, ys.min(0), ys.max(0), alpha=0.2, color=line.get_color())
        ax.set(title=f"Evaluation return, {env}", xlabel="environment steps", ylabel="mean eval return")
        ends = [r.records[-1]["step"] for r in runs if r.env_id == env and r.records]
        if ends and max(ends) > 10 * min(ends):  # budgets an order of magnitude apart (SAC vs REINFORCE): log steps
            ax.set_xscale("log")
        ax.legend()
        panels.append((f"Evaluation return, {env}", _save(fig, out / f"eval_return_{env}.png")))

    diagnosed = [r for r in runs if any(k.startswith("grad/") for rec in r.records for k in rec)]
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


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def aggregate_markdown(rows: list[Aggregate], improvement: tuple[float, float, float] | None) -> str:
    """The aggregate table as Markdown (the W&B report's text block, and the HTML page's source)."""
    ci = lambda v: f"{v[0]:.1f} [{v[1]:.1f}, {v[2]:.1f}]"  # noqa: E731
    lines = [
        "| env | algorithm | runs | IQM final return [95% CI] | IQM mean return over training [95% CI] |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {a.env_id} | {a.algorithm} | {a.runs} | {ci(a.final)} | {ci(a.auc)} |" for a in rows]
    if improvement is not None:
        p, low, high = improvement
        lines += ["", f"P(sac-reparam > sac-score), final return: {p:.2f} [{low:.2f}, {high:.2f}]"]
    return "\n".join(lines)


def write_html(runs: list[Run], panels: list[tuple[str, Path]], title: str, out: Path) -> Path:
    agg_rows, improvement = aggregate(runs)
    ci = lambda v: f"{v[0]:.1f} [{v[1]:.1f}, {v[2]:.1f}]"  # noqa: E731
    aggregates = "\n".join(
        f"<tr><td>{a.env_id}</td><td>{a.algorithm}</td><td>{a.runs}</td><td>{ci(a.final)}</td><td>{ci(a.auc)}</td></tr>"
        for a in agg_rows
    )
    improvement_line = (
        f"<p>Probability of improvement, P(sac-reparam &gt; sac-score) on final return: "
        f"{improvement[0]:.2f} [{improvement[1]:.2f}, {improvement[2]:.2f}]</p>"
        if improvement
        else ""
    )
    rows = "\n".join(
        f"<tr><td>{html.escape(r.name)}</td><td>{r.algorithm}</td><td>{r.env_id}</td><td>{r.seed}</td>"
        f"<td>{r.records[-1]['step'] if r.records else 0}</td><td>{r.final_return():.1f}</td></tr>"
        for r in sorted(runs, key=lambda r: (r.env_id, r.algorithm, r.seed))
    )
    estimators = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in estimator_cells(r)) + "</tr>"
        for r in estimator_table(runs)
    )
    figures = "\n".join(f'<h2>{html.escape(t)}</h2>\n<img src="{p.name}" alt="{html.escape(t)}">' for t, p in panels)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:80em;margin:auto}} td,th{{padding:.2em .8em;text-align:left}}
table.estimators td,table.estimators th{{padding:.2em .5em;font-size:90%}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(DESCRIPTION)}</p>
<h2>Across seeds: interquartile mean, 95% stratified bootstrap CI</h2>
<table><tr><th>env</th><th>algorithm</th><th>runs</th><th>IQM final return</th>
<th>IQM mean return over training</th></tr>
{aggregates}
</table>
{improvement_line}
<h2>Every estimator, per env</h2>
<p>{html.escape(ESTIMATOR_NOTE)}</p>
<table class="estimators"><tr>{"".join(f"<th>{html.escape(c)}</th>" for c in ESTIMATOR_COLUMNS)}</tr>
{estimators}
</table>
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


def wandb_report(runs: list[Run], c: CompareConfig, online: bool) -> Any:
    """The W&B Report: eval return grouped by algorithm, gradient variance and SNR on log scales.

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
    panels: list[Any] = [
        wr.LinePlot(
            title="Evaluation return",
            x="Step",
            y=["eval/return_mean"],
            groupby="JobType",
            groupby_aggfunc="mean",
            groupby_rangefunc="minmax",
        )
    ]
    for stat, title in GRAD_PANELS.items():
        panels.append(wr.LinePlot(title=title, x="Step", y=[f"grad/{e}/{stat}" for e in DIAGNOSED], log_y=True))
    names = ", ".join(sorted({f"{r.name} ({r.algorithm})" for r in runs}))
    return wr.Report(
        entity=c.wandb_entity or "",
        project=c.wandb_project or "",
        title=c.title,
        description="Actor-gradient estimators of SAC, measured and compared",
        blocks=[
            wr.H1(text=c.title),
            wr.P(text=DESCRIPTION),
            wr.P(text=f"Runs: {names}."),
            wr.H2(text="Across seeds: interquartile mean, 95% stratified bootstrap CI"),
            wr.MarkdownBlock(text=aggregate_markdown(*aggregate(runs))),
            wr.H2(text="Every estimator, per env"),
            wr.P(text=ESTIMATOR_NOTE),
            wr.MarkdownBlock(text=estimator_markdown(estimator_table(runs))),
            wr.PanelGrid(runsets=[runset], panels=panels),
        ],
    )


def build(cfg: DictConfig) -> Path:
    """Hydra entry point of scripts/compare_estimators.py. Returns the report directory."""
    c = to_object(cfg, CompareConfig)
    validate_compare(c)
    out = Path(c.output) if c.output else Path(HydraConfig.get().runtime.output_dir)
    return build_report(c, out)


def build_report(c: CompareConfig, out: Path) -> Path:
    runs = collect_runs(c)
    out.mkdir(parents=True, exist_ok=True)
    panels = plot_panels(runs, out)
    page = write_html(runs, panels, c.title, out)
    write_estimator_csv(estimator_table(runs), out / "estimators.csv")
    publish = c.publish and bool(c.wandb_project and c.wandb_entity)
    reason = why_offline() if publish else "publishing needs publish=true, wandb_project and wandb_entity"
    report = wandb_report(runs, c, online=reason is None)
    spec = report._to_model().model_dump(mode="json", by_alias=True, exclude_none=True)
    (out / "wandb_report.json").write_text(json.dumps(spec, indent=1))
    print(f"offline report: {page}\nestimator table: {out / 'estimators.csv'}")
    print(f"W&B report spec: {out / 'wandb_report.json'}")
    if reason is None:
        report.save()
        print(f"W&B report: {report.url}")
    else:
        print(f"W&B report not published: {reason}")
    return out
