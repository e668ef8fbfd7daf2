"""Command line: `elbo-proofs check | grade | train | evaluate`.

Exit codes of `check`: 0 every step proved; 1 some step refuted, only supported,
or not checkable for a mathematical reason (no proof found, out of scope, a time
limit); 2 bad input only (a file, its syntax, its declarations: one line naming
the file, line or step); 3 an internal contradiction (a symbolic proof that a
concrete model refutes), which is a bug to report.  With several files the
largest code wins.
"""
from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

from . import __version__
from .argtypes import nonnegative_int, parse_command_line, positive_int, positive_seconds
from .errors import InputError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_CONTRADICTION = 0, 1, 2, 3


def _derivation_files(paths):
    from .builtin import resolve

    for p in paths:
        p = resolve(p)
        if p.is_dir():
            files = sorted(list(p.glob("*.yaml")) + list(p.glob("*.yml")))
            if not files:
                yield p, InputError("folder holds no .yaml derivations", file=p)
            for f in files:
                yield f, None
        elif p.exists():
            yield p, None
        else:
            yield p, InputError("no such file or folder", file=p)


_FROZEN = False


def _freeze_imports() -> None:
    """Once per process: the objects the imports made live as long as the process; moved out of
    the collector's reach, a full collection (Hypothesis runs one when it starts) skips them."""
    global _FROZEN
    if not _FROZEN:
        _FROZEN = True
        gc.freeze()


def cmd_check(args) -> int:
    from rich.console import Console

    from .checking import check_derivation  # noqa: F401  imported before the worker is forked
    from .parsing import load_derivations  # noqa: F401
    from .reports.check_report import print_json, print_table

    _freeze_imports()
    console = Console(highlight=False, soft_wrap=False)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if args.list:
        return _list_builtin()
    if not args.paths:
        err.print("error: check needs a derivation file, a folder, or a shipped name (see --list)",
                  markup=False, highlight=False)
        return EXIT_BAD_INPUT
    from .supervisor import Job, Supervisor

    results, errors = [], []
    code = EXIT_OK
    files = list(_derivation_files(args.paths))
    options = (args.examples, args.time_limit, not args.no_numeric)

    def report(i, outcome):
        nonlocal code
        path, problem = files[i]
        if problem is None and outcome.ok and outcome.value[0] == "ok":
            for result in outcome.value[1]:
                results.append(result)
                if args.format == "table":
                    print_table(result, console, show_rules=args.rules)
                code = _exit_code(result, path, err, code)
            return
        if problem is not None:
            message = str(problem)
        elif outcome.ok:
            message = outcome.value[1]
        else:
            message = f"{path}: could not be checked: {outcome.value}"
        errors.append({"path": str(path), "error": message})
        err.print(f"error: {message}", markup=False, highlight=False)
        code = max(code, EXIT_BAD_INPUT)

    jobs = [Job(_check_job, (str(path), *options)) for path, problem in files if problem is None]
    index = [i for i, (_, problem) in enumerate(files) if problem is None]
    done = 0
    with Supervisor(1, memory_mb=args.memory_limit) as supervisor:
        for i, (path, problem) in enumerate(files):
            if problem is not None:
                report(i, None)
                continue
            supervisor.run([jobs[done]], lambda _, outcome, i=i: report(i, outcome))
            done += 1
    assert done == len(index)
    if args.format == "json":
        print_json(results, errors)
    return code


READ_SECONDS = 30.0   # reading and parsing one derivation file


def _check_job(path: str, examples: int, time_limit: float, numeric: bool):
    """Check one file, in a supervised worker: ("ok", results) or ("error", one line)."""
    from .checking import check_derivation
    from .limits import LimitExceeded, phase
    from .parsing import load_derivations

    try:
        with phase(("read", path), READ_SECONDS):
            derivations = load_derivations(path)
    except InputError as exc:
        return "error", str(exc)
    except LimitExceeded as exc:
        return "error", str(InputError(f"reading the file {exc}", file=path))
    except RecursionError:
        return "error", str(InputError("nested too deeply to read", file=path))
    except MemoryError:
        return "error", str(InputError("too large to read (out of memory)", file=path))
    return "ok", [check_derivation(d, examples=examples, time_limit=time_limit, numeric=numeric)
                  for d in derivations]


def _list_builtin() -> int:
    from .builtin import FOLDER, builtin_titles

    rows = builtin_titles()
    width = max((len(n) for n, _ in rows), default=0)
    for name, title in rows:
        print(f"{name:<{width}}  {title}".rstrip())
    print(f"(shipped in {FOLDER}; check one with `elbo-proofs check NAME`)")
    return EXIT_OK


def _exit_code(result, path, err, code) -> int:
    """The exit code after one derivation: the largest of the codes so far and this one's."""
    from .checking import Status

    for s in result.steps + ([result.goal] if result.goal else []):
        v = s.verdict
        label = "goal" if s is result.goal else f"step {s.number}"
        loc = f"{path}:{s.line}" if s.line else str(path)
        if v.contradiction:
            err.print(f"internal error: {loc}: {label}: the symbolic rules proved this step but a concrete model "
                      f"refutes it. This is a bug in elbo-proofs; please report it with the derivation file.",
                      markup=False, highlight=False)
            code = max(code, EXIT_CONTRADICTION)
        elif v.status is not Status.PROVED:
            code = max(code, EXIT_FAILED)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="elbo-proofs",
        description="Verify ELBO, KL and reparameterization derivations step by step (check), grade student "
                    "derivations (grade), and train or evaluate a VAE on the proved ELBO (train, evaluate).",
        epilog="Exit codes: 0 proved or graded without error, 1 refuted, unproved, not checkable or a wrong "
               "step, 2 bad input, 3 (check) an internal contradiction to report. "
               "`elbo-proofs COMMAND --help` describes each command.")
    parser.add_argument("--version", action="version", version=f"elbo-proofs {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="verify derivation files step by step, symbolically and numerically",
                           description="Prove every step of each derivation with SymPy and cross-check it on "
                                       "random numeric models; a wrong step gets a shrunk counterexample.")
    check.add_argument("paths", nargs="*", metavar="PATH",
                       help="derivation .yaml files, folders of them, or names of shipped derivations "
                            "(kl_gaussian; see --list)")
    check.add_argument("--list", action="store_true", help="list the derivations shipped with the package and exit")
    check.add_argument("--format", choices=["table", "json"], default="table",
                       help="table (one per derivation, default) or json (all results on standard output)")
    check.add_argument("--examples", type=positive_int, default=50, help="numeric examples per step (default 50)")
    check.add_argument("--time-limit", type=positive_seconds, default=5.0,
                       help="seconds of symbolic work per step, twice that of numeric work (default 5)")
    check.add_argument("--memory-limit", type=nonnegative_int, default=4096, metavar="MB",
                       help="address space of the checking process, MB (default 4096; 0: no limit)")
    check.add_argument("--no-numeric", action="store_true", help="skip the numeric cross-check")
    check.add_argument("--rules", action="store_true", help="show the rewrite rules each proof used")
    check.set_defaults(func=cmd_check)

    for module in ("grading.commands", "training.commands"):
        try:
            mod = __import__(f"elbo_proofs.{module}", fromlist=["register"])
        except ImportError:
            continue
        mod.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parse_command_line(parser, argv)
    try:
        return args.func(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()


def _quiet_broken_pipe() -> int:
    """The reader of our output went away (`| head`): stop quietly, as Unix tools do.

    Standard output is pointed at /dev/null so the interpreter's final flush
    does not raise a second time.
    """
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
