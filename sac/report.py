"""Estimator comparison report: a W&B Report (wandb-workspaces) and an offline HTML page with PNG plots.

Runs come from local run directories (their `metrics.jsonl`, `config.yaml`, `run.json`) or from a
W&B project/group through the public API. Each run is labelled by its algorithm: sac-reparam,
sac-score (SAC with the log-derivative actor estimator) or reinforce.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from envs import env_id
from sac.config import ActorEstimator, CompareConfig, UserError, to_object, validate_compare
from sac.logger import why_offline
from sac.rundir import RunDir, algorithm_label

REPARAM, SCORE = (algorithm_label("sac", e.value) for e in ActorEstimator)
# The estimators diagnostics log (sac/estimators.py), each with its line style.
DIAGNOSED = {"reparam": "-", "reparam_k": ":", "score": "--"}
GRAD_PANELS = {
    "total_variance": "Actor-gradient total variance",
    "variance_times_cost": "Actor-gradient variance x critic evaluations (equal-cost efficiency)",
    "snr": "Actor-gradient signal-to-noise ratio",
}


@dataclass
class Run:
    name: str
    algorithm: str  # sac-reparam | sac-score | reinforce
    env_id: str
    seed: int
    records: list[dict[str, Any]]
    wandb_id: str | None = None

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
        info["algorithm"],
        env_id(config["env"]["name"]),
        int(config["seed"]),
        records,
        info.get("wandb_run_id"),
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
        cfg = r.config
        runs.append(Run(r.name, r.job_type, env_id(cfg["env"]["name"]), int(cfg["seed"]), records, r.id))
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


def plot_panels(runs: list[Run], out: Path) -> list[tuple[str, Path]]:
    """One PNG per panel: eval return per env (mean and min-max over seeds per algorithm) and the
    gradient diagnostics of each estimator on a log scale. Returns [(title, path)]."""
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
    for stat, title in GRAD_PANELS.items():
        if not diagnosed:
            break
        fig, ax = plt.subplots(figsize=(7, 4))
        for run in diagnosed:
            for estimator, style in DIAGNOSED.items():
                steps, values = run.series(f"grad/{estimator}/{stat}")
                ax.plot(steps, values, style, label=f"{estimator} ({run.name})")
        ax.set(title=title, xlabel="environment steps", yscale="log")
        ax.legend(fontsize="small")
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
    figures = "\n".join(f'<h2>{html.escape(t)}</h2>\n<img src="{p.name}" alt="{html.escape(t)}">' for t, p in panels)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:auto}} td,th{{padding:.2em .8em;text-align:left}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(DESCRIPTION)}</p>
<h2>Across seeds: interquartile mean, 95% stratified bootstrap CI</h2>
<table><tr><th>env</th><th>algorithm</th><th>runs</th><th>IQM final return</th>
<th>IQM mean return over training</th></tr>
{aggregates}
</table>
{improvement_line}
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


DESCRIPTION = (
    "SAC's actor gradient estimated two ways on the same objective: pathwise (reparameterised, "
    "a = tanh(mu + std * eps), differentiated through a) and score-function (log-derivative, "
    "differentiated through log pi with a leave-one-out baseline), next to REINFORCE with a value "
    "baseline. Gradient panels: total variance (trace of the covariance of one estimate) and "
    "signal-to-noise ratio, measured on the live actor and critics during training."
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
        description="Pathwise vs score-function actor-gradient estimators",
        blocks=[
            wr.H1(text=c.title),
            wr.P(text=DESCRIPTION),
            wr.P(text=f"Runs: {names}."),
            wr.H2(text="Across seeds: interquartile mean, 95% stratified bootstrap CI"),
            wr.MarkdownBlock(text=aggregate_markdown(*aggregate(runs))),
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
    publish = c.publish and bool(c.wandb_project and c.wandb_entity)
    reason = why_offline() if publish else "publishing needs publish=true, wandb_project and wandb_entity"
    report = wandb_report(runs, c, online=reason is None)
    spec = report._to_model().model_dump(mode="json", by_alias=True, exclude_none=True)
    (out / "wandb_report.json").write_text(json.dumps(spec, indent=1))
    print(f"offline report: {page}\nW&B report spec: {out / 'wandb_report.json'}")
    if reason is None:
        report.save()
        print(f"W&B report: {report.url}")
    else:
        print(f"W&B report not published: {reason}")
    return out
