"""Gaussian rules: closed-form log densities, moments, factorization over coordinates."""
from __future__ import annotations

import sympy as sp

from ...terms import Normal, depends_on


def normal_moment(k: int, mean, var):
    """E[y^k] for y ~ N(mean, var): sum over even i of C(k, i) mean^(k-i) var^(i/2) (i-1)!!."""
    total = sp.Integer(0)
    for i in range(0, k + 1, 2):
        total += sp.binomial(k, i) * mean ** (k - i) * var ** sp.Rational(i, 2) * sp.factorial2(i - 1)
    return total


def marginal(dist, component):
    """The N(mean_k, var_k) of one coordinate `component` (z[k] or z) under `dist`, or None."""
    if isinstance(dist, Normal):
        return (dist.mean, dist.var) if dist.x == component else None
    if isinstance(dist, sp.Product) and isinstance(dist.function, Normal):
        j = dist.limits[0][0]
        f = dist.function
        if isinstance(f.x, sp.Indexed) and isinstance(component, sp.Indexed) and f.x.base == component.base:
            k = component.indices[0]
            return f.mean.subs(j, k), f.var.subs(j, k)
    return None


def gaussian_expectation(g, var, dist):
    """Closed form of E[g] when g is a polynomial in one coordinate of a Gaussian; else None."""
    comps = _components(g, var)
    if len(comps) != 1:
        return None
    (y,) = comps
    mv = marginal(dist, y)
    if mv is None:
        return None
    poly = g.as_poly(y)
    if poly is None or any(depends_on(c, var) for c in poly.coeffs()):
        return None
    mean, v = mv
    return sp.expand(sum(c * normal_moment(m[0], mean, v) for m, c in zip(poly.monoms(), poly.coeffs())))


def _components(g, var):
    """The coordinates of `var` that g depends on: {z} or {z[j], z[k], ...}."""
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
