"""Bernoulli masses: one Bernoulli(x; m) or a product over pixels j of Bernoulli(x_j; m_j)."""
from __future__ import annotations

import sympy as sp

from .base import DensityValue, Family, coordinate_index, vector_of


class Bernoulli(DensityValue):
    """Value of the Bernoulli mass function at x in {0, 1} with mean m in (0, 1)."""

    def __new__(cls, x, mean):
        return super().__new__(cls, x, mean)

    def log_density(self):
        x, m = self.args
        return x * sp.log(m) + (1 - x) * sp.log(1 - m)

    def _sympystr(self, printer):
        return "Bernoulli({}; {})".format(*(printer.doprint(a) for a in self.args))


class BernoulliProduct(Family):
    """Independent Bernoulli coordinates; a single Bernoulli mass is the one-coordinate case."""

    name = "Bernoulli product"
    log_rule = "Bernoulli log-mass"
    support = "binary"
    parameter_names = ("mean",)

    def matches(self, term) -> bool:
        return isinstance(term, Bernoulli) or (isinstance(term, sp.Product) and isinstance(term.function, Bernoulli))

    def variables(self, term) -> tuple:
        if isinstance(term, Bernoulli):
            return (term.x,)
        return (vector_of(term.function.x),)

    def log_density(self, term):
        if isinstance(term, Bernoulli):
            return term.log_density()
        return sp.Sum(term.function.log_density(), *term.limits)

    def coordinate(self, term, component):
        if isinstance(term, Bernoulli):
            return (term.mean,) if term.x == component else None
        k = coordinate_index(term, component)
        return None if k is None else (term.function.mean.subs(term.limits[0][0], k),)

    def moment(self, term, component, k: int):
        # x^k = x on {0, 1}: every moment of order k >= 1 is the mean
        m = self.coordinate(term, component)
        if m is None:
            return None
        return sp.Integer(1) if k == 0 else m[0]

    def np_log_density(self, x, mean):
        from scipy import special

        return special.xlogy(x, mean) + special.xlogy(1 - x, 1 - mean)

    def sample(self, rng, mean, size=None):
        import numpy as np

        return (rng.random(size=size if size is not None else np.shape(mean)) < mean).astype(float)

    def torch_log_density(self, x, mean):
        import torch

        return torch.xlogy(x, mean) + torch.xlogy(1 - x, 1 - mean)


FAMILY = BernoulliProduct()
