"""`elbo-proofs grade --format gradescope`: Gradescope's results.json for one student.

Gradescope runs the autograder once per student, on that student's folder, so
the report is one result: the grading command first merges the files of the
folder (grading/student.py) and this module writes that one result.

Top level: ``score``, ``output`` (Markdown), ``output_format: "md"``,
``test_output_format: "md"``, ``visibility``, ``stdout_visibility``,
``execution_time`` and ``tests``.  The points sit on one test per assignment
problem (or one "Score" test); every checked line is a test worth 0 points,
named by problem, file and line ("Problem 1(c), line 43: valid"), "passed"
when valid, "failed" when wrong; a line nobody could check is named "needs
review" and has no pass/fail status, so it is never shown as passed.  The test
scores add up to the top-level score.  Student LaTeX is shown as ``$...$``.
"""
from __future__ import annotations

import json
from pathlib import Path

from .grading_text import counterexample_md
from .markdown import escape, read_as_rows

LABEL = {"valid": "valid", "invalid": "wrong", "unverified": "needs review", "unparsed": "needs review"}


def _math(latex: str) -> str:
    """The student's LaTeX as inline Markdown math; `$` inside it is escaped."""
    latex = " ".join(str(latex or "").split())
    return f"${latex.replace('$', '')}$" if latex else ""


def _where(s: dict) -> str:
    parts = []
    if s.get("problem"):
        parts.append(f"Problem {s['problem']}")
    if s.get("file"):
        parts.append(str(s["file"]))
    parts.append(f"line {s['line']}" if s.get("line") else "text")
    return ", ".join(parts)


def _line_test(s: dict) -> dict:
    verdict = s.get("verdict", "")
    label = LABEL.get(verdict, verdict)
    if verdict == "valid" and s.get("carries_error"):
        label = "follows, carries an earlier error"
    elif verdict == "valid" and s.get("back_on_track"):
        label = "valid, back on track"
    rel = s.get("relation") or ""
    out = [f"{_math(s.get('latex', ''))}" + (f" (relation {rel})" if rel and rel != "=" else "")]
    message = s.get("message_md") or s.get("message") or ""
    if message:
        out.append(message)
    if verdict == "invalid" and s.get("counterexample"):
        out.append(counterexample_md(s["counterexample"]))
    test = {
        "name": f"{_where(s)}: {label}",
        "score": 0.0,
        "max_score": 0.0,
        "output": "\n\n".join(o for o in out if o),
        "output_format": "md",
        "visibility": "visible",
    }
    if verdict == "valid":
        test["status"] = "passed"
    elif verdict == "invalid":
        test["status"] = "failed"
    return test


def _unique(tests: list[dict]) -> list[dict]:
    seen: dict[str, int] = {}
    for t in tests:
        n = seen.get(t["name"], 0) + 1
        seen[t["name"]] = n
        if n > 1:
            t["name"] = f"{t['name']} ({n})"
    return tests


def _distinct_steps(steps: list[dict]) -> list[dict]:
    """Slides repeat lines: one test per (problem, file, line, text, verdict)."""
    out, seen = [], set()
    for s in steps:
        key = (s.get("problem"), s.get("file"), s.get("line"), " ".join(str(s.get("latex", "")).split()),
               s.get("verdict"), s.get("message"))
        if key in seen:
            continue
        seen.add(key)
        out.append(s)
    return out


def _summary(r: dict) -> str:
    lines = []
    score, max_score = float(r.get("score", 0.0)), float(r.get("max_score", 0.0))
    head = f"**Score: {score:g} / {max_score:g}**"
    if r.get("provisional"):
        n = len(r.get("needs_review") or [])
        head += f" (provisional: {n} line{'s' if n != 1 else ''} to be read by a person)"
    lines.append(head)
    if r.get("status") not in (None, "graded"):
        lines.append(f"Not graded: {r.get('reason', '')}")
    lines.append(str(r.get("score_explanation", "")))
    first = r.get("first_error_line")
    lines.append(f"First wrong step: line {first}." if first else "No wrong step found.")
    goal = r.get("goal")
    if goal:
        lines.append(f"Goal {goal.get('text_md') or _math_plain(goal.get('text', ''))}: {goal.get('message', '')}.")
    review = r.get("needs_review") or []
    if review:
        lines.append("Needs review by a person:")
        for item in review:
            where = ", ".join(x for x in (item.get("file") or "", f"line {item['line']}" if item.get("line") else "")
                              if x)
            lines.append(f"- {where + ': ' if where else ''}{item.get('reason_md') or item.get('reason', '')}")
    rows = read_as_rows(r.get("read_as") or [])
    if rows:
        lines.append("How the text was read (not graded as claims):")
        lines += [f"- {where + ', ' if where else ''}{role}: {_math(latex)}" + (f" (after *{escape(word)}*)" if word
                                                                               else "")
                  for where, role, latex, word in rows]
    notes = r.get("notes_md") or r.get("notes") or []
    if notes:
        lines.append("Notes on how the text was read:")
        lines += [f"- {n}" for n in notes]
    return "\n\n".join(lines[:4]) + ("\n\n" + "\n".join(lines[4:]) if len(lines) > 4 else "")


def _math_plain(text: str) -> str:
    return f"`{text}`" if text else ""


def _points_tests(r: dict) -> list[dict]:
    problems = r.get("problems") or []
    status_ok = r.get("status") in (None, "graded")
    if problems:
        out = []
        for p in problems:
            out.append({
                "name": f"Problem {p.get('name')}: score",
                "score": float(p.get("score", 0.0)),
                "max_score": float(p.get("max_score", 0.0)),
                "output": str(p.get("explanation", "")),
                "output_format": "md",
                "visibility": "visible",
                **({"status": "passed" if p.get("score") == p.get("max_score") else "failed"}
                   if status_ok and not p.get("provisional") else {}),
            })
        return out
    test = {
        "name": "Score",
        "score": float(r.get("score", 0.0)),
        "max_score": float(r.get("max_score", 0.0)),
        "output": str(r.get("score_explanation", "")),
        "output_format": "md",
        "visibility": "visible",
    }
    if status_ok and not r.get("provisional"):
        test["status"] = "passed" if not r.get("first_error_line") else "failed"
    return [test]


def gradescope_results(results: list[dict]) -> dict:
    """results.json for one student.  `results` normally holds the one merged result;
    several are reported side by side (their scores add up)."""
    tests: list[dict] = []
    outputs = []
    total = 0.0
    seconds = 0.0
    for r in results:
        total += float(r.get("score", 0.0))
        seconds += float(r.get("seconds", 0.0) or 0.0)
        tests += _points_tests(r)
        tests += [_line_test(s) for s in _distinct_steps(r.get("steps", []))]
        head = f"{Path(str(r.get('path', ''))).name}\n\n" if len(results) > 1 else ""
        outputs.append(head + _summary(r))
    return {
        "score": round(total, 2),
        "output": "\n\n---\n\n".join(outputs),
        "output_format": "md",
        "test_output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "execution_time": max(1, int(round(seconds))),
        "tests": _unique(tests),
    }


def to_gradescope_json(results: list[dict]) -> str:
    return json.dumps(gradescope_results(results), indent=2, default=str)
