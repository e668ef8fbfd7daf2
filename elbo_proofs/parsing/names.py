"""Turning names into terms, shared by every front end.

`mu_j` is the j-th component of the vector mu when j is an index; `p_theta(x|z)`
is the density p (model-parameter subscripts are not part of its identity);
`x_hat_j` is a component of an opaque decoder output when x_hat is declared a
function of z.  Strict resolvers (YAML) reject unknown names; lenient ones
(student LaTeX) declare them on first use.
"""
from __future__ import annotations

import sympy as sp

from ..errors import InputError
from ..terms import Context, Density, Normal

FUNCTIONS = {
    "log": sp.log,
    "ln": sp.log,
    "exp": sp.exp,
    "sqrt": sp.sqrt,
    "abs": sp.Abs,
    "sigmoid": lambda a: 1 / (1 + sp.exp(-a)),
    "softplus": lambda a: sp.log(1 + sp.exp(a)),
}
CONSTANTS = {"pi": sp.pi}
# Subscripts that name model parameters, not distinct densities: p_theta is p.
PARAMETER_SUBSCRIPTS = {"theta", "phi", "psi", "lambda", "eta", "omega", "w", "W"}
# Names a lenient reader assumes positive on first use.
POSITIVE_NAMES = {"sigma", "tau", "s", "lambda", "L", "N", "D", "K", "d", "k", "n"}
INTEGER_NAMES = {"L", "N", "D", "K", "d", "k", "n", "M", "T"}


def parameter_names(ctx: Context, density: str) -> set:
    """The names of the declared parameters of a density letter (``Context.parameters``): q_mu is q when
    mu is one of q's parameters."""
    return {getattr(s, "name", str(s)) for s in ctx.parameters.get(density, ())}


class PointlessNormal:
    """N(mean, var) written without its point: bound to a variable by E, KL or a declaration."""

    def __init__(self, mean, var):
        self.mean, self.var = mean, var

    def at(self, point, context: Context):
        """The density term at ``point``; a vector point gives the diagonal product."""
        name = getattr(point, "name", None)
        if name is not None and context.is_vector(name):
            base, dim = context.vectors[name]
            j = index_for(context, dim)
            mean = _component(self.mean, j, context)
            var = _component(self.var, j, context)
            return sp.Product(Normal(base[j], mean, var), (j, 1, dim))
        return Normal(point, self.mean, self.var)


def index_for(context: Context, dim) -> sp.Symbol:
    """The declared index that runs over 1..dim (a fresh one if none is declared)."""
    for sym, lo, hi in context.indices.values():
        if lo == 1 and hi == dim:
            return sym
    name = "j" if "j" not in context.indices else f"j{len(context.indices)}"
    return context.index(name, sp.Integer(1), dim)


def _component(value, j, context: Context):
    """mu -> mu_j for a vector mu; sigma^2 -> sigma_j^2; scalars and I stay."""
    if isinstance(value, sp.Symbol) and value.name == "I":
        return sp.Integer(1)
    repl = {}
    for s in value.free_symbols:
        if isinstance(s, sp.Symbol) and context.is_vector(s.name):
            repl[s] = context.vectors[s.name][0][j]
    return value.xreplace(repl) if repl else value


