"""Unbiased estimators: the expectation of an estimator over its samples.

With z_1..z_L drawn iid from q (declared under samples:), a sum over l of
f(z_l) has expectation L * E_q[f(z)].  The rule applies only where the sample
sums enter linearly (a constant times a sum, added to sample-free terms);
anything else (exp of a mean, a product of sample terms) is left unproved and
the numeric check decides.
"""
from __future__ import annotations

import sympy as sp

from ...terms import Context, Expectation


def sample_names(e, ctx: Context) -> set[str]:
    names = set()
    for ix in e.atoms(sp.Indexed):
        if ix.base.label.name in ctx.samples:
            names.add(ix.base.label.name)
    return names


def has_samples(e, ctx: Context) -> bool:
    return bool(sample_names(e, ctx))


def expectation_over_samples(e, ctx: Context):
    """E over the samples of an estimator, or None where the rule does not apply."""
    total = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(e, deep=False, log=False)):
        if not has_samples(term, ctx):
            total += term
            continue
        factors = sp.Mul.make_args(term)
        dep = [f for f in factors if has_samples(f, ctx)]
        const = sp.Mul(*[f for f in factors if not has_samples(f, ctx)])
        if len(dep) != 1:
            return None
        replaced = _expect_sum(dep[0], ctx)
        if replaced is None:
            return None
        total += const * replaced
    return total


def _expect_sum(s, ctx: Context):
    """sum_{l} f(z_l) -> (count) * E_q[f(z)] when every sample in f is indexed by l."""
    if isinstance(s, sp.Sum):
        (l, lo, hi) = s.limits[0]
        body = s.function
        if isinstance(body, sp.Sum) and not has_samples(body.limits[0][2], ctx):
            # sum over l of a sum over j: swap, the inner limits do not depend on l
            inner = _expect_sum(sp.Sum(body.function, (l, lo, hi)), ctx)
            return None if inner is None else sp.Sum(inner, *body.limits)
        expectation = _expect_one(body, l, ctx)
        return None if expectation is None else (hi - lo + 1) * expectation
    return _expect_one(s, None, ctx)


def _expect_one(body, l, ctx: Context):
    names = sample_names(body, ctx)
    if len(names) != 1:
        return None
    (name,) = names
    index, var, dist = ctx.samples[name]
    occurrences = {ix for ix in body.atoms(sp.Indexed) if ix.base.label.name == name}
    if l is not None and any(ix.indices != (l,) for ix in occurrences):
        return None
    if l is None and len(occurrences) != 1:
        return None
    return Expectation(body.xreplace({ix: var for ix in occurrences}), var, dist)
