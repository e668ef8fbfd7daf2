"""Algebraic questions a reader asks when it reads assumptions off a student's steps.

A step that replaces an undeclared density by an explicit formula, or a variable
by ``mu + sigma*eps``, reveals an assumption of the problem.  Finding such a
step in the text is the reader's work; deciding whether the formula *is* a
density of a known family, or whether the substitution turns one line into the
next, is algebra and belongs here.  The reader receives an ``AssumptionChecker``
(the grader passes one) and never decides an equality itself.
"""
from __future__ import annotations

import sympy as sp

from ..terms import Bernoulli, Density, Expectation, Normal, density_vars, is_density

MAX_OPS = 150        # larger formulas are not examined (expand and simplify must stay quick)
MAX_POWER = 8


class AssumptionChecker:
    """The checker's answers to a reader's "is this a family?" and "does this substitution hold?"."""

    def family(self, density: Density, term):
        """The family term (``N(z; m, v)``, ``Bernoulli``, a product of factor densities) that
        ``term`` is, as a density of the same variables as ``density``; None when it is none."""
        if not _small(term):
            return None
        return _as_family(density, term)

    def substitution_holds(self, before, symbol, replacement, after) -> bool:
        """Whether ``before`` with ``symbol`` replaced by ``replacement`` expands to ``after``."""
        try:
            return _expand_all(before.xreplace({symbol: replacement})) == _expand_all(after)
        except Exception:
            return False


def _as_family(d: Density, t):
    if not isinstance(t, sp.Basic) or t.has(d):
        return None
    if isinstance(t, sp.Product) and is_density(t) and tuple(density_vars(t)) == tuple(d.vars):
        return t
    if isinstance(t, (Normal, Bernoulli)) and tuple(t.vars) == tuple(d.vars):
        return t
    if len(d.vars) == 1 and isinstance(d.vars[0], sp.Symbol) and not t.atoms(Density):
        return _gaussian_fit(t, d.vars[0])
    return None


def _small(e, ops: int = MAX_OPS) -> bool:
    """Small enough to expand and simplify quickly: few operations, small powers."""
    try:
        if sp.count_ops(e) > ops:
            return False
        return all(not p.exp.is_Number or abs(p.exp) <= MAX_POWER for p in e.atoms(sp.Pow))
    except Exception:
        return False


def _gaussian_fit(t, v):
    """N(v; mean, var) when t is the normal density written out, else None."""
    try:
        lt = sp.expand(sp.expand_log(sp.log(t), force=True))
        if lt.has(sp.log(v)) or not lt.has(v):
            return None
        poly = sp.Poly(lt, v)
        if poly.degree() != 2:
            return None
        a, b, c = (poly.coeff_monomial(v ** k) for k in (2, 1, 0))
        var = sp.simplify(-1 / (2 * a))
        mean = sp.simplify(b * var)
        if var.has(v) or mean.has(v):
            return None
        gap = sp.simplify(sp.expand_log(c - (-sp.log(2 * sp.pi * var) / 2 - mean ** 2 / (2 * var)), force=True))
        return Normal(v, mean, var) if gap == 0 else None
    except Exception:
        return None


def _expand_all(e):
    try:
        e = e.replace(lambda x: isinstance(x, Expectation),
                      lambda x: Expectation(sp.expand(x.function), x.var, x.dist))
        return sp.expand(e)
    except Exception:
        return e
