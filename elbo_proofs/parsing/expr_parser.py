"""Parser for the project's expression syntax: grammar in expr.lark, meaning here.

Text is never evaluated: the grammar builds a tree and this Transformer builds
terms from it through a NameResolver.  Size, nesting and exponents are bounded
so that no input can make parsing or SymPy's automatic evaluation blow up.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import sympy as sp
from lark import Lark, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from ..errors import InputError
from ..terms import (KL, Context, Entropy, Expectation, SampleExpectation, Variance, density_vars, is_density,
                     relations)
from .names import NameResolver, PointlessNormal

MAX_LENGTH = 4000
MAX_NESTING = 40
MAX_EXPONENT = 64
MAX_NUMBER_DIGITS = 60        # significant digits of one literal
MAX_DECIMAL_EXPONENT = 300    # |e| of a literal such as 1.5e-300


@lru_cache(maxsize=None)
def _grammar() -> Lark:
    """One LALR parser for both start rules (building the tables is most of the cost)."""
    grammar = (Path(__file__).with_name("expr.lark")).read_text()
    return Lark(grammar, start=["start", "relation", "condition"], parser="lalr", maybe_placeholders=False)


class _StartParser:
    __slots__ = ("lark", "start")

    def __init__(self, lark: Lark, start: str):
        self.lark, self.start = lark, start

    def parse(self, text: str):
        return self.lark.parse(text, start=self.start)


def _lark(start: str) -> _StartParser:
    """The parser of the expression grammar from rule ``start`` ("start": an expression, "relation",
    or "condition")."""
    return _StartParser(_grammar(), start)


def check_bounds(text: str, *, max_length: int = MAX_LENGTH, max_nesting: int = MAX_NESTING) -> None:
    if len(text) > max_length:
        raise InputError(f"expression is {len(text)} characters long; the limit is {max_length}")
    depth = deepest = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    if deepest > max_nesting:
        raise InputError(f"expression nests {deepest} brackets deep; the limit is {max_nesting}")


def safe_pow(base, exponent):
    """base**exponent, refusing numeric powers large enough to stall SymPy.

    The bound holds whatever the base: SymPy distributes an integer power over a
    product, so (2x)^(10^60) would compute 2^(10^60) at once.
    """
    if exponent.is_Number and abs(exponent) > MAX_EXPONENT:
        raise InputError(f"exponent {_short(exponent)} is too large (limit {MAX_EXPONENT})")
    if exponent.is_Number and base.is_Number and abs(base) > 10**6:
        raise InputError(f"power {_short(base)}^{_short(exponent)} is too large")
    return sp.Pow(base, exponent)


def _short(number) -> str:
    text = str(number)
    return text if len(text) <= 24 else f"{text[:10]}...({len(text)} digits)"


def number_literal(text: str):
    """The exact value of a decimal literal (12, 0.5, 1e-3), bounded in digits and exponent."""
    mantissa, _, exp = text.lower().partition("e")
    digits = mantissa.replace(".", "").lstrip("0")
    if len(digits) > MAX_NUMBER_DIGITS:
        raise InputError(f"number {_short(text)} has more than {MAX_NUMBER_DIGITS} digits")
    if exp:
        try:
            e = int(exp[:12])
        except ValueError:
            raise InputError(f"malformed number {_short(text)}") from None
        if len(exp.lstrip("+-").lstrip("0")) > 6 or abs(e) > MAX_DECIMAL_EXPONENT:
            raise InputError(f"number {_short(text)}: exponent beyond +-{MAX_DECIMAL_EXPONENT}")
    return sp.Rational(text) if "." in text or exp else sp.Integer(int(text))


def bind_distribution(var, dist, context: Context):
    """(var, dist) for E[var ~ dist]: a pointless N is bound to var, a density checked."""
    if isinstance(dist, PointlessNormal):
        return var, dist.at(var, context)
    if not is_density(dist):
        raise InputError(f"E[{var} ~ {dist}]: {dist} is not a distribution")
    return var, dist


@v_args(inline=True)
class TermBuilder(Transformer):
    def __init__(self, resolver: NameResolver):
        super().__init__()
        self.r = resolver
        self.ctx = resolver.context

    # arithmetic
    def number(self, tok):
        return number_literal(str(tok))

    def name(self, tok):
        return self.r.name(str(tok))

    def paren(self, e):
        return e

    def add(self, a, b):
        return _expr(a) + _expr(b)

    def sub(self, a, b):
        return _expr(a) - _expr(b)

    def mul(self, a, b):
        return _expr(a) * _expr(b)

    def div(self, a, b):
        if b == 0:
            raise InputError("division by zero")
        return _expr(a) / _expr(b)

    def neg(self, a):
        return -_expr(a)

    def pow(self, a, b):
        return safe_pow(_expr(a), _expr(b))

    def args(self, *items):
        return list(items)

    # calls and densities
    def call(self, tok, args):
        return self.r.call(str(tok), args)

    def conditional(self, tok, args, given):
        if self.r.density_name(str(tok)) is None:
            raise InputError(f"'{tok}(... | ...)' is not a density (densities are p, q, P, Q, with subscripts)")
        return self.r.call(str(tok), args, given)

    def normal_at(self, x, mean, var):
        return PointlessNormal(_expr(mean), _expr(var)).at(_expr(x), self.ctx)

    def normal(self, mean, var):
        return PointlessNormal(_expr(mean), _expr(var))

    def bernoulli_at(self, x, mean):
        from ..terms import Bernoulli

        return Bernoulli(_expr(x), _expr(mean))

    # operators
    def dist_named(self, tok, dist):
        return bind_distribution(self.r.name(str(tok)), self._density(dist), self.ctx)

    def dist_plain(self, dist):
        if isinstance(dist, sp.Symbol) and dist in self.ctx.randoms:
            return dist, self.ctx.randoms[dist]
        dist = self._density(dist)
        if isinstance(dist, PointlessNormal):
            raise InputError("E[N(mean, var)] needs its variable: write E[eps ~ N(0, 1)](...)")
        vs = density_vars(dist)
        return (vs[0] if len(vs) == 1 else sp.Tuple(*vs)), dist

    def expectation(self, spec, body):
        var, dist = spec
        return Expectation(_expr(body), var, dist)

    def sample_expectation(self, first, last, dist, body):
        """E[z_1, ..., z_K ~ q(z|x)](f): over all the declared samples z_1 .. z_K of z, drawn iid from q."""
        (name, lo), (other, hi) = self._draw(first), self._draw(last)
        if name != other:
            raise InputError(f"E[{first}, ..., {last} ~ ...]: the first and last draws must be of one sample name")
        if name not in self.ctx.samples:
            raise InputError(f"E[{first}, ..., {last} ~ ...]: '{name}' is not declared under samples:")
        index, var, declared = self.ctx.samples[name]
        var, dist = bind_distribution(var, self._density(dist), self.ctx)
        if dist != declared:
            raise InputError(f"E[{first}, ..., {last} ~ {dist}]: the samples {name} are declared as drawn from {declared}")
        _, dlo, dhi = self.ctx.indices[index.name]
        if (lo, hi) != (dlo, dhi):
            raise InputError(f"E[{first}, ..., {last} ~ ...]: the samples {name} are declared for "
                             f"{index.name} = {dlo}..{dhi}; write {name}_{dlo}, ..., {name}_{dhi}")
        return SampleExpectation(_expr(body), var, lo, hi, dist)

    def _draw(self, tok):
        """'z_1' -> ('z', 1); 'z_K' -> ('z', K): a sample name and a number or a declared symbol."""
        text = str(tok)
        base, sep, sub = text.rpartition("_")
        if not sep or not base:
            raise InputError(f"'{text}' is not a draw of a sample: write it as z_1 or z_K")
        return base, (sp.Integer(int(sub)) if sub.isdigit() else self.r.name(sub))

    def variance(self, spec, body):
        var, dist = spec
        return Variance(_expr(body), var, dist)

    def kl(self, a, b):
        a, b = self._density(a), self._density(b)
        if isinstance(a, PointlessNormal) or isinstance(b, PointlessNormal):
            other = b if isinstance(a, PointlessNormal) else a
            var = density_vars(other)[0] if not isinstance(other, PointlessNormal) else sp.Symbol("t", real=True)
            a = a.at(var, self.ctx) if isinstance(a, PointlessNormal) else a
            b = b.at(var, self.ctx) if isinstance(b, PointlessNormal) else b
        for d in (a, b):
            if not is_density(d):
                raise InputError(f"KL( . || . ) takes densities, got {d}")
        if density_vars(a) != density_vars(b):
            raise InputError(f"KL({a} || {b}): the two densities are over different variables")
        return KL(a, b)

    def entropy(self, a):
        a = self._density(a)
        if isinstance(a, PointlessNormal):
            a = a.at(sp.Symbol("t", real=True), self.ctx)
        if not is_density(a):
            raise InputError(f"H[.] takes a density, got {a}")
        return Entropy(a)

    def _density(self, d):
        """A bare density name (q) stands for the declared q(...)."""
        if isinstance(d, sp.Symbol) and self.r.is_density_name(d.name) and d.name not in self.ctx.families:
            return self.r.bare_density(d.name)
        return d

    # sums, products, integrals, derivatives
    def _index(self, tok, lo=None, hi=None):
        name = str(tok)
        if lo is None:
            if name not in self.ctx.indices:
                raise InputError(f"index '{name}' has no declared range; write sum({name}=1..d, ...)")
            return self.ctx.indices[name]
        if name in self.ctx.indices:
            return self.ctx.indices[name][0], _expr(lo), _expr(hi)
        return self.ctx.index(name, _expr(lo), _expr(hi)), _expr(lo), _expr(hi)

    def sum_range(self, tok, lo, hi, body):
        return sp.Sum(_expr(body), self._index(tok, lo, hi))

    def sum_index(self, tok, body):
        return sp.Sum(_expr(body), self._index(tok))

    def prod_range(self, tok, lo, hi, body):
        return sp.Product(_expr(body), self._index(tok, lo, hi))

    def prod_index(self, tok, body):
        return sp.Product(_expr(body), self._index(tok))

    def integral(self, body, tok):
        return sp.Integral(_expr(body), self.r.name(str(tok)))

    def derivative(self, tok, body):
        return sp.Derivative(_expr(body), self.r.name(str(tok)[3:]))

    def relation(self, lhs, rel, rhs):
        return _expr(lhs), relations.parse(str(rel)) or str(rel), _expr(rhs)

    def condition(self, *items):
        terms = [_expr(t) for t in items[0::2]]
        for op in items[1::2]:
            if relations.parse_condition(str(op)) is None:
                raise InputError(f"an assumption is an inequality (<, <=, > or >=), not '{op}'")
        return [(terms[n], relations.parse_condition(str(op)), terms[n + 1])
                for n, op in enumerate(items[1::2])]


def _expr(e):
    if isinstance(e, PointlessNormal):
        raise InputError("N(mean, var) needs a point here: write N(z; mean, var)")
    if isinstance(e, tuple):
        raise InputError("a distribution spec cannot stand alone")
    return e


def _parse(text: str, context: Context, start: str, strict: bool):
    check_bounds(text)
    try:
        tree = _lark(start).parse(text)
    except UnexpectedInput as exc:
        raise InputError(_describe(exc, text), column=getattr(exc, "column", None)) from None
    except LarkError as exc:
        raise InputError(f"cannot parse expression: {exc}") from None
    try:
        return TermBuilder(NameResolver(context, strict=strict)).transform(tree)
    except VisitError as exc:
        orig = exc.orig_exc
        if isinstance(orig, InputError):
            raise orig from None
        raise InputError(f"cannot build expression: {orig}") from None
    except RecursionError:
        raise InputError("expression is nested too deeply") from None


def _describe(exc: UnexpectedInput, text: str) -> str:
    col = getattr(exc, "column", "?")
    if isinstance(exc, UnexpectedEOF):
        return f"expression ends early (unclosed bracket?) in '{text}'"
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected character {text[exc.pos_in_stream]!r} at column {col} in '{text}'"
    token = getattr(exc, "token", None)
    if token is None or getattr(token, "type", "") == "$END":
        return f"expression ends early (unclosed bracket or missing operand?) in '{text}'"
    return f"unexpected {str(token)!r} at column {col} in '{text}'"


def parse_expression(text: str, context: Context, *, strict: bool = True) -> sp.Expr:
    """Parse one expression of the project syntax into a term."""
    result = _parse(str(text), context, "start", strict)
    return _expr(result)


def parse_relation(text: str, context: Context, *, strict: bool = True):
    """Parse `lhs REL rhs` into (lhs, relation, rhs)."""
    return _parse(str(text), context, "relation", strict)


def parse_condition(text: str, context: Context, *, strict: bool = True) -> list[tuple]:
    """Parse an assumption `a >= b`, `a > 0`, `0 < a <= 1` into [(lhs, relation, rhs), ...],
    one inequality per comparison (relation one of ``relations.CONDITIONS``)."""
    return _parse(str(text), context, "condition", strict)
