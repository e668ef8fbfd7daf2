"""Scoring: full step credit, minus a fixed, announced amount per error.

    max_score   = assignment ``points`` (default 10)
    goal part   = ``goal_points`` if the assignment has a goal and the derivation
                  reaches it with valid steps, else 0 (default goal_points: 30 % of points)
    step part   = (max_score - goal_points)
                  - error_penalty * errors
                  - unchecked_penalty * lines needing review   (clamped to [0, max_score - goal_points])
                  = 0 when no checked step is valid
    score       = step part + goal part, rounded to 2 decimals

* ``errors`` counts fresh mistakes only: a line that carries an earlier error
  along is not charged again, and lines back on track are valid.  The same
  wrong step repeated on several slides is one error.
* ``error_penalty`` defaults to 20 % of max_score: one error costs 2 of 10,
  whatever the length of the derivation around it.
* Lines nobody could check (unread, undecided, cut by a time limit) are never
  passed: they go on ``needs_review`` and the score is *provisional* until a
  person has read them.  They cost ``unchecked_penalty`` each (default 0).
* A submission where nothing could be checked scores 0, provisionally, and
  says it needs a person to read it.

The assignment file sets the policy (``partial_credit:``), see docs/grading.md.
"""
from __future__ import annotations

from .results import INVALID, UNPARSED, UNVERIFIED, VALID, SubmissionResult

DEFAULT_POINTS = 10.0
DEFAULT_PENALTY_FRACTION = 0.2
DEFAULT_GOAL_FRACTION = 0.3
DEFAULT_UNCHECKED_PENALTY = 0.0


def _dedupe(steps):
    """One entry per distinct (checked against, text, relation): slides repeat lines."""
    seen = {}
    for s in steps:
        key = (s.file, s.lhs, s.rhs, s.relation, " ".join(s.latex.split()), s.back_on_track)
        if key not in seen or (seen[key].verdict != INVALID and s.verdict == INVALID):
            seen[key] = s
    return list(seen.values())


def review_list(steps) -> list[dict]:
    """The lines a person must read: every unparsed or unverified step, once per (file, line, text)."""
    out, seen = [], set()
    for s in steps:
        if s.verdict not in (UNPARSED, UNVERIFIED):
            continue
        key = (s.file, s.line, " ".join(s.latex.split()))
        if key in seen:
            continue
        seen.add(key)
        out.append({"line": s.line, "latex": s.latex, "reason": s.message, "reason_md": s.message_md or s.message,
                    "file": s.file, "problem": s.problem})
    return out


def policy(assignment) -> dict:
    """points, error_penalty, unchecked_penalty, goal_points of an assignment (or the defaults)."""
    points = float(getattr(assignment, "points", None) or DEFAULT_POINTS)
    penalty = getattr(assignment, "error_penalty", None)
    unchecked = getattr(assignment, "unchecked_penalty", None)
    goal_points = 0.0
    if assignment is not None and getattr(assignment, "goal", None) is not None:
        gp = getattr(assignment, "goal_points", None)
        goal_points = float(points * DEFAULT_GOAL_FRACTION if gp is None else gp)
    return {
        "points": points,
        "error_penalty": float(points * DEFAULT_PENALTY_FRACTION if penalty is None else penalty),
        "unchecked_penalty": float(DEFAULT_UNCHECKED_PENALTY if unchecked is None else unchecked),
        "goal_points": min(goal_points, points),
    }


def step_score(steps, step_points: float, error_penalty: float, unchecked_penalty: float,
               review: list[dict]) -> tuple[float, str]:
    """(points for the steps, the explanation)."""
    distinct = _dedupe(steps)
    valid = sum(1 for s in distinct if s.verdict == VALID)
    invalid = [s for s in distinct if s.verdict == INVALID]
    errors = sum(1 for s in invalid if s.new_error) or (1 if invalid else 0)
    checked = valid + len(invalid)
    if checked == 0:
        return 0.0, "no step could be checked: needs to be read by a person"
    if valid == 0:
        return 0.0, f"none of {checked} checked steps is valid"
    score = step_points - error_penalty * errors - unchecked_penalty * len(review)
    score = max(0.0, min(step_points, score))
    why = f"{valid} of {checked} checked steps valid"
    if errors:
        why += f", {errors} error{'s' if errors != 1 else ''} (-{error_penalty:g} each)"
    if review and unchecked_penalty:
        why += f", {len(review)} unchecked line{'s' if len(review) != 1 else ''} (-{unchecked_penalty:g} each)"
    return score, why


def _score_problems(result: SubmissionResult, assignment, review: list[dict]) -> tuple[float, str]:
    """Each problem scored on the steps of its own chains, against its own points; the sum."""
    pol = policy(assignment)
    reached = {p.get("name"): bool(p.get("goal_reached")) for p in (result.problems or [])}
    out, total, parts = [], 0.0, []
    for prob in assignment.problems:
        steps = [s for s in result.steps if s.problem == prob.name]
        mine = [r for r in review if r.get("problem") == prob.name]
        goal_points = min(prob.points, prob.points * DEFAULT_GOAL_FRACTION if prob.goal_points is None
                          else prob.goal_points)
        penalty = prob.points * DEFAULT_PENALTY_FRACTION if prob.error_penalty is None else prob.error_penalty
        if not steps:
            score, why = 0.0, "not attempted: no derivation starts from a side of its goal"
        else:
            score, why = step_score(steps, prob.points - goal_points, penalty, pol["unchecked_penalty"], mine)
            got = goal_points if reached.get(prob.name) else 0.0
            why += f"; goal {'reached' if reached.get(prob.name) else 'not reached'} ({got:g}/{goal_points:g})"
            score += got
        score = round(score, 2)
        if mine:
            why += f"; provisional: {len(mine)} line{'s' if len(mine) != 1 else ''} need{'s' if len(mine) == 1 else ''} a person"
        total += score
        parts.append(f"Problem {prob.name}: {score:g}/{prob.points:g}")
        out.append({"name": prob.name, "score": score, "max_score": prob.points, "explanation": why,
                    "provisional": bool(mine), "goal_reached": reached.get(prob.name, False)})
    result.problems = out
    return total, "; ".join(parts)


def score_submission(result: SubmissionResult, assignment=None) -> SubmissionResult:
    pol = policy(assignment)
    points, goal_points = pol["points"], pol["goal_points"]
    step_points = points - goal_points
    review = review_list(result.steps)
    # a failed submission (time limit, crash) keeps its own review entry
    result.needs_review = [r for r in result.needs_review if r.get("line") is None and not r.get("latex")] + review
    result.max_score = points
    if getattr(assignment, "problems", None):
        total, why = _score_problems(result, assignment, review)
        return _settle(result, total, why)
    score, why = step_score(result.steps, step_points, pol["error_penalty"], pol["unchecked_penalty"], review)
    goal_score = 0.0
    if goal_points:
        reached = bool(result.goal and result.goal.reached)
        goal_score = goal_points if reached else 0.0
        why += f"; goal {'reached' if reached else 'not reached'} ({goal_score:g}/{goal_points:g})"
    return _settle(result, score + goal_score, why)


def _settle(result, score: float, why: str):
    """The score and its explanation; provisional while any line needs a person."""
    result.score = round(score, 2)
    result.provisional = bool(result.needs_review)
    if result.provisional:
        n = len(result.needs_review)
        why += f"; provisional: {n} line{'s' if n != 1 else ''} need{'s' if n == 1 else ''} a person"
    result.score_explanation = why
    return result
