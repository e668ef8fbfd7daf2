"""Expectations: linearity, constants out, E[1] = 1, finite sums under E, closed-form
moments of a registered family, reparameterization, importance ratios.

An E is taken in two stages: the ``integrand`` rules see the whole integrand f of
E_{var ~ dist}[f] as written; otherwise f is canonicalized and expanded, and the
``expectation`` rules see one summand at a time.  A summand no rule takes stays an
atom E[term].
"""
from __future__ import annotations

import sympy as sp

from ...terms import Expectation, depends_on
from ...terms.families import family_of
from .engine import rule


@rule("expectation", "term", Expectation, report=False)
def expectation(e, eng):
    """E[var ~ dist](f): taken under the closed form of dist where one is declared."""
    return eng.expect(eng.dist(e.dist), e.var, e.function, raw_dist=e.dist)


# -- the whole integrand -------------------------------------------------------------
@rule("reparameterization", "integrand", priority=10)
def reparameterization(f, eng, dist, var, raw_dist):
    """A declared z = mu + sigma*eps is substituted under E over eps."""
    subs = {s: v for s, v in eng.ctx.lets.items() if depends_on(v, var) and depends_on(f, s)}
    if not subs:
        return None
    f = f.xreplace(subs)
    for s, v in subs.items():
        f = _replace_components(f, s, v, eng.ctx)
    return eng.expect(dist, var, f, raw_dist)


def _raw_terms(f):
    return sp.Add.make_args(sp.expand(f, deep=False, log=False, multinomial=False, power_base=False))


def _is_weighted(f, *dists) -> bool:
    return any(d is not None and sp.Pow(d, -1) in sp.Mul.make_args(f) for d in dists)


@rule("linearity of E", "integrand", priority=20)
def linearity(f, eng, dist, var, raw_dist):
    """E[a + b] = E[a] + E[b], applied before expanding where a summand is a ratio to the density."""
    terms = _raw_terms(f)
    if len(terms) < 2 or not any(_is_weighted(t, dist, raw_dist) for t in terms):
        return None
    return sp.Add(*[eng.expect(dist, var, t, raw_dist) for t in terms])


@rule("E of a ratio to its own density as an integral", "integrand", priority=30)
def importance_ratio(f, eng, dist, var, raw_dist):
    """E_q[f / q] = int f dz (importance weights)."""
    for d in (dist, raw_dist):
        if d is not None and _is_weighted(f, d):
            return eng.canon(sp.Integral(sp.expand(f * d), var))
    return None


# -- one summand ---------------------------------------------------------------------
@rule("constant out of E", "expectation", priority=10)
def constant_out(term, eng, dist, var):
    """E[c] = c for c free of the variable (so E[1] = 1)."""
    return None if depends_on(term, var) else term


@rule("E of a finite sum", "expectation", priority=20)
def finite_sum(term, eng, dist, var):
    """E[c sum_j f_j] = c sum_j E[f_j] when the range does not depend on the variable."""
    const, dep = split(term, var)
    if not isinstance(dep, sp.Sum) or depends_on(dep.limits[0][2], var):
        return None
    inner = eng.expect(dist, var, dep.function)
    return const * eng.canon(sp.Sum(inner, *dep.limits))


def _moments_label(term, eng, dist, var):
    return f"moments of a {family_of(dist).name}"


@rule("closed-form moments", "expectation", priority=30, label=_moments_label)
def closed_form_moments(term, eng, dist, var):
    """E[c g(y)] for a polynomial g in one coordinate y of a registered family (Gaussian:
    E[y^k] from mean and variance; Bernoulli: E[y^k] = mean)."""
    fam = family_of(dist)
    if fam is None or not hasattr(var, "name"):
        return None
    const, dep = split(term, var)
    comps = components(dep, var)
    if len(comps) != 1:
        return None
    (y,) = comps
    if fam.coordinate(dist, y) is None:
        return None
    poly = dep.as_poly(y)
    if poly is None or any(depends_on(c, var) for c in poly.coeffs()):
        return None
    moments = [fam.moment(dist, y, m[0]) for m in poly.monoms()]
    if any(mo is None for mo in moments):
        return None
    return const * sp.expand(sum(c * mo for mo, c in zip(moments, poly.coeffs())))


# -- helpers -------------------------------------------------------------------------
def split(term, var):
    """term = const * dep with const free of var."""
    const, dep = sp.Integer(1), sp.Integer(1)
    for f in sp.Mul.make_args(term):
        if depends_on(f, var):
            dep *= f
        else:
            const *= f
    return const, dep


def components(g, var):
    """The coordinates of ``var`` that g depends on: {z} or {z[j], z[k], ...}."""
    name = var.name
    found = set()
    stack = [g]
    while stack:
        e = stack.pop()
        if isinstance(e, sp.Indexed):
            if e.base.label.name == name:
                found.add(e)
            continue
        if isinstance(e, sp.Symbol):
            if e.name == name:
                found.add(e)
            continue
        stack.extend(e.args)
    return found


def _replace_components(f, s, v, ctx):
    """z_j -> mu_j + sigma_j*eps_j when the vector z is reparameterized."""
    name = s.name
    reps = {}
    for ix in f.atoms(sp.Indexed):
        if ix.base.label.name == name:
            k = ix.indices[0]
            comp = v
            for sym in list(v.free_symbols):
                if ctx.is_vector(sym.name):
                    comp = comp.xreplace({sym: ctx.vectors[sym.name][0][k]})
            reps[ix] = comp
    return f.xreplace(reps) if reps else f
