"""The session-wide fixture every test runs under: offline, quiet W&B in a temp dir. Helpers live in helpers.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


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
