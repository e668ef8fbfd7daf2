"""The registry of distribution families: one file per family, one lookup per question.

* `family_of(term)` says which family a closed-form density term (``N(z; m, v)``,
  ``prod(j, N(z_j; ...))``, ``Bernoulli(x; m)``) belongs to, or None;
* `Context.family_of(d)` / `declared_family` says which closed form an abstract
  density ``p(x|z)`` was declared to have (terms/context.py);
* `resolve(ctx, d)` combines the two: the (family, closed-form term) of any
  density term, or None.

Adding a family: write one module here with the term class (a ``sympy.Expr``), a
subclass of `Family` and ``FAMILY = TheFamily()``; every module of this package that
defines ``FAMILY`` is registered.  docs/checker.md walks through it.
"""
from __future__ import annotations

import importlib
import pkgutil

from .base import Family

FAMILIES: list[Family] = []


def register(family: Family) -> Family:
    """Add a family to the registry (idempotent); returns it."""
    if all(f is not family for f in FAMILIES):
        FAMILIES.append(family)
    return family


for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    if isinstance(getattr(_module, "FAMILY", None), Family):
        register(_module.FAMILY)


def family_of(term) -> Family | None:
    """The family whose closed form ``term`` is, or None (an abstract density, or not a density)."""
    for fam in FAMILIES:
        if fam.matches(term):
            return fam
    return None


def resolve(ctx, d):
    """(family, closed-form term) of a density term, looking through a declaration; or None."""
    fam = family_of(d)
    if fam is not None:
        return fam, d
    closed = ctx.family_of(d) if hasattr(d, "given") else None
    if closed is None:
        return None
    fam = family_of(closed)
    return (fam, closed) if fam is not None else None


__all__ = ["Family", "FAMILIES", "register", "family_of", "resolve"]
