"""Grading student derivations: first wrong step, back on track, scores, batches.

`Grader` grades one submission (grader.py); `grade_batch` many, in worker
processes (batch.py); `StepCache` makes identical steps cost one check
(cache.py); `diagnose` finds the nearest correct form of a wrong step
(diagnose.py); `score_submission` turns verdicts into points (scoring.py);
`load_assignment` reads the optional assignment file (assignment.py).
"""
from .grader import GradeOptions, Grader, compose, grade_file
from .results import INVALID, UNPARSED, UNVERIFIED, VALID, GoalResult, StepResult, SubmissionResult

__all__ = ["GradeOptions", "Grader", "compose", "grade_file", "StepResult", "SubmissionResult", "GoalResult",
           "VALID", "INVALID", "UNVERIFIED", "UNPARSED"]
