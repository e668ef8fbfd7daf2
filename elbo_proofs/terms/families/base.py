"""What every stage needs of a distribution family, in one object.

A family is the closed form behind a density term: ``N(x; m, v)``, a product over
coordinates of them, a product of Bernoulli masses.  The checker asks it for the
symbolic log-density, its variables, the moments of a coordinate and the support;
the numeric check for a numpy log-density and a sampler; training for a torch
log-density.  torch is imported only when the torch hook is called.
"""
from __future__ import annotations

import sympy as sp


class DensityValue(sp.Expr):
    """The value of a closed-form density at its point: args are (x, mean, further parameters...)."""

    is_commutative = True
    is_positive = True
    is_real = True

    def __new__(cls, x, mean, *params):
        return sp.Expr.__new__(cls, sp.sympify(x), sp.sympify(mean), *map(sp.sympify, params))

    @property
    def x(self):
        return self.args[0]

    @property
    def mean(self):
        return self.args[1]

    @property
    def vars(self) -> tuple:
        return (self.x,)


class Family:
    """Base class of the distribution families (one subclass and one instance per file)."""

    #: plain name for reports and docs ("univariate Gaussian")
    name: str = ""
    #: name of the rewrite that unfolds the log-density (shown by ``check --rules``)
    log_rule: str = ""
    #: the set one coordinate takes values in: "real" or "binary"
    support: str = "real"
    #: names of the parameters of one coordinate, in the order of the term's arguments
    parameter_names: tuple[str, ...] = ()

    # -- symbolic: what a term of this family is --------------------------------
    def matches(self, term) -> bool:
        """Whether ``term`` is a density value of this family."""
        raise NotImplementedError

    def variables(self, term) -> tuple:
        """The variables ``term`` is a density of (what E and KL integrate over)."""
        raise NotImplementedError

    def log_density(self, term):
        """The closed-form log-density of ``term`` as a SymPy expression."""
        raise NotImplementedError

    def coordinate(self, term, component):
        """The parameters (in ``parameter_names`` order) of the one coordinate ``component``
        (a symbol z or a component z[k]) under ``term``, or None when it is not one of them."""
        return None

    def moment(self, term, component, k: int):
        """E[component^k] under ``term`` in closed form, or None when the family has none."""
        return None

    # -- numeric (numpy) --------------------------------------------------------
    # The numeric and torch hooks work per coordinate, elementwise (arrays broadcast); the
    # log-density of a product over coordinates is the sum of theirs over the coordinates.
    def np_log_density(self, x, *params):
        """Log-density of each coordinate at x; raises ValueError on invalid parameters."""
        raise NotImplementedError

    def sample(self, rng, *params, size=None):
        """Draws from the family with a numpy Generator."""
        raise NotImplementedError

    # -- training (torch, imported lazily) --------------------------------------
    def torch_log_density(self, x, *params):
        """Log-density of each coordinate, for torch tensors."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<family {self.name}>"


def coordinate_index(term: sp.Product, component):
    """For a product over j of f(z_j): the k with component == z[k], or None."""
    (j, _lo, _hi), = term.limits if len(term.limits) == 1 else ((None, None, None),)
    if j is None:
        return None
    x = term.function.args[0]
    if isinstance(x, sp.Indexed) and isinstance(component, sp.Indexed) and x.base == component.base \
            and x.indices == (j,) and len(component.indices) == 1:
        return component.indices[0]
    return None


def vector_of(v):
    """z_j under a product over j stands for the vector z."""
    if isinstance(v, sp.Indexed):
        return sp.Symbol(v.base.label.name, real=True)
    return v
