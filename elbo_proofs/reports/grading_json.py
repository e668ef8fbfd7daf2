"""`elbo-proofs grade --format json`: a list, one object per submission.

Each object: path, status ("graded" / "failed" / "unreadable" / "ignored"), reason,
first_error_line (null where none), score, max_score, score_explanation,
provisional and needs_review (the lines a person must read), goal, counts,
notes (plain) and notes_md (Markdown with $LaTeX$), read_as (the math not graded as a claim: line,
role -- declared, defined, assumed, intent or condition --, latex as written, word that decided it, file), and steps -- per step: line (1-based file line where the step's
new expression starts), relation, verdict (valid / invalid / unverified /
unparsed), message, latex, against, back_on_track, hint, and for invalid steps
counterexample {values, lhs, rhs, model}.
"""
from __future__ import annotations

import json

STEP_FIELDS = ("line", "relation", "verdict", "message", "message_md", "latex", "kind", "against", "back_on_track",
               "carries_error", "hint", "hint_md", "lhs", "rhs", "method", "cached", "file", "problem")


def step_json(s: dict) -> dict:
    out = {k: s.get(k) for k in STEP_FIELDS}
    if s.get("verdict") == "invalid":
        cx = s.get("counterexample")
        out["counterexample"] = ({"values": cx.get("values", {}), "values_md": cx.get("values_md", {}),
                                  "lhs": cx.get("lhs"), "rhs": cx.get("rhs"), "lhs_line": cx.get("lhs_line"),
                                  "rhs_line": cx.get("rhs_line"), "model": cx.get("model", "")} if cx else None)
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
        "provisional": bool(r.get("provisional")),
        "needs_review": r.get("needs_review", []),
        "problems": r.get("problems", []),
        "goal": r.get("goal"),
        "counts": r.get("counts", {}),
        "notes": r.get("notes", []),
        "notes_md": r.get("notes_md", []),
        "read_as": r.get("read_as", []),
        "seconds": round(float(r.get("seconds", 0.0)), 3),
        "steps": [step_json(s) for s in r.get("steps", [])],
    }


def to_json(results: list[dict]) -> str:
    return json.dumps([submission_json(r) for r in results], indent=2, default=str)
