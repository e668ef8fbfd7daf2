"""Declared factorizations: a joint density as the product of its factors (a Bayesian network).

A file declares ``factorizations: {p(x, z1, z2): p(z2) p(z1|z2) p(x|z1)}`` (``Context.factorize``
checks that the factors form a network: one factor per variable, each conditioned on variables of
the joint or on its given variables, no cycle).  The rules here use only what that declaration
implies:

* the log of a declared joint is the sum of the logs of its factors;
* an E (and so a KL or an entropy) under a declared joint is the iterated E under its factors,
  the parents' factors outside: E_{q(z1, z2|x)}[f] = E_{q(z1|x)}[E_{q(z2|z1)}[f]];
* where the factors are densities of the joint's own letter (the network of ``p``), every other
  density of that letter over the network's variables, conditioned on all of the joint's given
  variables, is written by the chain rule in the network's topological order, and a conditional
  p(v | C) whose conditioning set holds the parents of v (and only variables before v, which are no
  descendants of v) is the declared factor p(v | parents(v)): the local Markov property.  Anything
  else (a marginal such as p(z1) in the network above) stays an atom.

So log p(z1, z2|x) = log p(x|z1) + log p(z1|z2) + log p(z2) - log p(x), and the chain rule of the
KL divergence holds for declared factorizations.
"""
from __future__ import annotations

import sympy as sp

from ...terms import KL, Density, Expectation
from ...terms.context import topological_order
from .engine import rule


def _factors(ctx, d):
    """The declared factors of the joint ``d`` (the same density: letter, variables, conditioning), or None."""
    if d in ctx.factorizations:
        return ctx.factorizations[d]
    for joint, factors in ctx.factorizations.items():
        if (joint.name == d.name and set(joint.vars) == set(d.vars) and len(joint.vars) == len(d.vars)
                and tuple(joint.given) == tuple(d.given)):
            return factors
    return None


def _factor_log(eng, f):
    """log of a declared factor: through its declared family where it has one."""
    return eng.log(f)


def _atom_log(eng, d):
    fam = eng.ctx.family_of(d)
    return sp.log(d) if fam is None else eng.log(fam)


# -- the log of a joint, and of the other densities of the network -----------------------
def _network_label(d, eng, *site):
    if eng.ctx.network(d.name) is not None and _factors(eng.ctx, d) is None and len(d.vars) == 1:
        order, given, parents = eng.ctx.network(d.name)
        if tuple(d.given) == tuple(parents.get(d.vars[0], ())):
            return "declared factor"
    return "declared factorization" if _factors(eng.ctx, d) is not None else "chain rule in the declared network"


@rule("declared factorization", "log", Density, priority=35, label=_network_label)
def factorized_log(d, eng):
    """log of a declared joint = sum of the logs of its factors; another density of the network's
    letter: the chain rule in the network's order with the local Markov property."""
    factors = _factors(eng.ctx, d)
    if factors is not None:
        return sp.Add(*[_factor_log(eng, f) for f in factors])
    net = eng.ctx.network(d.name)
    if net is None or eng.ctx.family_of(d) is not None:
        return None
    order, given, parents = net
    if len(d.vars) == 1 and d.vars[0] in parents and tuple(d.given) == tuple(parents[d.vars[0]]):
        return sp.log(d)   # a declared factor is an atom
    a, b = set(d.vars), set(d.given)
    if len(a) != len(d.vars) or len(b) != len(d.given) or a & b:
        return None
    if not a <= set(order) or not b <= set(order) | set(given) or not set(given) <= b:
        return None
    cond = b - set(given)
    return sp.expand(_joint_log(eng, d.name, a | cond, order, given, parents)
                     - _joint_log(eng, d.name, cond, order, given, parents))


def _joint_log(eng, name, subset, order, given, parents):
    """log name(subset | given) by the chain rule in the network's order, with the declared factor
    where the conditioning set holds the variable's parents."""
    total = sp.Integer(0)
    before = []
    for v in order:
        if v not in subset:
            continue
        cond = set(before) | set(given)
        pa = parents.get(v, ())
        if set(pa) <= cond:
            total += _factor_log(eng, Density(name, (v,), tuple(pa)))
        else:
            total += _atom_log(eng, Density(name, (v,), tuple(before) + tuple(given)))
        before.append(v)
    return total


# -- an E under a declared joint ------------------------------------------------------------
@rule("E under a declared factorization as iterated E", "integrand", priority=5)
def iterated_expectation(f, eng, dist, var, raw_dist):
    """E_{p(a, b|c)}[f] = E_{p(a|c)}[E_{p(b|a)}[f]] for a declared factorization, the factors in the
    network's order (each factor's parents bound outside it)."""
    for d in (raw_dist, dist):
        if not isinstance(d, Density):
            continue
        factors = _factors(eng.ctx, d)
        if factors is None:
            continue
        by_var = {fac.vars[0]: fac for fac in factors}
        parents = {v: tuple(fac.given) for v, fac in by_var.items()}
        order = topological_order(tuple(d.vars), parents)
        body = f
        for v in reversed(order):
            body = Expectation(body, v, by_var[v])
        return eng.canon(body)
    return None


# -- inequalities: the posterior of a declared model ----------------------------------------------
@rule("KL from the posterior of a declared network", "certificate", Expectation)
def posterior_kl(node, ctx):
    """For an E under a density d over some variables of a declared joint of the model (p(x, z1, z2)),
    KL(d || p(those variables | the others)) >= 0: the candidate that certifies log p(x) >= ELBO."""
    d = node.dist
    if not isinstance(d, Density):
        return ()
    found = []
    for joint in ctx.factorizations:
        if joint.name not in ctx.model_densities or d.name == joint.name:
            continue
        if not set(d.vars) < set(joint.vars) or len(set(d.vars)) != len(d.vars):
            continue
        rest = tuple(v for v in joint.vars if v not in d.vars) + tuple(joint.given)
        post = Density(joint.name, d.vars, rest)
        found.append((f"KL({d} || {post}) >= 0", KL(d, post)))
    return found
