"""Density terms: abstract densities p(x|z) and the declared families N and Bernoulli.

A density term is the *value* of a density at a point, so `log(q(z))` is an
ordinary SymPy expression.  Abstract densities are positive functions that obey
Bayes' rule; the families carry their closed forms, which the checker unfolds.
"""
from __future__ import annotations

import sympy as sp

from .families import family_of
from .families.base import vector_of as _vector_of
from .families.bernoulli import Bernoulli
from .families.gaussian import Normal

__all__ = ["Density", "Normal", "Bernoulli", "density_vars", "is_density"]


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


def density_vars(d) -> tuple:
    """The variables a density term is a density *of* (what E and KL integrate)."""
    if isinstance(d, Density):
        return d.vars
    fam = family_of(d)
    if fam is not None:
        return fam.variables(d)
    if isinstance(d, sp.Product):
        # a product over coordinates of abstract densities: N(z_j; ...) under prod over j is of z
        inner = density_vars(d.function)
        return tuple(_vector_of(v) for v in inner)
    raise TypeError(f"not a density: {d}")


def is_density(d) -> bool:
    """Whether ``d`` is a density value: abstract, of a registered family, or a product of them."""
    if isinstance(d, Density) or family_of(d) is not None:
        return True
    return isinstance(d, sp.Product) and is_density(d.function)
