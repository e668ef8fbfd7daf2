"""Jobs in worker processes that can be stopped: time limits held from outside.

``Supervisor`` runs jobs (a module-level function and its arguments) in a
pebble process pool.  Each worker gets a memory limit, dies with this process
(``PR_SET_PDEATHSIG``: killing the parent of ``grade --jobs 2`` leaves no
worker holding the cache or the output pipe), and publishes the deadline of
the phase it is in (``limits.phase``) in shared memory.  The supervisor polls
those deadlines: a worker past one is stopped, and its job runs again in a
fresh worker that is told which phase ran out of time, so that the phase is
reported as over its limit and the rest of the job is done.  A job that dies,
raises or passes its own overall timeout becomes an ``Outcome`` saying so.

Nothing is ever raised inside the work by a signal: a phase's work either ends
or its process is stopped.
"""
from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, CancelledError
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait
from dataclasses import dataclass, field
from typing import Any, Callable

from . import limits

POLL_SECONDS = 0.05
GRACE_SECONDS = 0.25     # past a phase's deadline before its worker is stopped
MAX_OVERRUNS = 25        # phases out of time in one job before the job is given up


@dataclass
class Job:
    fn: Callable          # module-level, so that it can be named to a worker
    args: tuple = ()
    timeout: float | None = None    # the whole job, over all its attempts


@dataclass
class Outcome:
    kind: str             # "ok", "error" (raised), "timeout", "died"
    value: Any = None     # the function's result for "ok"; a one-line reason otherwise
    seconds: float = 0.0
    overruns: list = field(default_factory=list)   # seconds of each phase stopped at its limit
    exitcode: int | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


# -- the worker side ---------------------------------------------------------------------

def _die_with_parent(parent_pid: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl
        os._exit(1)


def limit_memory(mb: int) -> None:
    """Cap this process's address space at ``mb`` MB (0: no cap): a runaway gets MemoryError."""
    if not mb:
        return
    try:
        import resource

        limit = int(mb) * 1024 * 1024
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass


def _init_worker(slots, memory_mb, parent_pid, initializer, initargs):
    # never raises: a failing initializer would make the pool restart workers forever
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
        _die_with_parent(parent_pid)
        limit_memory(memory_mb)
        limits._slots = slots
        if initializer is not None:
            initializer(*initargs)
    except Exception:
        pass


def _run_job(slot, token, poisoned, fn, args):
    limits._slot = slot
    limits._token = token
    limits._poisoned = dict(poisoned)
    limits._stack.clear()
    try:
        return "ok", fn(*args)
    except limits.LimitExceeded as exc:
        return "error", f"the work {exc}"
    except BaseException as exc:  # reported, never a traceback
        text = " ".join(str(exc).split())
        return "error", f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    finally:
        limits._slot = None


# -- the supervising side ------------------------------------------------------------------

@dataclass
class _Attempt:
    index: int
    slot: int
    token: int
    stopped: bool = False


class Supervisor:
    """``workers`` processes; ``initializer(*initargs)`` runs in each (after fork: no pickling)."""

    def __init__(self, workers: int = 1, *, memory_mb: int = 0, initializer: Callable | None = None,
                 initargs: tuple = (), grace: float = GRACE_SECONDS, max_overruns: int = MAX_OVERRUNS):
        import pebble

        self.workers = max(1, int(workers))
        self.grace = grace
        self.max_overruns = max_overruns
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context("spawn")
        self.slots = ctx.RawArray(ctypes.c_double, 2 * self.workers * limits.SLOT_WIDTH)
        self.pool = pebble.ProcessPool(max_workers=self.workers, initializer=_init_worker,
                                       initargs=(self.slots, memory_mb, os.getpid(), initializer, initargs),
                                       context=ctx)
        self._token = 0

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *rest):
        self.close(force=exc_type is not None)

    def close(self, force: bool = False) -> None:
        if force:
            self.pool.stop()
        else:
            self.pool.close()
        self.pool.join()

    def run(self, jobs: list[Job], on_outcome: Callable[[int, Outcome], None] | None = None) -> list[Outcome]:
        """Run every job; outcomes in the order of ``jobs``, ``on_outcome(i, o)`` as each ends."""
        outcomes: list[Outcome | None] = [None] * len(jobs)
        poisoned: list[dict] = [{} for _ in jobs]
        overruns: list[list] = [[] for _ in jobs]
        first: list[float | None] = [None] * len(jobs)
        pending = deque(range(len(jobs)))
        free = list(range(2 * self.workers))
        running: dict = {}

        def finish(i, outcome: Outcome):
            outcome.seconds = time.monotonic() - (first[i] or time.monotonic())
            outcome.overruns = overruns[i]
            outcomes[i] = outcome
            if on_outcome is not None:
                on_outcome(i, outcome)

        while pending or running:
            while pending and len(running) < self.workers:
                i = pending.popleft()
                job = jobs[i]
                now = time.monotonic()
                first[i] = first[i] or now
                remaining = None if job.timeout is None else job.timeout - (now - first[i])
                if remaining is not None and remaining <= 0:
                    finish(i, Outcome("timeout", f"timed out after {job.timeout:g} s"))
                    continue
                slot = free.pop()
                limits.clear_slot(self.slots, slot)
                self._token += 1
                future = self.pool.schedule(_run_job, args=(slot, self._token, poisoned[i], job.fn, job.args),
                                            timeout=remaining)
                running[future] = _Attempt(i, slot, self._token)
            done, _ = wait(list(running), timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                attempt = running.pop(future)
                free.append(attempt.slot)
                i = attempt.index
                if attempt.stopped:
                    if len(overruns[i]) > self.max_overruns:
                        finish(i, Outcome("error", f"more than {self.max_overruns} phases ran out of time"))
                    else:
                        pending.appendleft(i)   # again, past the phase that ran out of time
                    continue
                finish(i, self._outcome(future, jobs[i]))
            now = time.monotonic()
            for future, attempt in running.items():
                if attempt.stopped or future.done():
                    continue
                token, deadline, key, seconds = limits.read_slot(self.slots, attempt.slot)
                if token == attempt.token and deadline and now > deadline + self.grace \
                        and future.cancel():     # pebble stops the worker running it
                    poisoned[attempt.index][key] = seconds
                    overruns[attempt.index].append(seconds)
                    attempt.stopped = True
        return outcomes  # type: ignore[return-value]

    @staticmethod
    def _outcome(future, job: Job) -> Outcome:
        from pebble import ProcessExpired

        try:
            kind, value = future.result()
        except FutureTimeout:
            return Outcome("timeout", f"timed out after {job.timeout:g} s")
        except ProcessExpired as exc:
            return Outcome("died", death_reason(exc.exitcode), exitcode=exc.exitcode)
        except CancelledError:
            return Outcome("error", "cancelled")
        except Exception as exc:  # the result could not travel back, and the like
            return Outcome("error", f"{type(exc).__name__}: {' '.join(str(exc).split())}")
        return Outcome(kind, value)


def death_reason(code: int | None) -> str:
    if code is None:
        return "the worker process stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process was killed ({name})" + (" -- out of memory?" if name == "SIGKILL" else "")
    return f"the worker process exited with code {code}"
