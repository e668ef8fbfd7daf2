"""The `grade` subcommand: `elbo-proofs grade PATH... [options]`.

Exit codes: 0 every submission graded and no invalid step; 1 some submission has
an invalid step (or could not be graded: worker crash, timeout); 2 bad input
(a path that does not exist or cannot be read, a bad assignment file) -- one
line naming the file and the problem, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

from ..argtypes import nonnegative_int, positive_int, positive_seconds

EXIT_OK, EXIT_INVALID, EXIT_BAD_INPUT = 0, 1, 2
FORMATS = ("text", "json", "gradescope")


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="submission files (.md, .tex, .txt) or folders of them")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text (a table per submission), json, or gradescope (results.json for one student: "
                        "every file given is part of that student's submission)")
    p.add_argument("--assignment", metavar="FILE", help="YAML assignment file: points, goal, declarations")
    p.add_argument("--jobs", type=nonnegative_int, default=1, metavar="N",
                   help="worker processes (default 1; 0 grades in this process, without isolation)")
    p.add_argument("--time-limit", type=positive_seconds, default=5.0, metavar="SECONDS",
                   help="symbolic work per step, seconds (default 5)")
    p.add_argument("--timeout", type=positive_seconds, default=300.0, metavar="SECONDS",
                   help="per submission; past it the submission is reported as failed (default 300)")
    p.add_argument("--memory-limit", type=nonnegative_int, default=4096, metavar="MB",
                   help="address space per worker process, MB (default 4096; 0: no limit)")
    p.add_argument("--examples", type=positive_int, default=50, metavar="N",
                   help="numeric examples per step (default 50)")
    p.add_argument("--output", metavar="FILE", help="write the report to FILE instead of standard output")
    p.add_argument("--no-cache", action="store_true", help="check every step, even ones already checked")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="keep the step cache in DIR across runs (default: a temporary one per run)")
    p.add_argument("--no-hints", action="store_true", help="skip the nearest-correct-form diagnoses")
    p.add_argument("--no-numeric", action="store_true", help="skip the numeric cross-check")
    return p


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "grade", help="grade student derivations (Markdown/LaTeX) line by line",
        description="Grade student derivations: every relation is a claim; report the first wrong step, "
                    "what is back on track, and a score.")
    add_arguments(p)
    p.set_defaults(func=run_grade)
    return p


def _error(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return EXIT_BAD_INPUT


def run_grade(args) -> int:
    from ..errors import InputError

    try:
        return _run(args)
    except InputError as exc:
        return _error(str(exc))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _progress(total: int, show: bool):
    if not show or total <= 1:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.fields[last]}"), console=Console(stderr=True), transient=False)


def _run(args) -> int:
    from ..errors import InputError
    from .batch import BatchConfig, collect_paths, grade_batch
    from .grader import GradeOptions, soft_budget
    from .results import GRADED, IGNORED, UNREADABLE

    assignment = None
    if args.assignment:
        from .assignment import load_assignment

        assignment = load_assignment(args.assignment)
    problems: list = []
    paths, folder = collect_paths(args.paths, problems=problems)
    if not paths and not problems:
        raise InputError("no submissions (.md, .tex, .txt) found", file=", ".join(args.paths))
    if args.output:
        out_dir = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(out_dir):
            raise InputError("the folder for the output does not exist", file=args.output)

    options = GradeOptions(examples=args.examples, time_limit=args.time_limit, numeric=not args.no_numeric,
                           hints=not args.no_hints, budget=soft_budget(args.timeout, args.time_limit))
    tmp = None
    cache_path = None
    if not args.no_cache:
        if args.cache_dir:
            from .cache import prepare_cache_dir

            cache_path, note = prepare_cache_dir(args.cache_dir)
            if note:
                print(f"note: {note}", file=sys.stderr)
        elif args.jobs >= 1:  # shared by the workers, and kept when one is stopped and replaced
            tmp = tempfile.mkdtemp(prefix="elbo-grade-")
            cache_path = os.path.join(tmp, "steps.sqlite")
    config = BatchConfig(options=options, assignment=assignment, cache_path=cache_path,
                         use_cache=not args.no_cache, timeout=args.timeout, memory_mb=args.memory_limit)

    show = folder and (sys.stderr.isatty() or args.format != "json")
    progress = _progress(len(paths), show)
    try:
        if progress is not None:
            with progress:
                task = progress.add_task("grade", total=len(paths), last="")

                def on_result(i, res):
                    progress.update(task, advance=1, last=os.path.basename(res.path))

                results = grade_batch(paths, config, jobs=args.jobs, on_result=on_result)
        else:
            results = grade_batch(paths, config, jobs=args.jobs)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    if args.format == "gradescope":
        # Gradescope runs once per student: everything given is that student's submission
        from .student import merge_student

        folder = args.paths[0] if len(args.paths) == 1 and os.path.isdir(args.paths[0]) else ""
        merged = merge_student(results, assignment, folder=folder)
        data = [merged.to_dict()]
    else:
        data = [r.to_dict() for r in results]
    if args.format == "json":
        from ..reports.grading_json import to_json

        text = to_json(data) + "\n"
    elif args.format == "gradescope":
        from ..reports.grading_gradescope import to_gradescope_json

        text = to_gradescope_json(data) + "\n"
    else:
        text = None
    if args.output:
        if text is None:
            from ..reports.grading_text import render_to_string

            text = render_to_string(data)
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as exc:
            raise InputError(f"cannot write the report: {exc.strerror}", file=args.output) from None
    elif text is not None:
        sys.stdout.write(text)
    else:
        from rich.console import Console

        from ..reports.grading_text import render

        render(data, Console(highlight=False))

    for where, reason in problems:
        print(f"error: {where}: {reason}", file=sys.stderr)
    for r in results:
        if r.status == UNREADABLE:
            print(f"error: {r.path}: {r.reason}", file=sys.stderr)
    if problems or any(r.status == UNREADABLE for r in results):
        return EXIT_BAD_INPUT
    if any(r.status not in (GRADED, IGNORED) or r.has_invalid for r in results):
        return EXIT_INVALID
    return EXIT_OK


def main(argv=None) -> int:
    """`python -m elbo_proofs.grading.commands PATH...` -- the same as `elbo-proofs grade`."""
    parser = argparse.ArgumentParser(prog="elbo-proofs grade")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_grade(args)


if __name__ == "__main__":
    sys.exit(main())
