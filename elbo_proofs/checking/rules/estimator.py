"""Unbiased estimators: the expectation of an estimator over its samples.

With z_1..z_L drawn iid from q (declared under samples:), a sum over l of
f(z_l) has expectation L * E_q[f(z)].  The rule applies only where the sample
sums enter linearly (a constant times a sum, added to sample-free terms);
anything else (exp of a mean, a product of sample terms) is left unproved and
the numeric check decides.
"""
from __future__ import annotations

import sympy as sp

from ...terms import Context, Expectation, free_draws


def sample_names(e, ctx: Context) -> set[str]:
    """The declared samples e is a function of (draws bound by an expectation over them do not count)."""
    return {ix.base.label.name for ix in free_draws(e, set(ctx.samples))}


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
    """sum_{l} f(z_l) -> (count) * E_q[f(z)] when every sample in f is indexed by l.

    Other sums (over pixels j) may surround or sit inside the sum over samples;
    their limits must not depend on the samples.
    """
    if not isinstance(s, sp.Sum):
        return _expect_single(s, ctx)
    body, limits = s.function, list(s.limits)
    while isinstance(body, sp.Sum):
        limits += list(body.limits)
        body = body.function
    names = sample_names(body, ctx)
    if len(names) != 1:
        return None
    (name,) = names
    occurrences = {ix for ix in body.atoms(sp.Indexed) if ix.base.label.name == name}
    index_tuples = {ix.indices for ix in occurrences}
    if len(index_tuples) != 1 or len(next(iter(index_tuples))) != 1:
        return None
    (l,) = index_tuples.pop()
    mine = [lim for lim in limits if lim[0] == l]
    others = [lim for lim in limits if lim[0] != l]
    if len(mine) != 1 or any(x.has(l) for lim in others for x in lim[1:]):
        return None
    _, lo, hi = mine[0]
    _, var, dist = ctx.samples[name]
    summand = body.xreplace({ix: var for ix in occurrences})
    if summand.has(l):
        return None                       # the summand depends on l beyond its draw (l * f(z_l))
    expectation = Expectation(summand, var, dist)
    return (hi - lo + 1) * (sp.Sum(expectation, *others) if others else expectation)


def _expect_single(term, ctx: Context):
    """f(z_k) for one sample z_k -> E_q[f(z)].

    Not under a sum, product or integral: there z_l may be several draws (a power of a
    sum over the samples is not one draw)."""
    if term.has(sp.Sum, sp.Product, sp.Integral):
        return None
    names = sample_names(term, ctx)
    if len(names) != 1:
        return None
    (name,) = names
    _, var, dist = ctx.samples[name]
    occurrences = {ix for ix in term.atoms(sp.Indexed) if ix.base.label.name == name}
    if len(occurrences) != 1:
        return None
    return Expectation(term.xreplace({ix: var for ix in occurrences}), var, dist)
