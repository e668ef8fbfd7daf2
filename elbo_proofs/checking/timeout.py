"""Per-step time limits.  SymPy is pure Python, so an interval timer can stop it.

Signals only work in the main thread; elsewhere the limit is not enforced (the
grader runs its work in worker processes, whose main thread is the worker).
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class StepTimeout(BaseException):
    """A BaseException, so that no `except Exception` inside SymPy swallows it."""


@contextmanager
def time_limit(seconds: float | None):
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def _raise(signum, frame):
        raise StepTimeout(f"exceeded the time limit of {seconds:g} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
