"""Density terms: abstract densities p(x|z) and the declared families N and Bernoulli.

A density term is the *value* of a density at a point, so `log(q(z))` is an
ordinary SymPy expression.  Abstract densities are positive functions that obey
Bayes' rule; the families carry their closed forms, which the checker unfolds.
"""
from __future__ import annotations

import sympy as sp


class Density(sp.Expr):
    """Value of an abstract density: ``Density('p', (x,), (z,))`` is p(x|z).

    ``name`` is the family letter with its index subscript (``q_i``); model
    parameter subscripts (theta, phi) are not part of a density's identity.
    """

    is_commutative = True
    is_positive = True
    is_real = True

    def __new__(cls, name, vars, given=()):
        if isinstance(name, str):
            name = sp.Symbol(name)
        vars = sp.Tuple(*vars) if not isinstance(vars, sp.Tuple) else vars
        given = sp.Tuple(*given) if not isinstance(given, sp.Tuple) else given
        return sp.Expr.__new__(cls, name, vars, given)

    @property
    def name(self) -> str:
        return self.args[0].name

    @property
    def vars(self) -> tuple:
        return tuple(self.args[1])

    @property
    def given(self) -> tuple:
        return tuple(self.args[2])

    def _sympystr(self, printer):
        vs = ", ".join(printer.doprint(v) for v in self.vars)
        if self.given:
            vs += " | " + ", ".join(printer.doprint(g) for g in self.given)
        return f"{self.name}({vs})"


class Normal(sp.Expr):
    """Value of the univariate Gaussian density N(x; mean, var)."""

    is_commutative = True
    is_positive = True
    is_real = True

    def __new__(cls, x, mean, var):
        return sp.Expr.__new__(cls, sp.sympify(x), sp.sympify(mean), sp.sympify(var))

    @property
    def x(self):
        return self.args[0]

    @property
    def mean(self):
        return self.args[1]

    @property
    def var(self):
        return self.args[2]

    @property
    def vars(self) -> tuple:
        return (self.x,)

    def log_density(self):
        x, m, v = self.args
        return -sp.log(2 * sp.pi) / 2 - sp.log(v) / 2 - (x - m) ** 2 / (2 * v)

    def _eval_rewrite_as_exp(self, x, m, v, **kwargs):
        return sp.exp(-(x - m) ** 2 / (2 * v)) / sp.sqrt(2 * sp.pi * v)

    def _sympystr(self, printer):
        return "N({}; {}, {})".format(*(printer.doprint(a) for a in self.args))


class Bernoulli(sp.Expr):
    """Value of the Bernoulli mass function at x in {0, 1} with mean m in (0, 1)."""

    is_commutative = True
    is_positive = True
    is_real = True

    def __new__(cls, x, mean):
        return sp.Expr.__new__(cls, sp.sympify(x), sp.sympify(mean))

    @property
    def vars(self) -> tuple:
        return (self.args[0],)

    def log_density(self):
        x, m = self.args
        return x * sp.log(m) + (1 - x) * sp.log(1 - m)

    def _sympystr(self, printer):
        return "Bernoulli({}; {})".format(*(printer.doprint(a) for a in self.args))


def density_vars(d) -> tuple:
    """The variables a density term is a density *of* (what E and KL integrate)."""
    if isinstance(d, (Density, Normal, Bernoulli)):
        return d.vars
    if isinstance(d, sp.Product):
        inner = density_vars(d.function)
        return tuple(_vector_of(v) for v in inner)
    raise TypeError(f"not a density: {d}")


def _vector_of(v):
    # N(z_j; ...) under prod over j is a density of the vector z
    if isinstance(v, sp.Indexed):
        return sp.Symbol(v.base.label.name, real=True)
    return v




def is_density(d) -> bool:
    if isinstance(d, (Density, Normal, Bernoulli)):
        return True
    return isinstance(d, sp.Product) and is_density(d.function)
