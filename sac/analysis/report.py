"""The compare_estimators.py entry point: load the runs, compute every table once, render the HTML page (with its
PNG panels), the estimator CSV and the W&B Report spec; publish the report when W&B is reachable."""

from __future__ import annotations

import json
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sac.analysis.render import (
    plot_panels,
    wandb_report,
    write_early_snr_csv,
    write_estimator_csv,
    write_html,
    write_stage_csv,
)
from sac.analysis.runs import collect_runs
from sac.analysis.tables import tabulate
from sac.config import CompareConfig
from sac.run.logger import why_offline
from sac.run.options import to_object, validate_compare


def compare(cfg: DictConfig) -> Path:
    """Hydra entry point of scripts/compare_estimators.py. Returns the report directory."""
    c = to_object(cfg, CompareConfig)
    validate_compare(c)
    out = Path(c.output) if c.output else Path(HydraConfig.get().runtime.output_dir)
    return build_report(c, out)


def build_report(c: CompareConfig, out: Path) -> Path:
    runs = collect_runs(c)
    out.mkdir(parents=True, exist_ok=True)
    tables = tabulate(runs, c.stages)
    panels = plot_panels(runs, out, c.curves)
    page = write_html(runs, tables, panels, c.title, out)
    write_estimator_csv(tables.estimators, out / "estimators.csv")
    if tables.stages:
        write_stage_csv(tables.stages, out / "stages.csv")
    if tables.early_snr:
        write_early_snr_csv(tables.early_snr, out / "early_snr.csv")
    publish = c.publish and bool(c.wandb_project and c.wandb_entity)
    reason = why_offline() if publish else "publishing needs publish=true, wandb_project and wandb_entity"
    report = wandb_report(runs, tables, c, online=reason is None)
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
