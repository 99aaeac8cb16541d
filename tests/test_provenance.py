"""The dependency lock (requirements/lock.txt) and what a run records of its environment (sac/run/provenance.py)."""

import re
from importlib.metadata import requires
from pathlib import Path

import tomllib
from packaging.requirements import Requirement

from sac.run import provenance
from sac.run.provenance import installed, lock_differences, normalize, read_lock

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"


def test_every_locked_package_is_installed_at_its_locked_version() -> None:
    # The set-up installs exactly the lock: a package at another version means the tests run on something else.
    assert lock_differences(read_lock(LOCK), installed()) == []


def test_the_lock_holds_every_package_the_dev_install_needs() -> None:
    # pyproject.toml's dependencies and dev extra, and theirs: one added without refreshing the lock fails here.
    pins, have = read_lock(LOCK), installed()
    needed: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    while todo:
        req = todo.pop()
        name = normalize(req.name)
        if (name, frozenset(req.extras)) in seen or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add((name, frozenset(req.extras)))
        needed.add(name)
        assert name in pins, f"{name} is needed by the dev install but not locked"
        assert have[name] in req.specifier or req.specifier.contains(have[name], prereleases=True), req
        for extra in req.extras or {""}:
            for child in requires(req.name) or []:
                r = Requirement(child)
                if r.marker is None or r.marker.evaluate({"extra": extra}):
                    todo.append(Requirement(str(r).split(";")[0]))
    assert {"torch", "gymnasium", "mujoco", "hydra-core", "wandb", "pytest", "ruff", "mypy", "uv"} <= needed


def test_the_lock_pins_each_package_to_one_version_with_its_hashes() -> None:
    text = LOCK.read_text()
    entries = re.split(r"\n(?=[a-z0-9])", text.split("\n", 2)[2].strip())
    assert len(entries) == len(read_lock(LOCK)) > 50
    for entry in entries:
        assert re.match(r"^[a-z0-9][a-z0-9._-]*==\S+", entry), entry
        assert "--hash=sha256:" in entry, entry.splitlines()[0]
    assert read_lock(LOCK)["torch"].endswith("+cpu")  # torch's CPU build, not the multi-GB CUDA one


def test_lock_differences_names_a_missing_and_a_changed_package(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "# a header\nPyYAML==6.0.4 \\\n    --hash=sha256:ab\ntorch==2.13.0+cpu ; python_version >= '3.11' \\\n"
        "    --hash=sha256:cd\n    # via sac-reparam\ntyping_extensions==4.16.0\n"
    )
    pins = read_lock(lock)
    assert pins == {"pyyaml": "6.0.4", "torch": "2.13.0+cpu", "typing-extensions": "4.16.0"}
    have = {"pyyaml": "6.0.4", "torch": "2.14.0", "numpy": "2.0"}
    assert lock_differences(pins, have) == [
        "torch: locked 2.13.0+cpu, installed 2.14.0",
        "typing-extensions: locked 4.16.0, installed none",
    ]


def test_a_run_records_the_lock_it_ran_with() -> None:
    import hashlib

    record = provenance.record()
    assert record["lock_sha256"] == hashlib.sha256(LOCK.read_bytes()).hexdigest()
    assert record["lock_differences"] == []
    assert set(record["cpu"]) == {"model", "flags"} and set(record["cpu"]["flags"]) <= set(provenance.CPU_FLAGS)
