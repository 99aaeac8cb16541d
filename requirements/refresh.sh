#!/usr/bin/env bash
# Re-resolve requirements/lock.txt: every package that `pip install -e ".[dev]"` installs, at exact versions, with
# the sha256 of each file, for CPython 3.11 on Linux x86-64 with torch's CPU build. docs/dependencies.md says why
# that platform, and what a refreshed lock must pass before it is committed.
#
#     bash requirements/refresh.sh [TORCH_WHEELS]
#
# TORCH_WHEELS: a folder, or an index page, that lists torch's CPU wheels (torch-X+cpu-cp311-...whl): PyTorch's
# CPU wheel index, or a local folder holding them (default /opt/wheels, where this project's machines keep one).
# The resolver is uv, pinned in the dev extra, so a refresh made here resolves as one made anywhere else.
set -euo pipefail
cd "$(dirname "$0")/.."
uv pip compile pyproject.toml --extra dev --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  --generate-hashes --find-links "${1:-/opt/wheels}" \
  --custom-compile-command "bash requirements/refresh.sh" -o requirements/lock.txt
