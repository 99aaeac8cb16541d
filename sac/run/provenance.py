"""What a run ran with: the dependency lock (requirements/lock.txt) and whether the installed packages match it,
the CPU, Python and torch. Each start or resume of a run appends one such record to its run.json
(`RunDir.add_segment`), so a committed result names the lock it ran with.
"""

from __future__ import annotations

import hashlib
import platform
import re
import sys
from importlib.metadata import distributions
from pathlib import Path
from typing import Any

import torch

LOCK = Path(__file__).resolve().parents[2] / "requirements" / "lock.txt"
"""The lock of a source checkout; an installed wheel of this package has none."""

# The CPU features that decide the speed of this package's kernels (fp32 AVX2 or AVX-512, bf16 units).
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def normalize(name: str) -> str:
    """A distribution name in PEP 503's normal form, e.g. `typing_extensions` -> `typing-extensions`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path = LOCK) -> dict[str, str]:
    """The `name==version` pins of a pip requirements lock -> {normalized name: version}."""
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", path.read_text(), flags=re.MULTILINE)
    return {normalize(name): version for name, version in pins}


def installed() -> dict[str, str]:
    """Every distribution this interpreter can import -> its version, by normalized name."""
    return {normalize(d.metadata["Name"]): d.version for d in distributions()}


def lock_differences(pins: dict[str, str], have: dict[str, str]) -> list[str]:
    """Each locked package that is missing or at another version, as `name: locked X, installed Y`."""
    return [
        f"{name}: locked {version}, installed {have.get(name, 'none')}"
        for name, version in sorted(pins.items())
        if have.get(name) != version
    ]


def cpu() -> dict[str, Any]:
    """The CPU's model name and which of CPU_FLAGS it has (Linux's /proc/cpuinfo; elsewhere the platform's name)."""
    cpuinfo = Path("/proc/cpuinfo")
    text = cpuinfo.read_text() if cpuinfo.exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", text, flags=re.MULTILINE)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, flags=re.MULTILINE)
    have = set(flags.group(1).split()) if flags else set()
    name = model.group(1).strip() if model else platform.processor()
    return {"model": name, "flags": [f for f in CPU_FLAGS if f in have]}


def record() -> dict[str, Any]:
    """This process's provenance: the lock's sha256 and whether the installed packages match it, CPU, versions."""
    lock: dict[str, Any] = {"lock_sha256": None, "lock_differences": None}
    if LOCK.is_file():
        lock["lock_sha256"] = hashlib.sha256(LOCK.read_bytes()).hexdigest()
        lock["lock_differences"] = lock_differences(read_lock(), installed())
    return {
        **lock,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cpu": cpu(),
    }


def main() -> None:
    """`python -m sac.run.provenance [--check]`: print this environment's record as JSON; with --check, exit 1
    unless the installed packages are exactly the lock's (none missing, none at another version, none more)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 unless the installed packages equal the lock")
    args = parser.parse_args()
    print(json.dumps(record(), indent=1))
    if args.check:
        pins, have = read_lock(), installed()
        # This package itself and the installer are not locked: pip comes with the virtual environment.
        extra = sorted(set(have) - set(pins) - {"sac-reparam", "pip"})
        problems = lock_differences(pins, have) + [f"{name}: not locked, installed {have[name]}" for name in extra]
        for problem in problems:
            print(problem, file=sys.stderr)
        sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
