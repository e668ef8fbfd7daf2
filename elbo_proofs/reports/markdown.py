"""Markdown helpers for reports (plain strings in, plain strings out)."""
from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|$])")


def escape(text: str) -> str:
    """Prose for Markdown: characters Markdown or MathJax would read as markup are escaped."""
    return _SPECIAL.sub(r"\\\1", str(text))


def math(latex: str) -> str:
    """Student LaTeX as inline math, on one line, without stray dollars."""
    latex = " ".join(str(latex or "").split()).replace("$", "")
    return f"${latex}$" if latex else ""
