"""The session-wide fixtures every test runs under: offline, quiet W&B in a temp dir, and the learning checks' runs
started in the background when any is selected. Helpers live in helpers.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from learning_checks import CheckRuns

LEARNING_TESTS = "test_learning.py"


@pytest.fixture(autouse=True, scope="session")
def quiet_offline_wandb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test may touch the network or the user's W&B settings (session-wide, before any fixture trains)."""
    wandb_dir = tmp_path_factory.mktemp("wandb")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR"):
            mp.setenv(var, str(wandb_dir))
        mp.setenv("WANDB_SILENT", "true")
        mp.setenv("WANDB_CONSOLE", "off")
        mp.delenv("WANDB_API_KEY", raising=False)
        mp.delenv("WANDB_BASE_URL", raising=False)
        mp.setenv("NETRC", str(wandb_dir / "no-netrc"))
        yield


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread() -> Iterator[None]:
    """Every test's torch runs one thread, in this process and (OMP_NUM_THREADS, which `threads=0` follows) in the
    runs it starts. The suite's networks are too small for a second thread to pay, and a second OpenMP thread spins
    between ops: on 2 cores it took CPU from the learning checks' runs (tests/test_resume.py's three slow cases: 84 s
    of CPU with two threads, 55 s with one, in the same wall time)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")
        yield
    torch.set_num_threads(threads)


@pytest.hookimpl(trylast=True)  # after `-m` and `-k` have deselected
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The learning checks run last (a stable sort): their training runs start when the session does."""
    items.sort(key=lambda item: item.path.name == LEARNING_TESTS)


@pytest.fixture(autouse=True, scope="session")
def learning_pool(quiet_offline_wandb: None, request: pytest.FixtureRequest) -> Iterator[CheckRuns | None]:
    """The selected learning checks' runs (tests/test_learning.py), started before the first test at nice 19.

    The rest of the suite runs one test at a time and mostly keeps one core busy; the checks' runs, one torch thread
    each, take the other, and yield any core a test needs. On 2 cores this takes the whole suite from the sum of
    its parts towards their larger one. None when no learning check is selected (the fast suite)."""
    names = [item.callspec.params["name"] for item in request.session.items if item.path.name == LEARNING_TESTS]
    if not names:
        yield None
        return
    runs = CheckRuns(names, nice=19)
    try:
        yield runs
    finally:
        runs.close()
