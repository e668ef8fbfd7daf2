"""A derivation as terms: a chain of steps under one Context, and an optional goal.

The readers build it (parsing/derivation.py reads YAML files); the checker and
training consume it.  It holds terms and relation symbols only, no text syntax.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from .context import Context


@dataclass
class Step:
    number: int
    text: str
    expr: sp.Expr
    relation: str  # relation to the previous step: "=", "<=", ">=", "~=" (terms/relations.py)
    justification: str = ""
    line: int | None = None


@dataclass
class Derivation:
    title: str
    steps: list[Step]
    context: Context
    source: str = ""
    path: str | None = None
    goal: tuple | None = None  # (lhs, relation, rhs)
    goal_text: str = ""
    errors: list = field(default_factory=list)
