"""sac/run/signals.py: SIGINT and SIGTERM become stop requests inside `with`, and nothing else changes outside."""

import os
import signal

from sac.run.signals import StopRequests


def test_sigterm_and_sigint_are_requests_inside_and_the_old_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    shared: list[int] = []
    with StopRequests(shared) as stop, StopRequests(shared) as other:  # the seeds of a batch share one list
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGTERM)  # would end this process without the handler
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested and other.requested
        assert shared == [signal.SIGTERM, signal.SIGINT]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