class NameResolver:
    def __init__(self, context: Context, *, strict: bool = True):
        self.context = context
        self.strict = strict

    # -- symbols -----------------------------------------------------------
    def name(self, text: str):
        ctx = self.context
        if text in CONSTANTS:
            return CONSTANTS[text]
        if text in ctx.symbols:
            return ctx.symbols[text]
        if text in ctx.indices:
            return ctx.indices[text][0]
        if text in ctx.vectors:
            return ctx.symbol(text)  # the whole vector, as a variable of densities
        if "_" in text:
            base, sub = text.rsplit("_", 1)
            comp = self._component(base, sub)
            if comp is not None:
                return comp
        if text in ctx.functions:
            return sp.Function(text, real=True)(*ctx.functions[text])
        if text == "I":
            return sp.Symbol("I")
        if self.density_name(text) is not None and any(d.name == self.density_name(text) for d in ctx.families):
            return self.bare_density(text)
        if self.strict:
            raise InputError(f"unknown symbol '{text}' (declare it under symbols:)")
        return self._declare_lenient(text)

    def _component(self, base: str, sub: str):
        ctx = self.context
        if sub.isdigit():
            idx = sp.Integer(int(sub))
        elif sub in ctx.indices:
            idx = ctx.indices[sub][0]
        elif base in ctx.samples and ctx.kinds.get(sub) in ("positive integer", "integer"):
            idx = ctx.symbols[sub]          # z_K: the draw numbered by a declared integer
        else:
            return None
        if base in ctx.functions:
            # x_hat_j, a component of a decoder output that depends on z
            return sp.Function(base, real=True)(idx, *ctx.functions[base])
        if base in ctx.vectors or base in ctx.samples:
            if base not in ctx.vectors:
                ctx.vector(base, ctx.indices[sub][2] if sub in ctx.indices else sp.Integer(1))
            return ctx.vectors[base][0][idx]
        if not self.strict and sub.isdigit():
            # mu_1, sigma_2: numbered parameters are names of their own unless mu is a vector
            return None
        if not self.strict and (base in ctx.symbols or base.isalpha()):
            if base not in ctx.kinds and base in POSITIVE_NAMES:
                ctx.kinds[base] = "positive"   # sigma_j: components of a lenient positive name
            ctx.vector(base, ctx.indices[sub][2] if sub in ctx.indices else sp.Symbol("d", integer=True, positive=True))
            return ctx.vectors[base][0][idx]
        return None

    def _declare_lenient(self, text: str):
        head = text.split("_")[0]
        if head in INTEGER_NAMES:
            return self.context.declare(text, "positive integer")
        if head in POSITIVE_NAMES:
            return self.context.declare(text, "positive")
        return self.context.declare(text, "real")

    # -- calls --------------------------------------------------------------
    def is_density_name(self, text: str) -> bool:
        return self.density_name(text) is not None

    def density_name(self, text: str):
        """'p_theta' -> 'p'; 'q_i' -> 'q_i'; None when text names no density."""
        ctx = self.context
        head, _, sub = text.partition("_")
        if head not in ctx.density_names:
            return None
        if not sub or sub in PARAMETER_SUBSCRIPTS or sub in parameter_names(ctx, head):
            return head
        return text

    def call(self, text: str, args: list, given: list | None = None):
        if given is None and text in FUNCTIONS:
            if len(args) != 1:
                raise InputError(f"{text}() takes one argument, got {len(args)}")
            return FUNCTIONS[text](args[0])
        dname = self.density_name(text)
        if dname is not None:
            return self.density(dname, args, given or [])
        if text in self.context.functions:
            return sp.Function(text, real=True)(*args)
        if "_" in text:
            # x_hat_j(z_l): component j of a declared function, at another point
            base, sub = text.rsplit("_", 1)
            if base in self.context.functions and (sub in self.context.indices or sub.isdigit()):
                idx = self.context.indices[sub][0] if sub in self.context.indices else sp.Integer(int(sub))
                return sp.Function(base, real=True)(idx, *args)
        if self.strict:
            raise InputError(f"unknown function '{text}'")
        return sp.Function(text, real=True)(*args)

    def density(self, name: str, vars: list, given: list):
        for a in list(vars) + list(given):
            if isinstance(a, PointlessNormal) or not isinstance(a, sp.Expr):
                raise InputError(f"density {name}(...) takes variables as arguments")
        return Density(name, tuple(vars), tuple(given))

    def bare_density(self, text: str):
        """A density named without arguments (`q` in KL(q || p)): the declared one."""
        dname = self.density_name(text)
        found = [d for d in self.context.families if d.name == dname]
        if len(found) == 1:
            return found[0]
        if not found:
            raise InputError(f"'{text}' is used as a density, but no {text}(...) is declared under distributions:")
        raise InputError(f"'{text}' is ambiguous: declared as " + ", ".join(map(str, found)))
