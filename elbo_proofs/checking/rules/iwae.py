"""The importance-weighted bound (Burda, Grosse and Salakhutdinov, 2016).

With z_1 .. z_K drawn independently from q(z|x) (declared under ``samples:``) and
importance weights w_k = p(x, z_k) / q(z_k|x):

    log p(x) = log E[1/K sum_k w_k] >= E[log 1/K sum_k w_k] >= E[1/K sum_k log w_k] = ELBO.

Three pieces, each a rule:

* an expectation over all the draws (`SampleExpectation`) is linear: a draw-free term
  is a constant, and c * sum_k f(z_k), with the sum over exactly the drawn range, has
  expectation c * K * E_q[f(z)] (each draw is distributed as q); so is f(z_i) for one
  draw z_i in the range.  Anything else (the log of a sum over draws) stays an atom;
* Jensen's inequality over the draws: log E[W] >= E[log W] for W > 0;
* Jensen's inequality for a finite average: log(1/n sum_k w_k) >= 1/n sum_k log w_k
  for w_k > 0 and exactly n terms (the weights 1/n must sum to 1), pointwise and so
  under the expectation over the draws.

The last two are certificate candidates (position ``certificate``): the certifier of
`inequality.py` uses them to show that a gap is non-negative.  Which variable is
drawn, from which density and over which range come from the term and the
declarations, never from a name.
"""
from __future__ import annotations

import sympy as sp

from ...terms import Expectation, SampleExpectation, free_draws, is_density, over_draws
from .engine import rule


# -- the expectation over all the draws -------------------------------------------------
@rule("expectation over iid draws (each distributed as the density they are drawn from)", "term",
      SampleExpectation)
def sample_expectation(e, eng):
    """E[c] = c; E[c sum_k f(z_k)] = c K E_q[f(z)] over exactly the drawn range; E[f(z_i)] = E_q[f(z)]
    for one draw in the range; any other term stays an expectation over the draws."""
    if not _nonempty(e.lower, e.upper) or _bare(e.function, e.var.name):
        return None                       # no draws, or the bare variable beside its draws: no meaning given
    body = sp.expand(eng.canon(e.function))
    dist = eng.dist(e.dist)
    total = sp.Integer(0)
    for term in sp.Add.make_args(body):
        total += _expect_term(term, e, dist, eng)
    return total


def _expect_term(term, e, dist, eng):
    name = e.var.name
    if not free_draws(term, {name}):
        return term                       # free of the draws: q is normalized
    const, dep = sp.Integer(1), sp.Integer(1)
    for f in sp.Mul.make_args(term):
        if free_draws(f, {name}):
            dep *= f
        else:
            const *= f
    linear = _linear(dep, e, dist, eng)
    if linear is not None:
        return const * linear
    return const * SampleExpectation(dep, e.var, e.lower, e.upper, e.dist)


def _linear(dep, e, dist, eng):
    """E over the draws of sum_k f(z_k) (range as drawn) or of f(z_i) (one draw), else None."""
    name = e.var.name
    if isinstance(dep, sp.Sum):
        body, limits = dep.function, list(dep.limits)
        while isinstance(body, sp.Sum):
            limits += list(body.limits)
            body = body.function
        draws = free_draws(body, {name})
        indices = {d.indices[0] for d in draws}
        if len(indices) != 1:
            return None
        (k,) = indices
        mine = [lim for lim in limits if lim[0] == k]
        others = [lim for lim in limits if lim[0] != k]
        if len(mine) != 1 or any(x.has(k) for lim in others for x in lim[1:]):
            return None
        _, lo, hi = mine[0]
        if sp.expand(lo - e.lower) != 0 or sp.expand(hi - e.upper) != 0:
            return None                   # only a sum over exactly the drawn range
        summand = body.xreplace({d: e.var for d in draws})
        if summand.has(k):
            return None                   # the summand depends on k beyond its draw (k * f(z_k))
        inner = eng.expect(dist, e.var, summand, e.dist)
        count = hi - lo + 1
        return eng.canon(count * (sp.Sum(inner, *others) if others else inner))
    draws = free_draws(dep, {name})
    if len(draws) != 1:
        return None
    (d,) = draws
    i = d.indices[0]
    if not i.free_symbols <= dep.free_symbols:
        return None                       # its index is bound inside dep (a sum over the draws)
    if not (_nonempty(e.lower, i) and _nonempty(i, e.upper)):
        return None                       # z_i must be one of the draws
    return eng.expect(dist, e.var, dep.xreplace({d: e.var}), e.dist)


