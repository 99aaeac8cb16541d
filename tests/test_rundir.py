"""sac/run/rundir.py as a unit: identities and their labels, reading records a crash cut short, a run's status."""

import json
from pathlib import Path

import pytest

from sac.config import UserError
from sac.run.rundir import (
    IDENTITIES,
    LEGACY_LABELS,
    Identity,
    RunDir,
    Status,
    identity_of_label,
    read_records,
    run_label,
)


def test_every_identity_has_its_own_label_and_reads_back_from_its_fields_and_from_its_label() -> None:
    labels = [i.label for i in IDENTITIES]
    assert len(set(labels)) == len(labels)
    assert {"sac-reparam", "sac-beta-score", "sac-discrete-straight_through", "reinforce"} <= set(labels)
    for identity in IDENTITIES:
        assert Identity.read(identity.fields()) == identity
        assert Identity.read({"algorithm": identity.label}) == identity  # a run.json written before the fields
    assert LEGACY_LABELS["sac"] == Identity("sac", "tanh_gaussian", "reparam")  # before the estimator was named
    with pytest.raises(UserError, match="unknown algorithm 'ppo'"):
        Identity.read({"algorithm": "ppo"})


def test_run_labels_name_k_sample_and_vae_training_apart_and_read_back_to_their_identity() -> None:
    reparam, beta = Identity("sac", "tanh_gaussian", "reparam"), Identity("sac", "beta", "reparam")
    score, reinforce = Identity("sac", "tanh_gaussian", "score"), Identity("reinforce", "gaussian", "score")
    vae, k8 = {"encoder": {"name": "vae"}}, {"agent": {"reparam_samples": 8}}
    assert run_label(reparam, {}) == "sac-reparam"
    assert run_label(reparam, {"agent": {"reparam_samples": 1}, "encoder": {"name": "none"}}) == "sac-reparam"
    assert run_label(reparam, k8) == "sac-reparam-k8"
    assert run_label(reparam, k8 | vae) == "sac-reparam-k8-vae"
    assert run_label(beta, vae) == "sac-beta-reparam-vae"
    assert run_label(score, k8) == "sac-score"  # K samples there are the score estimator's own, not pathwise
    assert run_label(reinforce, vae) == "reinforce"
    bf16 = {"precision": "bf16"}
    assert run_label(reparam, bf16) == "sac-reparam-bf16" and run_label(reparam, {"precision": "auto"}) == "sac-reparam"
    assert run_label(reparam, k8 | vae | bf16) == "sac-reparam-k8-vae-bf16"
    # The VAE options an ablation varies name its runs apart from the defaults' (written out or not)
    kl = {"encoder": {"name": "vae", "kl_weight": 0.1, "latent": "mean", "latent_dim": 32}}
    small = {"encoder": {"name": "vae", "kl_weight": 1e-5, "latent": "sample", "latent_dim": 8}}
    assert run_label(reparam, {"encoder": {"name": "vae", "kl_weight": 1.0, "latent": "mean"}}) == "sac-reparam-vae"
    assert run_label(reparam, kl) == "sac-reparam-vae-kl0.1"
    assert run_label(reparam, small | bf16) == "sac-reparam-vae-kl1e-05-sample-z8-bf16"
    for identity in IDENTITIES:  # a W&B run's job type is its run_label: it reads back to the identity
        for config in ({}, vae, k8, k8 | vae, bf16, k8 | vae | bf16, kl, small | bf16, k8 | small):
            assert identity_of_label(run_label(identity, config)) == identity


def test_records_skip_a_last_line_cut_short_and_lines_without_a_step(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "a": 1.0}\n{"time": 3}\n{"step": 2, "a": 2.0}\n{"step": 3, "a"')
    assert read_records(path) == [{"step": 1, "a": 1.0}, {"step": 2, "a": 2.0}]


def test_status_follows_the_checkpoint_and_the_finished_flag(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    assert run.status() == Status.new
    (run.checkpoints / "step_000000010").mkdir(parents=True)
    run.latest.symlink_to("step_000000010")
    assert run.status() == Status.unfinished
    run.write_info(finished=True, pid=1)
    assert run.status() == Status.finished
    assert json.loads(run.info_path.read_text()) == {"finished": True, "pid": 1}
    run.write_info(pid=2)  # an update keeps the other fields
    assert run.read_info() == {"finished": True, "pid": 2}


def test_runs_below_a_sweep_are_found_in_path_order(tmp_path: Path) -> None:
    for name in ("b", "a/x", "c"):
        (tmp_path / name).mkdir(parents=True)
        (tmp_path / name / "metrics.jsonl").write_text("")
    assert [r.path.relative_to(tmp_path).as_posix() for r in RunDir.below(tmp_path)] == ["a/x", "b", "c"]
