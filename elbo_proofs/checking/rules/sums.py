"""Finite sums and products: linear, constant summands counted, bound indices renamed
to the declared index of their range."""
from __future__ import annotations

import sympy as sp

from ...terms import is_density
from .engine import rule


@rule("finite sum", "term", sp.Sum, report=False)
def finite_sum(e, eng):
    """Sums are linear; a summand free of the index counts (hi - lo + 1) times (recorded as
    "sum of a constant").  Limits are handled innermost first; SymPy merges nested sums,
    so the result may be one Sum with several limits."""
    renames = {}
    limits = []
    for j, lo, hi in e.limits:
        j2 = _canonical_index(eng.ctx, j, lo, hi)
        if j2 != j and not any(j2 == lim[0] for lim in e.limits):
            renames[j] = j2
        limits.append((renames.get(j, j), lo, hi))
    result = eng.canon(e.function.xreplace(renames) if renames else e.function)
    for j, lo, hi in limits:
        total = sp.Integer(0)
        for term in sp.Add.make_args(sp.expand(result)):
            const, dep = _split_index(term, j)
            if dep == 1:
                if const != 0:
                    eng.note("sum of a constant")
                total += const * (hi - lo + 1)
            else:
                total += const * sp.Sum(dep, (j, lo, hi))
        result = total
    return result


@rule("finite product (kept)", "term", sp.Product, priority=90, report=False)
def finite_product(e, eng):
    """A product that is not a density keeps its limits; its factor is canonicalized."""
    if is_density(e):
        return None
    return sp.Product(eng.canon(e.function), *e.limits)


def _canonical_index(ctx, j, lo, hi):
    for sym, l2, h2 in ctx.indices.values():
        if l2 == lo and h2 == hi:
            return sym
    return j


def _split_index(term, j):
    const, dep = sp.Integer(1), sp.Integer(1)
    for f in sp.Mul.make_args(term):
        if f.has(j):
            dep *= f
        else:
            const *= f
    return const, dep