def _bare(e, name) -> bool:
    """Whether the variable itself (not one of its draws z_i) occurs in e."""
    if isinstance(e, sp.Indexed):
        return any(_bare(i, name) for i in e.indices)
    if isinstance(e, sp.Symbol):
        return e.name == name
    return any(_bare(a, name) for a in e.args)


def _nonempty(lo, hi) -> bool:
    """lo <= hi, provably."""
    return bool(sp.expand(hi - lo).is_nonnegative)


@rule("an expectation over the draws written over their variable", "term", Expectation, priority=12)
def written_over_the_variable(e, eng):
    """E[z ~ q(z|x)](f(z_1, ..., z_K)) with z_1 .. z_K declared as drawn for z from q(z|x) is the
    expectation over all the draws, E[z_1, ..., z_K ~ q(z|x)](f) (what the linear rule of
    montecarlo.py does not take)."""
    draws = over_draws(e, eng.ctx)
    return None if draws is None else eng.canon(draws)


# -- certificates -----------------------------------------------------------------------
def positive(e) -> bool:
    """Provably positive: densities, positive symbols and numbers, exp, and sums, products and real
    powers of positive terms (a sum over a provably non-empty range)."""
    if e.is_positive or is_density(e):
        return True
    if isinstance(e, sp.exp):
        return bool(e.args[0].is_real)
    if isinstance(e, (sp.Mul, sp.Add)):
        return all(positive(a) for a in e.args)
    if isinstance(e, sp.Pow):
        return bool(e.exp.is_real) and positive(e.base)
    if isinstance(e, sp.Sum):
        return len(e.limits) == 1 and _nonempty(e.limits[0][1], e.limits[0][2]) and positive(e.function)
    return False


@rule("Jensen over iid draws", "certificate", sp.log)
def jensen_over_draws(node, ctx):
    """log E[W] - E[log W] >= 0 for W > 0, the expectation over the draws."""
    arg = over_draws(node.args[0], ctx) or node.args[0]
    if not isinstance(arg, SampleExpectation) or not positive(arg.function):
        return None
    e = arg
    return [(f"Jensen: log E[{e.function}] >= E[log({e.function})] over the draws",
             node - SampleExpectation(sp.log(e.function), e.var, e.lower, e.upper, e.dist))]


def average(u):
    """(n, w, limits) when u = 1/n sum_{k in limits} w_k with n the number of terms, n >= 1 and
    every w_k > 0; else None."""
    sums = [f for f in sp.Mul.make_args(u) if isinstance(f, sp.Sum)]
    if len(sums) != 1:
        return None
    (s,) = sums
    c = sp.Mul(*[f for f in sp.Mul.make_args(u) if f is not s])
    if len(s.limits) != 1:
        return None
    k, lo, hi = s.limits[0]
    n = hi - lo + 1
    if c.has(k) or not _nonempty(lo, hi) or sp.simplify(c * n - 1) != 0 or not positive(s.function):
        return None
    return n, s.function, s.limits[0]


def _average_gap(lg):
    """log(1/n sum w_k) - 1/n sum log w_k, or None when the argument is no such average."""
    found = average(lg.args[0])
    if found is None:
        return None
    n, w, limits = found
    return lg - sp.Sum(sp.log(w), limits) / n


@rule("Jensen for an average", "certificate", sp.log)
def jensen_average(node, ctx):
    """log(1/n sum_k w_k) - 1/n sum_k log w_k >= 0 for w_k > 0 (log is concave)."""
    gap = _average_gap(node)
    if gap is None:
        return None
    return [(f"Jensen: log of an average >= average of the logs ({node})", gap)]


@rule("Jensen for an average under the expectation over the draws", "certificate", SampleExpectation, Expectation)
def jensen_average_over_draws(node, ctx):
    """E[log(1/n sum_k w_k) - 1/n sum_k log w_k] >= 0 over the draws: the expectation of a
    non-negative function."""
    node = over_draws(node, ctx) or node
    if not isinstance(node, SampleExpectation):
        return None
    out = []
    for lg in node.function.atoms(sp.log):
        gap = _average_gap(lg)
        if gap is not None:
            out.append((f"Jensen under E over the draws: E[log of an average - average of the logs] >= 0 ({lg})",
                        SampleExpectation(gap, node.var, node.lower, node.upper, node.dist)))
    return out
