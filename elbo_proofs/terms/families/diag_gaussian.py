"""The diagonal Gaussian: a product over coordinates j of N(z_j; mean_j, var_j).

Its coordinates are independent univariate Gaussians, so every closed form is the
univariate one per coordinate (gaussian.py); the log-density is the sum over j.
"""
from __future__ import annotations

import sympy as sp

from .base import Family, coordinate_index, vector_of
from .gaussian import FAMILY as UNIVARIATE
from .gaussian import Normal, normal_moment


class DiagonalGaussian(Family):
    name = "diagonal Gaussian"
    log_rule = "log of a product over coordinates"
    support = "real"
    parameter_names = UNIVARIATE.parameter_names

    def matches(self, term) -> bool:
        return isinstance(term, sp.Product) and isinstance(term.function, Normal)

    def variables(self, term) -> tuple:
        return (vector_of(term.function.x),)

    def log_density(self, term):
        return sp.Sum(term.function.log_density(), *term.limits)

    def coordinate(self, term, component):
        k = coordinate_index(term, component)
        if k is None:
            return None
        j = term.limits[0][0]
        f = term.function
        return f.mean.subs(j, k), f.var.subs(j, k)

    def moment(self, term, component, k: int):
        mv = self.coordinate(term, component)
        return None if mv is None else normal_moment(k, *mv)

    # numeric hooks are per coordinate: the univariate ones broadcast over the coordinates
    def np_log_density(self, x, mean, var):
        return UNIVARIATE.np_log_density(x, mean, var)

    def sample(self, rng, mean, var, size=None):
        return UNIVARIATE.sample(rng, mean, var, size=size)

    def torch_log_density(self, x, mean, var):
        return UNIVARIATE.torch_log_density(x, mean, var)


FAMILY = DiagonalGaussian()
