import html
import itertools
import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
import wandb
from helpers import run_entry_point, small_config

from sac.analysis.report import build_report
from sac.analysis.stats import iqm, probability_of_improvement, stratified_bootstrap_ci
from sac.config import CompareConfig, DiagnosticsConfig, EnvConfig, ReinforceConfig, WandbConfig
from sac.run.rundir import Identity, RunDir
from sac.run.train_reinforce import train as train_reinforce
from sac.run.train_sac import train as train_sac

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("runs")
    reparam = small_config(total_steps=800, learning_starts=400, eval_every=400, checkpoint_every=800)
    reparam.diagnostics = DiagnosticsConfig(grad_variance_every=400, samples=4, reference_samples=16)
    reparam.wandb = WandbConfig(mode="offline")
    train_sac(reparam, root / "sac_reparam")
    # wandb.init put its service's address in os.environ; without teardown every later subprocess of the
    # test session would share that service (and its record of run ids in use).
    wandb.teardown()
    score = small_config(total_steps=800, learning_starts=400, eval_every=400, checkpoint_every=800)
    score.agent.actor_estimator = "score"
    train_sac(score, root / "sac_score")
    reinforce = ReinforceConfig(
        env=EnvConfig(name="Pendulum"),
        wandb=WandbConfig(mode="disabled"),
        total_steps=2000,
        batch_steps=1000,
        eval_every=1000,
        eval_episodes=1,
        checkpoint_every=2000,
    )
    train_reinforce(reinforce, root / "reinforce")
    return [root / "sac_reparam", root / "sac_score", root / "reinforce"]


def test_report_spec_holds_the_panels_and_the_runs(three_runs: list[Path], tmp_path: Path) -> None:
    c = CompareConfig(runs=[str(p) for p in three_runs], wandb_project="sac-reparam", wandb_entity="someone",
                      curves=["train/q_mean"])  # fmt: skip
    out = build_report(c, tmp_path)
    spec = json.loads((out / "wandb_report.json").read_text())
    assert spec["displayName"] == c.title and spec["project"] == {"name": "sac-reparam", "entityName": "someone"}
    text = json.dumps(spec)
    for metric in (
        "eval/return_mean",
        "grad/reparam/total_variance",
        "grad/score/total_variance",
        "grad/reparam/snr",
        "grad/score/snr",
    ):
        assert f'"{metric}"' in text
    (grid,) = [b for b in spec["spec"]["blocks"] if b["type"] == "panel-grid"]
    panels = grid["metadata"]["panelBankSectionConfig"]["panels"]
    assert len(panels) == 6
    assert [p["config"].get("yLogScale") for p in panels[2:]] == [True, True, True, True]
    assert panels[1]["config"]["metrics"] == ["train/q_mean"] and panels[1]["config"]["groupBy"] == "jobType"
    # The run set selects the offline W&B run by id; its group-by is the algorithm (W&B job type).
    wandb_id = RunDir(three_runs[0]).read_info()["wandb_run_id"]
    assert grid["metadata"]["runSets"][0]["filters"]["filters"][0]["value"] == [wandb_id]
    assert panels[0]["config"]["groupBy"] == "jobType"

    page = (out / "report.html").read_text()
    for name, algorithm in zip(
        ("sac_reparam", "sac_score", "reinforce"), ("sac-reparam", "sac-score", "reinforce"), strict=True
    ):
        assert f"<td>{name}</td><td>{algorithm}</td>" in page
    assert {p.name for p in out.glob("*.png")} == {
        "eval_return_Pendulum-v1.png",
        "train_q_mean_Pendulum-v1.png",  # curves=[...]: the SAC runs log it, REINFORCE does not
        "grad_total_variance.png",
        "grad_variance_times_cost.png",
        "grad_snr.png",
        "grad_bias_z.png",
    }
    # The estimator table: both diagnosed estimators and the pathwise one at equal cost, with the learning outcome.
    assert "<td>Pendulum-v1</td><td>tanh-Gaussian pathwise</td>" in page
    assert "<td>Pendulum-v1</td><td>tanh-Gaussian score function</td>" in page
    assert "Every estimator, per env" in text
    assert len((out / "estimators.csv").read_text().splitlines()) == 4  # header + pathwise, pathwise K, score


