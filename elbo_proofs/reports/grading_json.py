"""`elbo-proofs grade --format json`: a list, one object per submission.

Each object: path, status ("graded" / "failed" / "unreadable"), reason,
first_error_line (null where none), score, max_score, score_explanation, goal,
counts, notes, and steps -- per step: line (1-based file line where the step's
new expression starts), relation, verdict (valid / invalid / unverified /
unparsed), message, latex, against, back_on_track, hint, and for invalid steps
counterexample {values, lhs, rhs, model}.
"""
from __future__ import annotations

import json

STEP_FIELDS = ("line", "relation", "verdict", "message", "latex", "kind", "against", "back_on_track",
               "carries_error", "hint", "lhs", "rhs", "method", "cached")


def step_json(s: dict) -> dict:
    out = {k: s.get(k) for k in STEP_FIELDS}
    if s.get("verdict") == "invalid":
        cx = s.get("counterexample")
        out["counterexample"] = ({"values": cx.get("values", {}), "lhs": cx.get("lhs"), "rhs": cx.get("rhs"),
                                  "model": cx.get("model", "")} if cx else None)
    return out


def submission_json(r: dict) -> dict:
    return {
        "path": r.get("path"),
        "status": r.get("status"),
        "reason": r.get("reason", ""),
        "first_error_line": r.get("first_error_line"),
        "score": r.get("score", 0.0),
        "max_score": r.get("max_score", 0.0),
        "score_explanation": r.get("score_explanation", ""),
        "goal": r.get("goal"),
        "counts": r.get("counts", {}),
        "notes": r.get("notes", []),
        "seconds": round(float(r.get("seconds", 0.0)), 3),
        "steps": [step_json(s) for s in r.get("steps", [])],
    }


def to_json(results: list[dict]) -> str:
    return json.dumps([submission_json(r) for r in results], indent=2, default=str)
