"""Scoring: a fraction of the points for the steps that check, minus a cost per error.

    max_score   = assignment ``points`` (default 10)
    goal part   = ``goal_points`` if the assignment has a goal and the derivation
                  reaches it with valid steps, else 0 (default goal_points: 30 % of points)
    step part   = (max_score - goal_points) * valid / checked
                  - error_penalty * errors              (clamped to [0, max_score - goal_points])
    score       = step part + goal part, rounded to 2 decimals

* ``checked`` counts steps the checker decided (valid or invalid); unverified and
  unparsed steps count neither for nor against the student.
* ``errors`` counts fresh mistakes only: a line that carries an earlier error
  along is not charged again, and lines back on track are valid.  The same
  wrong step repeated on several slides is one error.
* ``error_penalty`` defaults to 20 % of max_score, so one error in a long,
  otherwise perfect derivation costs about two points of ten.
* A submission where nothing could be checked scores 0 and says it needs a
  person to read it.
"""
from __future__ import annotations

from .results import INVALID, VALID, SubmissionResult

DEFAULT_POINTS = 10.0
DEFAULT_PENALTY_FRACTION = 0.2
DEFAULT_GOAL_FRACTION = 0.3


def _dedupe(steps):
    """One entry per distinct (checked against, text, relation): slides repeat lines."""
    seen = {}
    for s in steps:
        key = (s.lhs, s.rhs, s.relation, " ".join(s.latex.split()), s.back_on_track)
        if key not in seen or (seen[key].verdict != INVALID and s.verdict == INVALID):
            seen[key] = s
    return list(seen.values())


def score_submission(result: SubmissionResult, assignment=None) -> SubmissionResult:
    points = float(getattr(assignment, "points", None) or DEFAULT_POINTS)
    penalty = getattr(assignment, "error_penalty", None)
    penalty = float(points * DEFAULT_PENALTY_FRACTION if penalty is None else penalty)
    goal_points = 0.0
    if assignment is not None and getattr(assignment, "goal", None) is not None:
        gp = getattr(assignment, "goal_points", None)
        goal_points = float(points * DEFAULT_GOAL_FRACTION if gp is None else gp)
    goal_points = min(goal_points, points)
    step_points = points - goal_points

    distinct = _dedupe(result.steps)
    valid = sum(1 for s in distinct if s.verdict == VALID)
    invalid = [s for s in distinct if s.verdict == INVALID]
    errors = sum(1 for s in invalid if s.new_error) or (1 if invalid else 0)
    checked = valid + len(invalid)

    result.max_score = points
    if checked == 0:
        step_score = 0.0
        why = "no step could be checked: needs to be read by a person"
    else:
        step_score = step_points * valid / checked - penalty * errors
        step_score = max(0.0, min(step_points, step_score))
        why = (f"{valid} of {checked} checked steps valid"
               + (f", {errors} error{'s' if errors != 1 else ''} (-{penalty:g} each)" if errors else ""))
    goal_score = 0.0
    if goal_points:
        reached = bool(result.goal and result.goal.reached)
        goal_score = goal_points if reached else 0.0
        why += f"; goal {'reached' if reached else 'not reached'} ({goal_score:g}/{goal_points:g})"
    result.score = round(step_score + goal_score, 2)
    result.score_explanation = why
    return result
