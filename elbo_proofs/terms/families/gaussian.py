"""The univariate Gaussian N(x; mean, var): term, closed forms, numeric and torch hooks."""
from __future__ import annotations

import math

import sympy as sp

from .base import DensityValue, Family


class Normal(DensityValue):
    """Value of the univariate Gaussian density N(x; mean, var)."""

    def __new__(cls, x, mean, var):
        return super().__new__(cls, x, mean, var)

    @property
    def var(self):
        return self.args[2]

    def log_density(self):
        x, m, v = self.args
        return -sp.log(2 * sp.pi) / 2 - sp.log(v) / 2 - (x - m) ** 2 / (2 * v)

    def _eval_rewrite_as_exp(self, x, m, v, **kwargs):
        return sp.exp(-(x - m) ** 2 / (2 * v)) / sp.sqrt(2 * sp.pi * v)

    def _sympystr(self, printer):
        return "N({}; {}, {})".format(*(printer.doprint(a) for a in self.args))


def normal_moment(k: int, mean, var):
    """E[y^k] for y ~ N(mean, var): sum over even i of C(k, i) mean^(k-i) var^(i/2) (i-1)!!."""
    total = sp.Integer(0)
    for i in range(0, k + 1, 2):
        total += sp.binomial(k, i) * mean ** (k - i) * var ** sp.Rational(i, 2) * sp.factorial2(i - 1)
    return total


class UnivariateGaussian(Family):
    name = "univariate Gaussian"
    log_rule = "Gaussian log-density"
    support = "real"
    parameter_names = ("mean", "variance")

    def matches(self, term) -> bool:
        return isinstance(term, Normal)

    def variables(self, term) -> tuple:
        return (term.x,)

    def log_density(self, term):
        return term.log_density()

    def coordinate(self, term, component):
        return (term.mean, term.var) if term.x == component else None

    def moment(self, term, component, k: int):
        mv = self.coordinate(term, component)
        return None if mv is None else normal_moment(k, *mv)

    def np_log_density(self, x, mean, var):
        import numpy as np

        var = np.asarray(var, dtype=float)
        if np.any(var <= 0):
            raise ValueError("non-positive variance")
        return -0.5 * np.log(2 * np.pi * var) - (x - mean) ** 2 / (2 * var)

    def sample(self, rng, mean, var, size=None):
        import numpy as np

        return rng.normal(mean, np.sqrt(var), size=size)

    def torch_log_density(self, x, mean, var):
        import torch

        var = torch.as_tensor(var, dtype=x.dtype, device=x.device)
        return -0.5 * (math.log(2 * math.pi) + torch.log(var)) - (x - mean) ** 2 / (2 * var)


FAMILY = UnivariateGaussian()
