"""Grading many submissions: worker processes, one submission at a time each.

A small supervisor instead of ``ProcessPoolExecutor``: the pool cannot stop one
task that runs too long, and one worker that dies breaks the whole pool.  Here
every worker has its own pipe; the parent hands it one path, waits for the
answer, its death (the process sentinel) or the per-submission deadline.  A
worker that dies or runs out of time is killed and replaced, its submission is
reported as ``failed`` with the reason, and the rest of the batch goes on.

Workers share the step cache through an SQLite file (cache.py), so a step that
many students write identically is checked once for the whole batch.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import Callable

from .cache import StepCache
from .grader import GradeOptions, Grader
from .results import SubmissionResult, failed

GradeFn = Callable[[str, "BatchConfig", StepCache], dict]


@dataclass
class BatchConfig:
    options: GradeOptions
    assignment: object = None
    cache_path: str | None = None      # SQLite file shared by the workers; None: in-memory per worker
    use_cache: bool = True
    timeout: float = 300.0             # per submission, seconds
    memory_mb: int = 4096              # address-space limit per worker (0: none); a runaway step gets MemoryError


_GRADER: Grader | None = None


def grade_one(path: str, config: BatchConfig, cache: StepCache) -> dict:
    """The default unit of work, run inside a worker: grade one file, return plain data."""
    global _GRADER
    if _GRADER is None or _GRADER.cache is not cache:
        _GRADER = Grader(config.options, cache, config.assignment)
    return _GRADER.grade_path(path).to_dict()


def _make_cache(config: BatchConfig) -> StepCache:
    if not config.use_cache:
        return _NoCache()
    return StepCache(config.cache_path)


class _NoCache(StepCache):
    def get(self, key):
        self.misses += 1
        return None

    def put(self, key, verdict):
        pass


def _limit_memory(mb: int) -> None:
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


def _worker_main(conn, grade_fn: GradeFn, config: BatchConfig):
    # the parent handles Ctrl-C; a worker just stops when its pipe closes
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _limit_memory(config.memory_mb)
    cache = _make_cache(config)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            break
        if task is None:
            break
        idx, path = task
        try:
            result = grade_fn(path, config, cache)
            conn.send(("ok", idx, result))
        except BaseException as exc:  # report, then keep serving
            tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
            try:
                conn.send(("error", idx, f"grading crashed: {tb}"))
            except Exception:
                break
    cache.close()


class _Worker:
    def __init__(self, ctx, grade_fn, config):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, grade_fn, config), daemon=True)
        self.proc.start()
        child.close()
        self.task: int | None = None
        self.started = 0.0

    def assign(self, idx: int, path: str):
        self.conn.send((idx, path))
        self.task = idx
        self.started = time.monotonic()

    def kill(self):
        try:
            self.proc.kill()
        except Exception:
            pass
        self.proc.join(timeout=5)
        self.conn.close()

    def stop(self):
        try:
            self.conn.send(None)
        except Exception:
            pass
        self.proc.join(timeout=2)
        if self.proc.is_alive():
            self.kill()
        else:
            self.conn.close()


def _death_reason(proc) -> str:
    code = proc.exitcode
    if code is None:
        return "the worker process stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process was killed ({name})" + (" -- out of memory?" if name == "SIGKILL" else "")
    return f"the worker process exited with code {code}"


def grade_batch(paths: list[str], config: BatchConfig, *, jobs: int = 1, grade_fn: GradeFn | None = None,
                on_result: Callable[[int, SubmissionResult], None] | None = None) -> list[SubmissionResult]:
    """Grade ``paths`` with ``jobs`` worker processes (0: in this process, no isolation).

    Results come back in the order of ``paths``; ``on_result(i, result)`` is called
    as each one finishes (for a progress bar).
    """
    grade_fn = grade_fn or grade_one
    paths = [str(p) for p in paths]
    points = getattr(config.assignment, "points", None) or 10.0
    results: list[SubmissionResult | None] = [None] * len(paths)

    def done(i, res: SubmissionResult):
        results[i] = res
        if on_result is not None:
            on_result(i, res)

    if jobs <= 0:
        cache = _make_cache(config)
        for i, p in enumerate(paths):
            start = time.perf_counter()
            try:
                res = SubmissionResult.from_dict(grade_fn(p, config, cache))
            except Exception as exc:
                res = failed(p, f"grading crashed: {type(exc).__name__}: {exc}", max_score=points,
                             seconds=time.perf_counter() - start)
            done(i, res)
        cache.close()
        return results  # type: ignore[return-value]

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context("spawn")
    if ctx.get_start_method() == "fork" and grade_fn is grade_one:
        _warm_up()
    jobs = max(1, min(jobs, len(paths) or 1))
    pending = list(range(len(paths)))[::-1]
    workers = [_Worker(ctx, grade_fn, config) for _ in range(jobs)]
    try:
        for w in workers:
            if pending:
                w.assign(pending[-1], paths[pending.pop()])
        while any(w.task is not None for w in workers):
            busy = [w for w in workers if w.task is not None]
            now = time.monotonic()
            next_deadline = min(w.started + config.timeout for w in busy)
            ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy],
                         timeout=max(0.0, next_deadline - now))
            for k, w in enumerate(workers):
                if w.task is None:
                    continue
                idx = w.task
                elapsed = time.monotonic() - w.started
                outcome = None
                if w.conn in ready or w.conn.poll():
                    try:
                        kind, ridx, payload = w.conn.recv()
                        if kind == "ok":
                            outcome = SubmissionResult.from_dict(payload)
                        else:
                            outcome = failed(paths[idx], payload, max_score=points, seconds=elapsed)
                    except (EOFError, OSError):
                        w.proc.join(timeout=2)
                        outcome = failed(paths[idx], _death_reason(w.proc), max_score=points, seconds=elapsed)
                        w.kill()
                        workers[k] = w = _Worker(ctx, grade_fn, config)
                elif not w.proc.is_alive():
                    outcome = failed(paths[idx], _death_reason(w.proc), max_score=points, seconds=elapsed)
                    w.kill()
                    workers[k] = w = _Worker(ctx, grade_fn, config)
                elif elapsed > config.timeout:
                    w.kill()
                    outcome = failed(paths[idx], f"timed out after {config.timeout:g} s", max_score=points,
                                     seconds=elapsed)
                    workers[k] = w = _Worker(ctx, grade_fn, config)
                if outcome is None:
                    continue
                w.task = None
                outcome.path = paths[idx]
                done(idx, outcome)
                if pending:
                    w.assign(pending[-1], paths[pending.pop()])
    finally:
        for w in workers:
            if w.task is not None:
                w.kill()
            else:
                w.stop()
    return results  # type: ignore[return-value]


def _warm_up() -> None:
    """Import the reader and checker (and build their parsers) once, before forking workers."""
    import importlib

    for name in ("elbo_proofs.checking", "elbo_proofs.numeric", "elbo_proofs.parsing.submission"):
        try:
            importlib.import_module(name)
        except Exception:
            pass
    try:
        from ..parsing import warm_up

        warm_up()
    except Exception:
        pass


def collect_paths(inputs: list[str], suffixes=(".md", ".tex", ".txt"),
                  problems: list | None = None) -> tuple[list[str], bool]:
    """Expand folders into their submissions (sorted); (paths, any input was a folder).

    In a folder, README files and hidden files are skipped; a file named
    explicitly is always graded.  Anything else with a submission's suffix is
    listed, even a FIFO or an unreadable file, so that reading it reports it.
    A subfolder that cannot be listed is appended to ``problems`` as
    ``(path, reason)`` (or, without ``problems``, raises), never skipped in silence.

    Raises InputError for a path that does not exist or cannot be read.
    """
    from ..errors import InputError

    out: list[str] = []
    folder = False
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            folder = True
            if not os.access(p, os.R_OK | os.X_OK):
                raise InputError("cannot list folder: permission denied", file=p)
            found = []
            unlisted = []

            def onerror(exc, unlisted=unlisted):
                unlisted.append((exc.filename or str(p), f"cannot list folder: {exc.strerror or exc}"))

            for root, dirs, files in os.walk(p, onerror=onerror, followlinks=False):
                rel = Path(root).relative_to(p)
                if any(part.startswith(".") for part in rel.parts):
                    dirs[:] = []
                    continue
                dirs.sort()
                for name in files:
                    q = Path(root) / name
                    if (q.suffix.lower() in suffixes and not q.stem.upper().startswith("README")
                            and not name.startswith(".")):
                        found.append(q)
            for where, reason in unlisted:
                if problems is None:
                    raise InputError(reason, file=where)
                problems.append((str(where), reason))
            out.extend(str(q) for q in sorted(found))
        elif p.is_file():
            if not os.access(p, os.R_OK):
                raise InputError("cannot read file: permission denied", file=p)
            out.append(str(p))
        elif p.exists():
            raise InputError("not a regular file or folder", file=p)
        else:
            raise InputError("no such file or folder", file=p)
    return out, folder
