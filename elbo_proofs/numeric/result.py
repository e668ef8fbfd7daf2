"""What the numeric check returns, in plain data (no numpy, no SymPy): the checker's
verdicts and the reports carry it as it is."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Counterexample:
    """A concrete model on which a step fails, as Hypothesis shrank it."""

    values: dict[str, float]      # symbol -> value, model parameter -> value
    lhs: float
    rhs: float
    model: str = ""               # which concrete model family was used
    note: str = ""


@dataclass
class NumericResult:
    status: str                                   # "agree" | "counterexample" | "unevaluable"
    counterexample: Counterexample | None = None
    examples: int = 0                             # models evaluated on which the relation held
    detail: str = ""                              # why unevaluable, or a note on the evidence
    skipped: int = 0                              # models skipped (non-finite or failed evaluation)
