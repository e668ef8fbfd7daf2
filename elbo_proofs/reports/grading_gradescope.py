"""`elbo-proofs grade --format gradescope`: Gradescope's results.json.

Top level: score, output, stdout_visibility, tests.  The points sit on one test
per submission ("Derivation: <file>", score / max_score); every checked line is
a test of its own worth 0 points, status "passed" or "failed", so students see
line by line what was checked and why, and the sum of the test scores equals
the top-level score.
"""
from __future__ import annotations

import json
from pathlib import Path

from .grading_text import counterexample_text


def _line_test(path: str, s: dict) -> dict:
    verdict = s.get("verdict", "")
    where = f"{Path(path).name}:{s.get('line')}" if s.get("line") else Path(path).name
    out = s.get("message", "")
    if verdict == "invalid" and s.get("counterexample"):
        out += "\n" + counterexample_text(s["counterexample"])
    latex = " ".join(str(s.get("latex", "")).split())
    return {
        "name": f"{where} {s.get('relation') or ''} {verdict}".replace("  ", " ").strip(),
        "score": 0.0,
        "max_score": 0.0,
        "status": "failed" if verdict == "invalid" else "passed",
        "output": f"{latex}\n{out}".strip(),
        "visibility": "visible",
    }


def gradescope_results(results: list[dict]) -> dict:
    tests = []
    total = 0.0
    lines = []
    for r in results:
        path = str(r.get("path", ""))
        name = Path(path).name
        score = float(r.get("score", 0.0))
        max_score = float(r.get("max_score", 0.0))
        total += score
        if r.get("status") != "graded":
            out = f"not graded: {r.get('reason', '')}"
        else:
            first = r.get("first_error_line")
            out = (f"{r.get('score_explanation', '')}. "
                   + (f"First error on line {first}." if first else "No wrong step found."))
            goal = r.get("goal")
            if goal:
                out += f" Goal: {goal.get('message', '')}."
        tests.append({
            "name": f"Derivation: {name}",
            "score": score,
            "max_score": max_score,
            "status": "passed" if (r.get("status") == "graded" and not r.get("first_error_line")) else "failed",
            "output": out,
            "visibility": "visible",
        })
        lines.append(f"{name}: {score:g}/{max_score:g} -- {out}")
        for s in r.get("steps", []):
            tests.append(_line_test(path, s))
    return {
        "score": round(total, 2),
        "output": "\n".join(lines),
        "stdout_visibility": "visible",
        "tests": tests,
    }


def to_gradescope_json(results: list[dict]) -> str:
    return json.dumps(gradescope_results(results), indent=2, default=str)
