"""Markdown helpers for reports (plain strings in, plain strings out)."""
from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|$])")


def escape(text: str) -> str:
    """Prose for Markdown: characters Markdown or MathJax would read as markup are escaped."""
    return _SPECIAL.sub(r"\\\1", str(text))


# how each role of math that is not a claim is named to a student
ROLE_WORDS = {"declared": "declared", "defined": "defined", "assumed": "assumed",
              "intent": "a statement of intent", "condition": "a condition or range"}


def read_as_rows(items: list[dict]) -> list[tuple[str, str, str, str]]:
    """(where, role in words, the student's LaTeX, the word that decided it) for each item of a
    result's read_as, in the order of the file."""
    out = []
    for it in sorted(items or [], key=lambda it: (str(it.get("file") or ""), it.get("line") or 0)):
        where = ", ".join(x for x in (it.get("file") or "", f"line {it['line']}" if it.get("line") else "") if x)
        out.append((where, ROLE_WORDS.get(it.get("role", ""), str(it.get("role", ""))),
                    " ".join(str(it.get("latex", "")).split()), str(it.get("word") or "")))
    return out


def math(latex: str) -> str:
    """Student LaTeX as inline math, on one line, without stray dollars."""
    latex = " ".join(str(latex or "").split()).replace("$", "")
    return f"${latex}$" if latex else ""
