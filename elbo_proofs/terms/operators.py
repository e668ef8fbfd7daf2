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
        bound = tuple(self.var) if isinstance(self.var, sp.Tuple) else (self.var,)
        return {s for s in inner if not any(_same_var(s, v) for v in bound)} | (
            self.dist.free_symbols - set(bound)
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


class SampleExpectation(sp.Expr):
    """E over draws var_lo, ..., var_hi, drawn independently from ``dist``, of f.

    ``var`` is the variable of ``dist`` (z); in f the draws are the components z_i
    (``Indexed`` of the base named like ``var``), each distributed as ``dist``.  The
    draws are bound: they are not free in the term, and an estimator that contains
    this term is not, for it, a function of declared samples.
    """

    is_commutative = True

    def __new__(cls, f, var, lo, hi, dist):
        return sp.Expr.__new__(cls, sp.sympify(f), var, sp.sympify(lo), sp.sympify(hi), dist)

    @property
    def function(self):
        return self.args[0]

    @property
    def var(self):
        return self.args[1]

    @property
    def lower(self):
        return self.args[2]

    @property
    def upper(self):
        return self.args[3]

    @property
    def dist(self):
        return self.args[4]

    def is_draw(self, e) -> bool:
        """Whether ``e`` is one of the draws z_i this term binds (by its base, whatever the index)."""
        return isinstance(e, sp.Indexed) and e.base.label.name == self.var.name and len(e.indices) == 1

    def _eval_is_real(self):
        return self.function.is_real

    @property
    def free_symbols(self):
        # the draws z_i and the variable z are bound; the indices of the draws stay (z_K has K free)
        inner = {s for s in self.function.free_symbols
                 if not self.is_draw(s) and getattr(s, "name", None) != self.var.name}
        return inner | self.lower.free_symbols | self.upper.free_symbols | (self.dist.free_symbols - {self.var})

    def _sympystr(self, printer):
        v = printer.doprint(self.var)
        return "E[{}_{}, ..., {}_{} ~ {}]({})".format(
            v, printer.doprint(self.lower), v, printer.doprint(self.upper), printer.doprint(self.dist),
            printer.doprint(self.function))


class Partial(sp.Expr):
    """d/dtheta of a term that depends on theta only through the declarations (an abstract density
    q_theta declared under ``parameters:``, an opaque function declared with theta): the checker's
    name for a derivative SymPy cannot see.  ``Partial(log(q(z)), theta)`` is the score of q.

    Unlike ``sp.Derivative`` it is never evaluated by SymPy (``doit``, ``simplify``): theta is not
    visible in the term, so SymPy would call the derivative 0.
    """

    is_commutative = True

    def __new__(cls, f, theta):
        return sp.Expr.__new__(cls, sp.sympify(f), theta)

    @property
    def expr(self):
        return self.args[0]

    @property
    def theta(self):
        return self.args[1]

    def _eval_is_real(self):
        return self.expr.is_real

    def doit(self, **hints):
        return self

    def _sympystr(self, printer):
        return "d/d{}({})".format(printer.doprint(self.theta), printer.doprint(self.expr))


def over_draws(e, ctx):
    """An E written over a declared sample's variable of a term holding its draws,
    ``E[z ~ q(z|x)](f(z_1, ..., z_L))`` (``Context.over_samples``), as the `SampleExpectation` over
    all the declared draws it stands for; None for any other term."""
    if not isinstance(e, Expectation) or not ctx.over_samples(e):
        return None
    names = ctx.sample_names(e.function)
    if len(names) != 1:
        return None
    index, var, dist = ctx.samples[next(iter(names))]
    if index.name not in ctx.indices:
        return None
    _, lo, hi = ctx.indices[index.name]
    return SampleExpectation(e.function, var, lo, hi, dist)


def draws_as_variables(e):
    """``E[z_k ~ q(z|x)](f(z_k))``, an expectation over one draw z_k of the variable z of its density, as
    ``E[z ~ q(z|x)](f(z))``: the name of a bound variable does not matter.  Left as it is where z itself
    also stands in the body, or where z_k does not (yet: ``E[z_k ~ q](w_k)`` before w_k is replaced by its
    definition)."""
    def wanted(node):
        if not isinstance(node, Expectation) or not isinstance(node.var, sp.Indexed) or len(node.var.indices) != 1:
            return False
        own = [v for v in density_vars(node.dist) if isinstance(v, sp.Symbol) and v.name == node.var.base.label.name]
        if len(own) != 1 or not node.function.has(node.var):
            return False
        draws = {ix: sp.Dummy() for ix in node.function.atoms(sp.Indexed) if ix.base.label.name == own[0].name}
        return own[0] not in node.function.xreplace(draws).free_symbols

    def renamed(node):
        own = next(v for v in density_vars(node.dist) if isinstance(v, sp.Symbol)
                   and v.name == node.var.base.label.name)
        return Expectation(node.function.xreplace({node.var: own}), own, node.dist)
    e = sp.sympify(e)
    return e.replace(wanted, renamed) if any(wanted(n) for n in e.atoms(Expectation)) else e


def free_draws(e, names) -> set:
    """The draws z_i (``Indexed`` of a base in ``names``) in ``e`` that no `SampleExpectation` binds."""
    found = set()
    stack = [e]
    while stack:
        node = stack.pop()
        if isinstance(node, sp.Indexed):
            if node.base.label.name in names:
                found.add(node)
            continue
        if isinstance(node, SampleExpectation):
            inner = free_draws(node.function, names)
            found |= {d for d in inner if not node.is_draw(d)}
            stack.extend(node.args[1:])
            continue
        if isinstance(node, sp.Basic):
            stack.extend(node.args)
    return found


def _same_var(s, var) -> bool:
    name = getattr(var, "name", None)
    return name is not None and getattr(s, "name", None) == name


def depends_on(expr, var) -> bool:
    """Whether ``expr`` depends on ``var`` or one of its components ``var_j``.

    Occurrences bound by an inner E, sum or integral over the same name do not count.
    """
    if isinstance(var, (tuple, sp.Tuple)):   # E over several variables: any one of them
        return any(depends_on(expr, v) for v in var)
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
        bound = tuple(e.var) if isinstance(e.var, sp.Tuple) else (e.var,)
        if any(getattr(v, "name", None) == name for v in bound):
            return False
        return _depends(e.function, name) or _depends(e.dist, name)
    if isinstance(e, SampleExpectation):
        if e.var.name == name:   # the draws and the variable of the density are bound
            return any(_depends(a, name) for a in e.args[2:4])
        return any(_depends(a, name) for a in e.args)
    if isinstance(e, (sp.Sum, sp.Product, sp.Integral)):
        bound = {lim[0].name for lim in e.limits}
        if name in bound:
            return any(_depends(x, name) for lim in e.limits for x in lim[1:])
        return any(_depends(a, name) for a in e.args)
    return any(_depends(a, name) for a in e.args)
