"""Numbers as a reader wants them, in plain text: one formatter for every stage.

Plain Python only (no SymPy, nothing else of the package), so that the term printer
and the reports, which may not import terms, show a value the same way.
"""
from __future__ import annotations

import math

NOISE = 1e-9  # values closer to 0 than this are rounding noise and shown as 0


def number(x) -> str:
    """4 significant digits, noise at 0 as 0, whole numbers without a point, no exponent soup."""
    if isinstance(x, bool):
        return str(x)
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(f):
        return "undefined"
    if math.isinf(f):
        return "infinity" if f > 0 else "-infinity"
    if abs(f) < NOISE:
        return "0"
    if f == int(f) and abs(f) < 1e6:
        return str(int(f))
    text = f"{f:.4g}"
    if "e" in text:
        mant, exp = text.split("e")
        return f"{mant}*10^{int(exp)}"
    return text
