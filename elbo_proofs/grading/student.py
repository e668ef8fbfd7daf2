"""One student, several files: the autograder's submission folder is one student's work.

Gradescope hands the autograder one student's folder: a derivation, perhaps a
second one for another problem, perhaps a ``notes.txt``.  They make one result:
the steps of every file with math are scored together against the assignment's
points; a file with no math in it is left out with a note; a file that could
not be graded (time limit, crash, unreadable) is left for a person to read and
makes the score provisional.
"""
from __future__ import annotations

import os

from .results import GRADED, IGNORED, INVALID, GoalResult, SubmissionResult
from .scoring import score_submission


def _common_root(paths: list[str]) -> str:
    if not paths:
        return ""
    try:
        root = os.path.commonpath([os.path.abspath(p) for p in paths])
    except ValueError:
        return ""
    return root if len(paths) > 1 or os.path.isdir(root) else os.path.dirname(root)


def _short(path: str, root: str) -> str:
    if root:
        try:
            return os.path.relpath(os.path.abspath(path), root)
        except ValueError:
            pass
    return os.path.basename(path)


def merge_student(results: list[SubmissionResult], assignment=None, folder: str = "") -> SubmissionResult:
    """The files of one student's submission as one scored result."""
    root = folder if folder and os.path.isdir(folder) else _common_root([r.path for r in results])
    several = sum(1 for r in results if r.status != IGNORED) > 1
    merged = SubmissionResult(path=folder or root or (results[0].path if results else ""), status=GRADED)
    goals = []
    errors = []
    for r in results:
        name = _short(r.path, root)
        merged.seconds += r.seconds
        merged.cache_hits += r.cache_hits
        merged.cache_misses += r.cache_misses
        if r.status == IGNORED:
            merged.notes.append(f"{name}: no math found; the file is not graded")
            merged.notes_md.append(f"`{name}`: no math found; the file is not graded")
            continue
        prefix = f"{name}: " if several else ""
        merged.notes += [prefix + n for n in r.notes]
        merged.notes_md += [prefix + n for n in (r.notes_md or r.notes)]
        merged.read_as += [{**item, "file": name if several else ""} for item in r.read_as]
        if r.status != GRADED:
            merged.needs_review.append({"line": None, "latex": "", "file": name,
                                        "reason": f"{name} was not graded: {r.reason}",
                                        "reason_md": f"`{name}` was not graded: {r.reason}"})
            continue
        for s in r.steps:
            s.file = name if several else ""
            merged.steps.append(s)
            if s.verdict == INVALID and s.line is not None:
                errors.append((s.file, s.line))
        if r.goal is not None:
            goals.append(r.goal)
    reached: dict = {}
    for r in results:
        for p in r.problems or []:
            reached[p.get("name")] = reached.get(p.get("name"), False) or bool(p.get("goal_reached"))
    merged.problems = [{"name": n, "goal_reached": v} for n, v in reached.items()]
    if errors:
        merged.first_error_line = errors[0][1]
    if goals:
        merged.goal = next((g for g in goals if g.reached), goals[0])
    elif assignment is not None and getattr(assignment, "goal", None) is not None:
        merged.goal = GoalResult(assignment.goal_text, False, None, "no file of the submission reaches the goal")
    score_submission(merged, assignment)
    if not merged.steps and not merged.needs_review:
        merged.needs_review.append({"line": None, "latex": "", "file": "",
                                    "reason": "no derivation found in the submission",
                                    "reason_md": "no derivation found in the submission"})
        merged.provisional = True
        merged.score_explanation += "; provisional: no derivation found, needs a person"
    return merged
