"""Grading many submissions: worker processes, one submission at a time each.

The workers are run by ``supervisor.Supervisor``: a worker that dies or runs
past the per-submission timeout is stopped and replaced, its submission is
reported as ``failed`` with the reason, and the rest of the batch goes on; a
step, a hint search or a line being read that runs past its own limit costs
that step or line only (the submission is graded again in a fresh worker,
past it).

Workers share the step cache through an SQLite file (cache.py), so a step that
many students write identically is checked once for the whole batch.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
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


_WORKER: dict = {}


def _init_batch_worker(grade_fn: GradeFn, config: BatchConfig) -> None:
    _WORKER.update(grade_fn=grade_fn, config=config, cache=None)


def _grade_job(path: str) -> dict:
    """One submission in a supervised worker (see supervisor.py)."""
    if _WORKER.get("cache") is None:
        _WORKER["cache"] = _make_cache(_WORKER["config"])
    return _WORKER["grade_fn"](path, _WORKER["config"], _WORKER["cache"])


def grade_batch(paths: list[str], config: BatchConfig, *, jobs: int = 1, grade_fn: GradeFn | None = None,
                on_result: Callable[[int, SubmissionResult], None] | None = None) -> list[SubmissionResult]:
    """Grade ``paths`` with ``jobs`` worker processes (0: in this process, no isolation, no limits).

    Results come back in the order of ``paths``; ``on_result(i, result)`` is called
    as each one finishes (for a progress bar).  A worker that dies, raises, or
    passes ``config.timeout`` costs its submission only (reported ``failed``);
    a step or line past its own time limit costs that step only.
    """
    from ..supervisor import Job, Supervisor

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

    if grade_fn is grade_one:
        _warm_up()

    def on_outcome(i, outcome):
        if outcome.ok:
            res = SubmissionResult.from_dict(outcome.value)
            res.seconds = outcome.seconds   # every attempt, not only the last
            if outcome.overruns:
                n = len(outcome.overruns)
                res.notes.append(f"{n} piece{'s' if n > 1 else ''} of work (a step's proof or numeric check, "
                                 f"a hint search, an expression being read) ran past {'their' if n > 1 else 'its'} "
                                 "time limit and {} reported as such".format("were" if n > 1 else "was"))
        elif outcome.kind == "error":
            res = failed(paths[i], f"grading crashed: {outcome.value}", max_score=points, seconds=outcome.seconds)
        else:
            res = failed(paths[i], outcome.value, max_score=points, seconds=outcome.seconds)
        res.path = paths[i]
        done(i, res)

    workers = max(1, min(jobs, len(paths) or 1))
    with Supervisor(workers, memory_mb=config.memory_mb, initializer=_init_batch_worker,
                    initargs=(grade_fn, config)) as supervisor:
        supervisor.run([Job(_grade_job, (p,), timeout=config.timeout) for p in paths], on_outcome)
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
