"""The relations a step may state, and how they combine along a chain.

Four relations: ``=`` (equality), ``<=`` and ``>=`` (inequalities) and ``~=``
(an unbiased estimate: the two sides are equal in expectation over the declared
samples).  Every stage uses this module: the readers to spell a relation, the
checker to combine the steps of a derivation, the grader to compose the lines
of a chain, the numeric check to choose its test.

Along a chain ``a r1 b r2 c`` the relation between the ends is ``compose(r1, r2)``:

* ``=`` is the identity: ``compose("=", r) == r``;
* ``<=`` with ``<=`` is ``<=`` and ``>=`` with ``>=`` is ``>=``; ``<=`` with ``>=`` says nothing;
* ``~=`` with ``~=`` is ``~=`` (equality in expectation is transitive); ``~=``
  with an inequality says nothing (that would be an inequality in expectation,
  which no step can state).

``None`` stands for "no relation" and absorbs everything, so composition is
associative and ``chain`` folds a whole list.
"""
from __future__ import annotations

from typing import Iterable, Optional

EQ, LE, GE, EST = "=", "<=", ">=", "~="
RELATIONS = (EQ, LE, GE, EST)

WORDS = {EQ: "equality", LE: "inequality", GE: "inequality", EST: "estimate"}

# every spelling a derivation file or an assignment may use for a relation
SPELLINGS = {
    "=": EQ, "==": EQ,
    "<=": LE, "≤": LE,
    ">=": GE, "≥": GE,
    "~=": EST, "≈": EST, "approx": EST,
}

_FLIP = {EQ: EQ, LE: GE, GE: LE, EST: EST}

Relation = Optional[str]


# An assumption (``beta >= 1``, ``a > 0``) is an inequality between terms, possibly strict.
# It is not a step relation: a chain never states ``<`` or ``>``.
GT, LT = ">", "<"
CONDITIONS = (GE, GT, LE, LT)
CONDITION_SPELLINGS = {
    ">=": GE, "≥": GE, "=>": GE, r"\geq": GE, r"\ge": GE, r"\geqslant": GE,
    ">": GT, r"\gt": GT,
    "<=": LE, "≤": LE, "=<": LE, r"\leq": LE, r"\le": LE, r"\leqslant": LE,
    "<": LT, r"\lt": LT,
}


def parse_condition(text) -> Relation:
    """The inequality an assumption states (``"≥"`` -> ``">="``, ``"<"`` -> ``"<"``); None otherwise."""
    if not isinstance(text, str):
        return None
    return CONDITION_SPELLINGS.get(text.strip())


def is_strict(condition: Relation) -> bool:
    """Whether an assumption's inequality is strict (``<`` or ``>``)."""
    return condition in (GT, LT)


def parse(text) -> Relation:
    """The relation a spelling names (``"≤"`` -> ``"<="``); None for an unknown spelling."""
    if not isinstance(text, str):
        return None
    return SPELLINGS.get(text.strip())


def compose(a: Relation, b: Relation) -> Relation:
    """The relation between a and c given ``a r1 b`` and ``b r2 c``; None when there is none."""
    if a is None or b is None or a not in _FLIP or b not in _FLIP:
        return None
    if a == EQ:
        return b
    if b == EQ or a == b:
        return a
    return None


def chain(relations: Iterable[Relation]) -> Relation:
    """The strongest relation a chain ``a r1 b r2 c ...`` establishes between its ends.

    An empty chain relates a term to itself: ``=``.
    """
    rel: Relation = EQ
    for r in relations:
        rel = compose(rel, r)
        if rel is None:
            return None
    return rel


def flip(r: Relation) -> Relation:
    """The relation read right to left: ``a <= b`` is ``b >= a``."""
    return _FLIP.get(r) if r is not None else None


def implies(established: Relation, claimed: Relation) -> bool:
    """Whether ``a established b`` implies ``a claimed b``.

    An equality implies both inequalities and an estimate (a term is an unbiased
    estimate of anything it always equals); otherwise only the relation itself.
    """
    if established is None or claimed is None or established not in _FLIP or claimed not in _FLIP:
        return False
    return established == claimed or established == EQ

