"""SIGINT and SIGTERM turned into a stop request that a training loop answers at its next step (it saves a
checkpoint and leaves), instead of ending the process mid-write."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any


def catch_stop_signals(record: Callable[[int], None]) -> dict[int, Any]:
    """SIGINT / SIGTERM call `record` instead of ending the process; returns the handlers to restore.
    Signals can only be caught on the main thread: elsewhere (a launcher's worker thread) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, _: FrameType | None) -> None:
        record(signum)

    return {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}


class StopRequests:
    """Inside `with`, SIGINT and SIGTERM append to `requests` (a list the seeds of one batch may share); the
    previous handlers come back on leaving."""

    def __init__(self, requests: list[int] | None = None) -> None:
        self.requests: list[int] = [] if requests is None else requests
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return bool(self.requests)

    def __enter__(self) -> StopRequests:
        self._previous = catch_stop_signals(self.requests.append)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
