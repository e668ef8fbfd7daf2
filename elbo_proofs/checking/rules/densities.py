"""Densities: declared families, closed-form log-densities, the chain rule and Bayes' rule,
marginalization, and integrals against a density.

Which densities are the generative model's (they factor by the chain rule and obey
Bayes' rule) is a declaration: `Context.model_densities`.  Other abstract densities
(a variational q) are atoms.  Closed forms come from the family registry
(terms/families), never from the name of a density.
"""
from __future__ import annotations

import sympy as sp

from ...terms import Density, density_vars, is_density
from ...terms.families import family_of
from .engine import rule


# -- a density value --------------------------------------------------------------
@rule("density as exp of its log", "term", priority=10, report=False)
def density_value(e, eng):
    """A density value is exp of its canonical log, so products of densities compare."""
    if not is_density(e):
        return None
    return sp.exp(eng.log(e))


# -- declared families ------------------------------------------------------------
def _declared_label(d, eng, *site):
    return f"declared family of {d.name}"


@rule("declared family", "dist", Density, label=_declared_label)
def declared_distribution(d, eng):
    """E and KL under a declared density are taken under its declared closed form."""
    return eng.ctx.family_of(d)


@rule("declared family", "log", Density, priority=20, label=_declared_label)
def declared_log(d, eng):
    """log d(x) for a declared density is the log of its declared closed form."""
    fam = eng.ctx.family_of(d)
    return None if fam is None else eng.log(fam)


def _closed_form_label(u, eng, *site):
    return family_of(u).log_rule


@rule("closed-form log-density", "log", priority=20, label=_closed_form_label)
def closed_form_log(u, eng):
    """The log of a density of a registered family is that family's closed form."""
    fam = family_of(u)
    return None if fam is None else eng.canon(fam.log_density(u))


@rule("log of a product over coordinates", "log", sp.Product, priority=30)
def log_product_over_coordinates(u, eng):
    """log prod_j d_j(z_j) = sum_j log d_j(z_j) for densities of coordinates."""
    if not is_density(u):
        return None
    return eng.canon(sp.Sum(sp.log(u.function), *u.limits))


# -- the model's densities: chain rule and Bayes' rule ----------------------------------
def _chain_label(d, eng, *site):
    return "Bayes' rule" if d.given else "joint as conditional times marginal"


@rule("chain rule", "log", Density, priority=40, label=_chain_label)
def chain_rule(d, eng):
    """Model densities factor in a fixed order: p(a, b | c) = p(a | b, c) p(b | c),
    so p(z|x) = p(x|z) p(z) / p(x) (Bayes' rule) and p(x, z) = p(x|z) p(z)."""
    if d.name not in eng.ctx.model_densities or eng.ctx.family_of(d) is not None:
        return None
    vars_ = list(d.vars)
    given = list(d.given)
    if given:
        result = sp.expand(joint_log(eng, d.name, vars_ + given) - joint_log(eng, d.name, given))
    elif len(vars_) > 1:
        result = joint_log(eng, d.name, vars_)
    else:
        return None
    return None if result == sp.log(d) else result


def joint_log(eng, name, vars_):
    """log of the joint density of ``vars_`` under the model, factored in the fixed order."""
    vars_ = model_order(eng.ctx, name, vars_)
    total = sp.Integer(0)
    for i, v in enumerate(vars_):
        factor = Density(name, (v,), tuple(vars_[i + 1:]))
        fam = eng.ctx.family_of(factor)
        if fam is not None:
            eng.note(f"declared family of {name}")
            total += eng.log(fam)
        else:
            total += sp.log(factor)
    return total


def model_order(ctx, name, vars_):
    """The variables in the order the chain rule factors them: children before their parents,
    as the declarations of the model's conditionals say (p(x|z) declared: p(x, z) = p(x|z) p(z)),
    then by name, so the order is the same for every term of a context."""
    parents: dict = {}
    for key in ctx.families:
        if getattr(key, "name", None) == name and key.given:
            for v in key.vars:
                parents.setdefault(v, set()).update(key.given)
    heights: dict = {}

    def height(v, visiting=frozenset()):
        if v in heights:
            return heights[v]
        if v in visiting:
            return 0
        h = max((1 + height(g, visiting | {v}) for g in parents.get(v, ())), default=0)
        heights[v] = h
        return h

    return sorted(vars_, key=lambda v: (-height(v), str(v)))


# -- integrals ------------------------------------------------------------------------
def over_the_whole_space(e: sp.Integral) -> bool:
    """One integration variable with no limits (or -oo..oo): the integral a density normalizes."""
    if len(e.limits) != 1:
        return False
    lim = e.limits[0]
    return len(lim) == 1 or (len(lim) == 3 and lim[1] == -sp.oo and lim[2] == sp.oo)


@rule("marginalization", "term", sp.Integral, priority=20)
def marginalization(e, eng):
    """int p(x, z) dz = p(x), also for p(x|z) p(z) and for conditionals p(z|x)."""
    if not over_the_whole_space(e):
        return None
    factors = sp.Mul.make_args(e.function)
    var = e.limits[0][0]
    model = eng.ctx.model_densities
    if not factors or not all(isinstance(f, Density) and f.name in model for f in factors):
        return None
    names = {f.name for f in factors}
    if len(names) != 1:
        return None
    name = names.pop()
    given_all = set().union(*[set(f.given) for f in factors])
    vars_all = set().union(*[set(f.vars) for f in factors])
    given = given_all - vars_all
    if var not in vars_all:
        return None
    product = sp.Add(*[eng.log(f) for f in factors])
    joint = eng.log(Density(name, tuple(sorted(vars_all, key=str)), tuple(sorted(given, key=str))))
    if sp.expand(product - joint) != 0:
        return None
    rest = tuple(sorted(vars_all - {var}, key=str))
    if not rest:
        return sp.Integer(1)
    return sp.exp(eng.log(Density(name, rest, tuple(sorted(given, key=str)))))


@rule("integral against a density as E", "term", sp.Integral, priority=30)
def integral_as_expectation(e, eng):
    """int d(v) f dv = E_{v ~ d}[f] for a density d of v alone (p(x, z) does not integrate to 1 over z),
    over the whole space of v."""
    if not over_the_whole_space(e):
        return None
    factors = sp.Mul.make_args(e.function)
    var = e.limits[0][0]
    for k, fac in enumerate(factors):
        if is_density(fac) and tuple(density_vars(fac)) == (var,):
            rest = sp.Mul(*(factors[:k] + factors[k + 1:]))
            return eng.expect(eng.dist(fac), var, rest)
    return None


@rule("integral (kept)", "term", sp.Integral, priority=90, report=False)
def integral_kept(e, eng):
    """Any other integral keeps its limits; its integrand is canonicalized."""
    return sp.Integral(eng.canon(e.function), *e.limits)


@rule("abstract density (atom)", "log", Density, priority=90, report=False)
def abstract_density_log(d, eng):
    """log d(x) of an abstract density with no declared family stays as it is."""
    return sp.log(d)
