"""Definitions of the operators: KL, entropy, variance.

KL(a || b) = E_a[log a - log b], H[a] = -E_a[log a], Var[f] = E[f^2] - E[f]^2.
Derivatives are the `gradients` family of rules.
"""
from __future__ import annotations

import sympy as sp

from ...terms import KL, Entropy, Expectation, Variance, density_vars
from .engine import rule


def var_of(d):
    """The variable (or tuple of variables) a density term is over."""
    vs = density_vars(d)
    return vs[0] if len(vs) == 1 else sp.Tuple(*vs)


@rule("definition of KL", "term", KL)
def kl_definition(e, eng):
    """KL(a || b) = E_a[log a - log b]."""
    a, b = e.args
    return eng.expect(eng.dist(a), var_of(a), sp.log(a) - sp.log(b))


@rule("definition of entropy", "term", Entropy)
def entropy_definition(e, eng):
    """H[a] = -E_a[log a]."""
    a = e.args[0]
    return eng.canon(-Expectation(sp.log(a), var_of(a), a))


@rule("variance as E[f^2] - E[f]^2", "term", Variance)
def variance_definition(e, eng):
    """Var[f] = E[f^2] - E[f]^2 under the same density."""
    f, v, d = e.args
    return eng.canon(Expectation(f**2, v, d) - Expectation(f, v, d) ** 2)
