"""Grading student derivations: first wrong step, back on track, scores, batches.

`Grader` grades one submission (grader.py); `grade_batch` many, in worker
processes (batch.py); `StepCache` makes identical steps cost one check
(cache.py); `diagnose` finds the nearest correct form of a wrong step
(diagnose.py); `score_submission` turns verdicts into points (scoring.py);
`load_assignment` reads the optional assignment file (assignment.py).

The names are loaded on first use, so that registering the `grade` command
(grading/commands.py) does not load SymPy and the checker.
"""
__all__ = ["GradeOptions", "Grader", "compose", "grade_file", "StepResult", "SubmissionResult", "GoalResult",
           "VALID", "INVALID", "UNVERIFIED", "UNPARSED"]


def __getattr__(name):
    if name in ("GradeOptions", "Grader", "compose", "grade_file"):
        from . import grader as module
    elif name in __all__:
        from . import results as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value
