"""Terms as plain data, and back, without evaluating anything.

A checkpoint keeps the objective it was trained on. It is stored as a tree of
lists, strings and booleans (JSON-like data that `torch.load(weights_only=True)`
accepts) and read back here node by node: every node is one of a fixed set of
constructors, every name is checked, and sizes are bounded before SymPy sees
them. Nothing read from a file ever reaches `sympify`, `eval` or pickle.

Node forms::

    ["int", "12"]            ["rat", "1", "2"]          ["const", "pi" | "E" | "I"]
    ["sym", name, [assumption, ...]]
    ["add", a, b, ...]       ["mul", a, b, ...]         ["pow", base, exponent]
    ["fn", "log" | "exp" | "Abs", arg]
    ["apply", name, [assumption, ...], arg, ...]   (an undefined function such as x_hat(j, z[l]))
    ["indexed", ["sym", ...], index, ...]    (x[j])
    ["sum", body, [var, lo, hi], ...]        ["product", body, [var, lo, hi], ...]
    ["density", name, [var, ...], [given, ...]]      (an abstract density such as p(x|z))
    ["draws", body, var, lo, hi, density]            (an expectation over the draws var_lo .. var_hi)
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.core.function import AppliedUndef

from .densities import Density
from .operators import SampleExpectation

__all__ = ["TermDataError", "term_to_data", "term_from_data", "LIMITS"]

LIMITS = {
    "nodes": 20_000,  # nodes in the tree
    "depth": 64,  # nesting of nodes
    "digits": 30,  # digits of an integer literal
    "power": 64,  # product of the integer exponents along any path
    "name": 64,  # characters of a name
}

# The assumptions a stored symbol may carry; anything else is refused.
ASSUMPTIONS = ("real", "positive", "nonnegative", "negative", "nonpositive", "integer", "finite")
FUNCTIONS = {"log": sp.log, "exp": sp.exp, "Abs": sp.Abs}
CONSTANTS = {"pi": sp.pi, "E": sp.E, "I": sp.I}
_NAME = re.compile(r"^[^\W\d]\w*'*$")


class TermDataError(ValueError):
    """Stored term data that is not a term this module writes."""


# ------------------------------------------------------------------ writing

def term_to_data(expr: sp.Basic) -> list:
    """The tree of `expr` as nested lists of strings (raises TermDataError for an unsupported node)."""
    e = expr
    if isinstance(e, sp.Integer):
        return ["int", str(int(e))]
    if isinstance(e, sp.Rational):
        return ["rat", str(e.p), str(e.q)]
    for name, value in CONSTANTS.items():
        if e is value:
            return ["const", name]
    if isinstance(e, sp.Symbol):
        given = getattr(e, "_assumptions_orig", None) or e.assumptions0
        return ["sym", e.name, [a for a in ASSUMPTIONS if given.get(a) is True]]
    if isinstance(e, sp.Add):
        return ["add", *(term_to_data(a) for a in e.args)]
    if isinstance(e, sp.Mul):
        return ["mul", *(term_to_data(a) for a in e.args)]
    if isinstance(e, sp.Pow):
        return ["pow", term_to_data(e.base), term_to_data(e.exp)]
    for name, fn in FUNCTIONS.items():
        if isinstance(e, fn) and len(e.args) == 1:
            return ["fn", name, term_to_data(e.args[0])]
    if isinstance(e, AppliedUndef):
        given = getattr(e.func, "_kwargs", {})
        return ["apply", e.func.__name__, [a for a in ASSUMPTIONS if given.get(a) is True],
                *(term_to_data(a) for a in e.args)]
    if isinstance(e, sp.Indexed):
        return ["indexed", term_to_data(e.base.label), *(term_to_data(i) for i in e.indices)]
    if isinstance(e, (sp.Sum, sp.Product)):
        kind = "sum" if isinstance(e, sp.Sum) else "product"
        return [kind, term_to_data(e.function),
                *([term_to_data(v), term_to_data(lo), term_to_data(hi)] for v, lo, hi in e.limits)]
    if isinstance(e, Density):
        return ["density", e.name, [term_to_data(v) for v in e.vars], [term_to_data(g) for g in e.given]]
    if isinstance(e, SampleExpectation):
        return ["draws", *(term_to_data(a) for a in e.args)]
    raise TermDataError(f"cannot store a term of kind {type(e).__name__}")


# ------------------------------------------------------------------ reading

def term_from_data(data) -> sp.Expr:
    """The term stored by `term_to_data`; TermDataError for anything else, before building it."""
    _check_shape(data)
    return _Reader().read(data, 1)


def _check_shape(data) -> None:
    """Nodes and depth bounded iteratively, so a deep or huge tree is refused without recursion."""
    count, stack = 0, [(data, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > LIMITS["nodes"]:
            raise TermDataError(f"the stored term has more than {LIMITS['nodes']} nodes")
        if depth > LIMITS["depth"]:
            raise TermDataError(f"the stored term is nested deeper than {LIMITS['depth']}")
        if isinstance(node, (list, tuple)):
            stack.extend((child, depth + 1) for child in node)
        elif not isinstance(node, (str, bool)):
            raise TermDataError(f"the stored term holds a {type(node).__name__}, not a term")


class _Reader:
    def read(self, node, power: int) -> sp.Expr:
        if not isinstance(node, (list, tuple)) or not node or not isinstance(node[0], str):
            raise TermDataError("a stored term node is a list that starts with its kind")
        kind, args = node[0], list(node[1:])
        method = getattr(self, "_" + kind, None) if kind.isalpha() else None
        if method is None:
            raise TermDataError(f"unknown term kind {kind[:20]!r}")
        return method(args, power)

    # literals
    def _int(self, args, power):
        return sp.Integer(self._digits(args, 1)[0])

    def _rat(self, args, power):
        p, q = self._digits(args, 2)
        if q == 0:
            raise TermDataError("a stored fraction has denominator 0")
        return sp.Rational(p, q)

    def _const(self, args, power):
        if len(args) != 1 or args[0] not in CONSTANTS:
            raise TermDataError("unknown stored constant")
        return CONSTANTS[args[0]]

    def _sym(self, args, power):
        if len(args) != 2:
            raise TermDataError("a stored symbol is a name and a list of assumptions")
        name = self._name(args[0])
        return sp.Symbol(name, **self._flags(args[1], name))

    # structure
    def _add(self, args, power):
        return sp.Add(*(self.read(a, power) for a in self._some(args)))

    def _mul(self, args, power):
        return sp.Mul(*(self.read(a, power) for a in self._some(args)))

    def _pow(self, args, power):
        if len(args) != 2:
            raise TermDataError("a stored power has a base and an exponent")
        exponent = self.read(args[1], 1)
        if exponent.is_Rational:
            # Integer parts of exponents multiply along a path: (((x)^64)^64)^64 is refused here.
            power *= max(1, abs(int(exponent.p)))
            if power > LIMITS["power"]:
                raise TermDataError(f"the stored term raises to a power beyond {LIMITS['power']}")
        elif exponent.atoms(sp.Pow) or not exponent.free_symbols:
            raise TermDataError("the stored term has a non-literal numeric exponent")
        return sp.Pow(self.read(args[0], power), exponent)

    def _fn(self, args, power):
        if len(args) != 2 or args[0] not in FUNCTIONS:
            raise TermDataError("unknown stored function")
        return FUNCTIONS[args[0]](self.read(args[1], 1))

    def _apply(self, args, power):
        if len(args) < 3:
            raise TermDataError("a stored function application has a name, assumptions and arguments")
        name = self._name(args[0])
        return sp.Function(name, **self._flags(args[1], name))(*(self.read(a, 1) for a in args[2:]))

    def _indexed(self, args, power):
        if len(args) < 2:
            raise TermDataError("a stored indexed term has a base and indices")
        label = self.read(args[0], 1)
        if not isinstance(label, sp.Symbol):
            raise TermDataError("the base of a stored indexed term is a symbol")
        base = sp.IndexedBase(label)
        return base[tuple(self.read(i, 1) for i in args[1:])]

    def _sum(self, args, power):
        return self._big(sp.Sum, args, power)

    def _product(self, args, power):
        return self._big(sp.Product, args, power)

    def _big(self, cls, args, power):
        if len(args) < 2:
            raise TermDataError("a stored sum or product has a body and limits")
        limits = []
        for lim in args[1:]:
            if not isinstance(lim, (list, tuple)) or len(lim) != 3:
                raise TermDataError("a limit of a stored sum is (variable, low, high)")
            var = self.read(lim[0], 1)
            if not isinstance(var, sp.Symbol):
                raise TermDataError("the variable of a stored sum is a symbol")
            limits.append((var, self.read(lim[1], 1), self.read(lim[2], 1)))
        return cls(self.read(args[0], power), *limits)

    def _density(self, args, power):
        if len(args) != 3 or not all(isinstance(a, (list, tuple)) for a in args[1:]) or not args[1]:
            raise TermDataError("a stored density has a name, its variables and its conditioning")
        name = self._name(args[0])
        variables = [self._variable(a) for a in (*args[1], *args[2])]
        return Density(name, variables[:len(args[1])], variables[len(args[1]):])

    def _draws(self, args, power):
        if len(args) != 5:
            raise TermDataError("a stored expectation over draws has a body, a variable, a range and a density")
        var = self.read(args[1], 1)
        dist = self.read(args[4], 1)
        if not isinstance(var, sp.Symbol) or not isinstance(dist, Density):
            raise TermDataError("a stored expectation over draws is over a variable and a density")
        return SampleExpectation(self.read(args[0], power), var, self.read(args[2], 1), self.read(args[3], 1), dist)

    def _variable(self, node):
        v = self.read(node, 1)
        if not isinstance(v, (sp.Symbol, sp.Indexed)):
            raise TermDataError("a variable of a stored density is a name or a component")
        return v

    # checks
    @staticmethod
    def _flags(flags, name):
        if not isinstance(flags, (list, tuple)) or not all(isinstance(a, str) and a in ASSUMPTIONS for a in flags):
            raise TermDataError(f"unknown assumption on the stored name {name}")
        return {a: True for a in flags}

    @staticmethod
    def _some(args):
        if not args:
            raise TermDataError("a stored sum or product of terms is empty")
        return args

    @staticmethod
    def _digits(args, n):
        if len(args) != n or not all(isinstance(a, str) and re.fullmatch(r"-?\d{1,%d}" % LIMITS["digits"], a)
                                     for a in args):
            raise TermDataError(f"a stored number has at most {LIMITS['digits']} digits")
        return [int(a) for a in args]

    @staticmethod
    def _name(name):
        if not isinstance(name, str) or not (0 < len(name) <= LIMITS["name"]) or not _NAME.match(name):
            shown = name[:20] if isinstance(name, str) else type(name).__name__
            raise TermDataError(f"the stored name {shown!r} is not a name")
        return name
