"""Monte Carlo estimates: the mean and the variance of an average over independent samples.

With z_1..z_L drawn independently from q (declared under samples:), an E or a Var
taken for z ~ q of a term holding the draws z_l is over the joint law of the draws
(`Context.over_samples`):

* E[c sum_l f(z_l) + a] = c L E_q[f(z)] + a (unbiasedness; `estimator.expectation_over_samples`);
* Var[c sum_l f(z_l) + a] = c^2 L Var_q[f(z)]: the draws are independent, so the variance
  of the sum is the sum of the variances, and identically distributed, so each is Var_q[f];
  one draw, Var[c f(z_k) + a] = c^2 Var_q[f(z)].

c and a must be free of the draws and of the variable.  Anything else (a product of two
sample sums, two different sums over the draws) is left unproved: the numeric check,
which draws the samples, decides it.
"""
from __future__ import annotations

import sympy as sp

from ...terms import Expectation, Variance, depends_on
from .engine import rule
from .estimator import expectation_over_samples


@rule("expectation over iid samples", "term", Expectation, priority=10)
def expectation_of_estimate(e, eng):
    """E over the draws of c sum_l f(z_l) + a is c L E_q[f(z)] + a."""
    if not _only_draws(e, eng.ctx):
        return None
    out = expectation_over_samples(e.function, eng.ctx)
    return None if out is None else eng.canon(out)


@rule("variance of a mean of iid samples", "term", Variance, priority=10)
def variance_of_estimate(e, eng):
    """Var over the draws of c sum_l f(z_l) + a is c^2 L Var_q[f(z)]."""
    if not _only_draws(e, eng.ctx):
        return None
    f, var, dist = e.args
    dep = [t for t in sp.Add.make_args(sp.expand(f, deep=False, log=False)) if eng.ctx.sample_names(t)]
    if len(dep) != 1:
        return None
    factors = sp.Mul.make_args(dep[0])
    random = [x for x in factors if eng.ctx.sample_names(x) or depends_on(x, var)]
    const = sp.Mul(*[x for x in factors if x not in random])
    if len(random) != 1:
        return None
    out = _variance_of_sum(random[0], var, dist, eng.ctx)
    if out is None:
        return None
    return eng.canon(const ** 2 * out)


def _only_draws(e, ctx) -> bool:
    """Over the draws of one declared sample, with the variable itself appearing only through them."""
    if not ctx.over_samples(e):
        return False
    f, var, _ = e.args
    if len(ctx.sample_names(f)) != 1:
        return False
    draws = {ix for ix in f.atoms(sp.Indexed) if ix.base.label.name in ctx.samples}
    return not depends_on(f.xreplace({ix: sp.Integer(0) for ix in draws}), var)


def _variance_of_sum(s, var, dist, ctx):
    """Var of sum_l f(z_l) (count * Var_q[f(z)]) or of one draw f(z_k) (Var_q[f(z)]); None otherwise."""
    if isinstance(s, sp.Sum):
        if len(s.limits) != 1:
            return None
        (l, lo, hi), body = s.limits[0], s.function
        inner = [x for x in sp.Mul.make_args(body) if x.has(l) or ctx.sample_names(x) or depends_on(x, var)]
        const = sp.Mul(*[x for x in sp.Mul.make_args(body) if x not in inner])
        g = sp.Mul(*inner)
        if g.has(sp.Sum, sp.Product, sp.Integral):
            return None
        draws = {ix for ix in g.atoms(sp.Indexed) if ix.base.label.name in ctx.sample_names(g)}
        if {ix.indices for ix in draws} != {(l,)} or any(depends_on(b, var) for b in (lo, hi)):
            return None
        plain = g.xreplace({ix: var for ix in draws})
        if plain.has(l) or depends_on(const, var):
            return None
        return const ** 2 * (hi - lo + 1) * Variance(plain, var, dist)
    if s.has(sp.Sum, sp.Product, sp.Integral):
        return None   # a power or function of a sum over the draws is not one draw
    draws = {ix for ix in s.atoms(sp.Indexed) if ix.base.label.name in ctx.sample_names(s)}
    if len(draws) != 1:
        return None
    plain = s.xreplace({ix: var for ix in draws})
    return Variance(plain, var, dist)
