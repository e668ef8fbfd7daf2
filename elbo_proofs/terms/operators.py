"""Unevaluated operators of the term language: E, KL and H.

Like SymPy stats' ``Expectation``, they stay as written until the checker
rewrites them, so every rewrite is one named, recorded step.
"""
from __future__ import annotations

import sympy as sp

from .densities import density_vars


class Expectation(sp.Expr):
    """E_{var ~ dist}[f]; ``dist`` is a density term whose variable is ``var``."""

    is_commutative = True

    def __new__(cls, f, var, dist):
        return sp.Expr.__new__(cls, sp.sympify(f), var, dist)

    @property
    def function(self):
        return self.args[0]

    @property
    def var(self):
        return self.args[1]

    @property
    def dist(self):
        return self.args[2]

    def _eval_is_real(self):
        return self.function.is_real

    @property
    def free_symbols(self):
        # the bound variable (and its components) is not free
        inner = self.function.free_symbols | self.dist.free_symbols
        return {s for s in inner if not _same_var(s, self.var)} | (
            self.dist.free_symbols - {self.var}
        )

    def _sympystr(self, printer):
        return "E[{} ~ {}]({})".format(
            printer.doprint(self.var), printer.doprint(self.dist), printer.doprint(self.function)
        )


class KL(sp.Expr):
    """KL(a || b) between two density terms over the same variable."""

    is_commutative = True
    is_real = True
    is_nonnegative = True

    def __new__(cls, a, b):
        return sp.Expr.__new__(cls, a, b)

    @property
    def var(self):
        vs = density_vars(self.args[0])
        return vs[0] if len(vs) == 1 else sp.Tuple(*vs)

    def _sympystr(self, printer):
        return "KL({} || {})".format(*(printer.doprint(a) for a in self.args))


class Entropy(sp.Expr):
    """Differential entropy H[a] of a density term."""

    is_commutative = True
    is_real = True

    def __new__(cls, a):
        return sp.Expr.__new__(cls, a)

    def _sympystr(self, printer):
        return "H[{}]".format(printer.doprint(self.args[0]))


class Variance(sp.Expr):
    """Var[f] under ``dist`` (students write Var(z) for the variance of z under q)."""

    is_commutative = True
    is_real = True
    is_nonnegative = True

    def __new__(cls, f, var, dist):
        return sp.Expr.__new__(cls, sp.sympify(f), var, dist)

    def _sympystr(self, printer):
        return "Var[{} ~ {}]({})".format(*(printer.doprint(a) for a in (self.args[1], self.args[2], self.args[0])))


def _same_var(s, var) -> bool:
    name = getattr(var, "name", None)
    return name is not None and getattr(s, "name", None) == name


def depends_on(expr, var) -> bool:
    """Whether ``expr`` depends on ``var`` or one of its components ``var_j``.

    Occurrences bound by an inner E, sum or integral over the same name do not count.
    """
    name = var.name if hasattr(var, "name") else str(var)
    return _depends(expr, name)


def _depends(e, name) -> bool:
    if isinstance(e, sp.Symbol):
        return e.name == name
    if isinstance(e, sp.Indexed):
        return e.base.label.name == name or any(_depends(i, name) for i in e.indices)
    if isinstance(e, sp.IndexedBase):
        return e.label.name == name
    if isinstance(e, Expectation):
        if getattr(e.var, "name", None) == name:
            return False
        return _depends(e.function, name) or _depends(e.dist, name)
    if isinstance(e, (sp.Sum, sp.Product, sp.Integral)):
        bound = {lim[0].name for lim in e.limits}
        if name in bound:
            return any(_depends(x, name) for lim in e.limits for x in lim[1:])
        return any(_depends(a, name) for a in e.args)
    return any(_depends(a, name) for a in e.args)