@pytest.mark.slow  # the command as a process of its own: in the full suite
def test_command_finishes_promptly_without_network(
    three_runs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An API key but no reachable server: the case where an online W&B call would block for minutes.
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")
    start = time.perf_counter()
    code, stdout, stderr = run_entry_point(
        "compare_estimators",
        [f"runs=[{','.join(map(str, three_runs))}]", "wandb_project=sac-reparam", "wandb_entity=someone",
         f"output={tmp_path / 'report'}", f"hydra.run.dir={tmp_path}"],
    )  # fmt: skip
    assert code == 0, stderr
    assert time.perf_counter() - start < 60
    assert "not published: 127.0.0.1 is unreachable" in stdout
    assert (tmp_path / "report" / "wandb_report.json").exists() and (tmp_path / "report" / "report.html").exists()


def test_a_report_of_runs_that_measured_no_estimator_has_no_estimator_section(
    three_runs: list[Path], tmp_path: Path
) -> None:
    """The score-function SAC run and REINFORCE logged no live diagnostics: a study of something else (the VAE
    encoder, bf16) reads no text about estimators, no empty estimator table and no empty gradient panels."""
    from sac.analysis.render import DESCRIPTION

    out = build_report(CompareConfig(runs=[str(p) for p in three_runs[1:]], stages=[800]), tmp_path)
    page = (out / "report.html").read_text()
    assert "Every estimator, per env" not in page and html.escape(DESCRIPTION) not in page
    assert "<th>s / 1k steps</th>" in page and "<th>SNR</th>" not in page and "gradient statistics" not in page
    assert "<td>sac_score</td><td>sac-score</td>" in page  # the runs themselves are there
    assert not list(out.glob("grad_*.png"))
    spec = json.dumps(json.loads((out / "wandb_report.json").read_text()))
    assert "grad/" not in spec and "Every estimator" not in spec


def test_the_step_axis_is_logarithmic_only_for_finished_budgets_an_order_of_magnitude_apart() -> None:
    from sac.analysis.render import log_steps
    from sac.analysis.runs import Run

    def run(last: int, finished: bool = True) -> Run:
        identity = Identity("sac", "tanh_gaussian", "reparam")
        return Run("r", identity, "Hopper-v5", 0, [{"step": last, "eval/return_mean": 0.0}], finished=finished)

    assert log_steps([run(100_000), run(1_000_001)])  # SAC beside REINFORCE's budget
    assert not log_steps([run(300_000), run(300_000), run(13_917, finished=False)])  # one run has just begun
    assert not log_steps([run(300_000), run(2_000_000)])
    assert not log_steps([run(5_000, finished=False)])


def test_missing_run_directory_is_one_clear_line(tmp_path: Path) -> None:
    from sac.config import UserError

    with pytest.raises(UserError, match=r"is not a run directory: metrics\.jsonl is missing"):
        build_report(CompareConfig(runs=[str(tmp_path)]), tmp_path / "out")


def test_estimator_table_averages_each_estimator_per_env_and_policy(tmp_path: Path) -> None:
    from sac.analysis.render import write_estimator_csv
    from sac.analysis.runs import Run
    from sac.analysis.tables import estimator_table

    def diag(step: int, **stats: float) -> dict:
        return {"step": step, **{f"grad/{k.replace('__', '/')}": v for k, v in stats.items()}}

    records = [diag(1, exact__norm_of_mean=1.0, score__bias_norm=0.1, score__bias_se=0.1, score__bias_z=1.0,
                    gumbel__bias_norm=0.5, gumbel__bias_se=0.05, gumbel__bias_z=10.0),
               diag(2, exact__norm_of_mean=1.0, score__bias_norm=0.3, score__bias_se=0.1, score__bias_z=3.0,
                    gumbel__bias_norm=0.7, gumbel__bias_se=0.05, gumbel__bias_z=14.0),
               {"step": 2, "eval/return_mean": 400.0}]  # fmt: skip
    tau = {"agent": {"discrete": {"gumbel_temperature": 0.5}}}
    runs = [
        Run("a", Identity("sac-discrete", "categorical", "exact"), "CartPole-v1", 0, records, config=tau),
        Run(
            "b",
            Identity("sac-discrete", "categorical", "exact"),
            "CartPole-v1",
            1,
            [{"step": 2, "eval/return_mean": 500.0}],
            config=tau,
        ),
        Run(
            "c",
            Identity("sac", "tanh_gaussian", "reparam"),
            "Pendulum-v1",
            0,
            [diag(1, reparam__total_variance=2.0), {"step": 1, "eval/return_mean": -150.0}],
        ),
        Run(
            "d", Identity("reinforce", "gaussian", "score"), "Pendulum-v1", 0, [{"step": 1, "eval/return_mean": -900.0}]
        ),
    ]
    # Pathwise runs on another input, in other arithmetic or with K samples: none is the plain pathwise run's outcome
    pathwise, done = Identity("sac", "tanh_gaussian", "reparam"), [{"step": 1, "eval/return_mean": -500.0}]
    for name, config in (("vae", {"encoder": {"name": "vae"}}), ("bf16", {"precision": "bf16"}),
                         ("k8", {"agent": {"reparam_samples": 8}})):  # fmt: skip
        runs.append(Run(name, pathwise, "Pendulum-v1", 0, done, config=config))
    rows = {(r.env_id, r.estimator): r for r in estimator_table(runs)}
    cartpole = {"categorical exact sum", "categorical score function", "Gumbel-softmax (tau = 0.5)"}
    pendulum = {"tanh-Gaussian pathwise", "tanh-Gaussian pathwise, K samples"}
    assert set(rows) == {("CartPole-v1", e) for e in cartpole} | {("Pendulum-v1", e) for e in pendulum}
    plain = rows["Pendulum-v1", "tanh-Gaussian pathwise"]
    assert plain.trained_runs == 1 and plain.final is not None and plain.final[0] == -150.0
    assert rows["Pendulum-v1", "tanh-Gaussian pathwise, K samples"].trained_runs == 1
    score = rows["CartPole-v1", "categorical score function"]
    assert score.diagnosed == 2 and score.stats["bias_norm"] == pytest.approx(0.2) and score.stats["bias_z"] == 2.0
    assert score.trained_runs == 0 and score.final is None
    exact = rows["CartPole-v1", "categorical exact sum"]
    assert exact.stats["total_variance"] == 0.0 and exact.trained_runs == 2 and exact.final is not None
    assert exact.final[0] == pytest.approx(450.0) and exact.final[1] <= 450.0 <= exact.final[2]
    assert rows["Pendulum-v1", "tanh-Gaussian pathwise"].stats["total_variance"] == 2.0
    lines = write_estimator_csv(list(rows.values()), tmp_path / "t.csv").read_text().splitlines()
    assert len(lines) == 6 and lines[0].startswith("env,estimator,diagnostics,bias_norm")


def test_iqm_and_bootstrap_on_known_cases() -> None:
    assert iqm(np.array([0.0, 1, 2, 3, 4, 5, 6, 100])) == pytest.approx(3.5)  # the outlier is cut
    same = [np.full(5, 7.0), np.full(3, -2.0)]
    point, low, high = stratified_bootstrap_ci(same, lambda s: iqm(np.concatenate(s)))
    assert low == high == point  # identical seeds: a zero-width interval
    rng = np.random.default_rng(0)
    x = [rng.normal(10, 1, 10), rng.normal(0, 1, 10)]
    y = [rng.normal(7, 1, 10), rng.normal(-3, 1, 10)]
    p, low, high = stratified_bootstrap_ci(x + y, lambda s: probability_of_improvement(s[:2], s[2:]))
    assert p > 0.95 and low > 0.9  # a shifted distribution: improvement is near certain
    assert probability_of_improvement([np.array([1.0, 2.0])], [np.array([1.0, 2.0])]) == 0.5


def test_improvement_is_listed_for_every_pair_that_shares_an_env_in_its_likely_direction() -> None:
    from sac.analysis.runs import Run
    from sac.analysis.tables import improvements

    def run(identity: Identity, env: str, seed: int, final: float) -> Run:
        return Run(f"{identity.label}{seed}", identity, env, seed, [{"step": 1, "eval/return_mean": final}])

    reparam, score = Identity("sac", "tanh_gaussian", "reparam"), Identity("sac", "tanh_gaussian", "score")
    runs = [run(reparam, "Hopper-v5", s, 100.0 + s) for s in range(4)]
    runs += [run(score, "Hopper-v5", s, 200.0 + s) for s in range(4)]  # the score function wins every pair of runs
    runs += [run(Identity("reinforce", "gaussian", "score"), "Pendulum-v1", s, -900.0) for s in range(2)]  # no pair
    (found,) = improvements(runs)
    assert (found.better, found.worse, found.envs) == ("sac-score", "sac-reparam", ["Hopper-v5"])
    assert found.probability == (1.0, 1.0, 1.0)


def test_stage_table_reads_each_stage_of_each_algorithm() -> None:
    from sac.analysis.runs import Run
    from sac.analysis.tables import stage_table

    def records(returns: list[float], snr: list[float], rate: float) -> list[dict]:
        rows = [{"step": s, "eval/return_mean": r} for s, r in zip((10, 20), returns, strict=True)]
        rows += [{"step": s, "grad/score/snr": v, "grad/reparam/snr": 99.0} for s, v in zip((10, 20), snr, strict=True)]
        return rows + [{"step": s, "perf/steps_per_sec": rate} for s in (5, 10, 15, 20)]

    score = Identity("sac", "tanh_gaussian", "score")
    runs = [Run(f"s{k}", score, "Hopper-v5", k, records([100.0 + k, 200.0 + k], [1.0 + k, 3.0], 50.0))
            for k in range(3)]  # fmt: skip
    runs.append(Run("late", score, "Hopper-v5", 3, records([400.0, 500.0], [5.0, 3.0], 25.0)[1:]))  # no eval at 10
    k_pathwise = [{"step": 10, "eval/return_mean": 1.0, "grad/reparam_k/snr": 7.0}]
    agent = {"agent": {"reparam_samples": 8}}
    runs.append(Run("k", Identity("sac", "tanh_gaussian", "reparam"), "Hopper-v5", 0, k_pathwise, config=agent))
    on_latent = [{"step": 10, "eval/return_mean": 2.0}]
    vae = {"encoder": {"name": "vae"}}
    runs.append(Run("vae", Identity("sac", "tanh_gaussian", "reparam"), "Hopper-v5", 0, on_latent, config=vae))
    k_at_10, _, vae_at_10, _, score_at_10, _ = stage_table(runs, [10, 20])
    assert (vae_at_10.algorithm, vae_at_10.runs, vae_at_10.estimator) == ("sac-reparam-vae", 1, "reparam")
    # K-sample pathwise training is diagnosed as reparam_k; a run that logged no speed has no wall time.
    assert (k_at_10.algorithm, k_at_10.step, k_at_10.runs, k_at_10.estimator) == ("sac-reparam-k8", 10, 1, "reparam_k")
    assert k_at_10.stats["snr"] == 7.0 and math.isnan(k_at_10.seconds_per_1k)
    assert (score_at_10.algorithm, score_at_10.runs) == ("sac-score", 3)  # the late run has no eval at step 10
    assert score_at_10.ret is not None and score_at_10.ret[0] == pytest.approx(101.0)  # IQM of 100, 101, 102
    assert score_at_10.stats["snr"] == pytest.approx((1 + 2 + 3 + 5) / 4)  # but its diagnostic there counts
    assert score_at_10.seconds_per_1k == pytest.approx(20.0)  # median over runs of 1000 / 50 and 1000 / 25


def test_bootstrap_band_brackets_the_mean_and_ignores_stopped_runs() -> None:
    from sac.analysis.stats import bootstrap_band

    curves = np.array([[1.0, 2.0, np.nan], [3.0, 4.0, np.nan], [5.0, 6.0, 9.0]])
    low, high = bootstrap_band(curves)
    assert np.all(low[:2] <= [3.0, 4.0]) and np.all(high[:2] >= [3.0, 4.0])
    assert low[0] >= 1.0 and high[0] <= 5.0 and low[2] == high[2] == 9.0  # only the last run reached step 3


def test_early_snr_ranks_runs_by_their_early_snr_against_their_later_return() -> None:
    from sac.analysis.runs import Run
    from sac.analysis.stats import spearman
    from sac.analysis.tables import early_snr

    def records(snrs: list[float], returns: list[float]) -> list[dict]:
        rows = [
            {"step": s, "grad/score/snr": v, "grad/reparam/snr": 99.0} for s, v in zip((5, 10, 15), snrs, strict=False)
        ]
        return rows + [{"step": s, "eval/return_mean": r} for s, r in zip((10, 20), returns, strict=False)]

    def implicit(snr: float, ret: float) -> list[dict]:
        return [{"step": 10, "grad/reparam/snr": snr}, {"step": 20, "eval/return_mean": ret}]

    score, beta = Identity("sac", "tanh_gaussian", "score"), Identity("sac", "beta", "reparam")
    runs = [Run("a", score, "Hopper-v5", 0, records([1.0, 2.0, 50.0], [0.0, 300.0])),  # median up to 10: 1.5
            Run("b", score, "Hopper-v5", 1, records([3.0, 3.0, 0.0], [0.0, 100.0])),
            Run("c", beta, "Hopper-v5", 0, implicit(0.5, 200.0)), Run("d", beta, "Hopper-v5", 1, implicit(4.0, 400.0)),
            Run("short", score, "Hopper-v5", 2, records([9.0, 9.0, 9.0], [500.0])),  # never reached step 20
            Run("late", score, "Hopper-v5", 3, records([], [0.0, 900.0]))]  # fmt: skip  # no diagnostic by step 10
    (table,) = early_snr(runs, [10, 20])
    assert [(r.name, r.early_snr, r.later_return) for r in table.runs] == [
        ("c", 0.5, 200.0), ("d", 4.0, 400.0), ("a", 1.5, 300.0), ("b", 3.0, 100.0)]  # fmt: skip  # by algorithm, seed
    # Ranks of the SNRs (1, 4, 2, 3) and of the returns (2, 4, 3, 1): 1 - 6 * sum(d^2) / (n (n^2 - 1)), d = -1, 0, -1, 2
    assert table.rho[0] == pytest.approx(1 - 6 * 6 / (4 * 15))
    assert table.rho[1] <= table.rho[0] <= table.rho[2]
    # Untied, the 24 pairings give the rhos of the 24 permutations pi of the ranks, 1 - 6 sum (i - pi(i))^2 / 60:
    # |rho| >= 0.4 for 18 of them (sum of squares <= 6 or >= 14).
    sums = [sum((i - p) ** 2 for i, p in enumerate(pi)) for pi in itertools.permutations(range(4))]
    assert sum(abs(1 - d / 10) >= 0.4 - 1e-12 for d in sums) == 18 and table.p == pytest.approx(18 / 24)
    assert early_snr(runs, [20]) == [] and early_snr(runs[:2], [10, 20]) == []  # one stage; fewer than 3 runs
    assert spearman(np.array([1.0, 2.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(0.9486832980505138)


def test_final_return_tables_leave_out_runs_still_training() -> None:
    from sac.analysis.runs import Run
    from sac.analysis.tables import tabulate

    score = Identity("sac", "tanh_gaussian", "score")
    evals = [[{"step": 10, "eval/return_mean": 50.0}, {"step": 20, "eval/return_mean": 100.0 + k}] for k in range(2)]
    runs = [Run(f"s{k}", score, "Hopper-v5", k, records) for k, records in enumerate(evals)]
    runs.append(Run("training", score, "Hopper-v5", 2, [{"step": 10, "eval/return_mean": -500.0}], finished=False))
    tables = tabulate(runs, [10, 20])
    (row,) = tables.aggregates
    assert row.runs == 2 and row.final[0] == pytest.approx(100.5)  # not dragged down by where the third run stands
    (estimator,) = tables.estimators
    assert estimator.trained_runs == 2
    assert tables.stages[0].runs == 3 and tables.stages[1].runs == 2  # the stage table: every run up to its steps
