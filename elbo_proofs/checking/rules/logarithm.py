"""Logarithms: logs of products, quotients and powers split; log exp cancels.

These rules sit at the position ``log``: they receive the argument u of log(u)
and return the canonical form of log(u).
"""
from __future__ import annotations

import sympy as sp

from ...terms import is_density
from .engine import rule


@rule("log of a product", "log", sp.Mul, priority=10)
def log_product(u, eng):
    """log(a b) = log a + log b when every factor is positive, by its kind or by an assumption
    (log(a b) of two negative reals is not log a + log b)."""
    if not all(_positive_base(f, eng) or _positive_power(f, eng) for f in u.args):
        return None
    return sp.Add(*[eng.log(f) for f in u.args])


def _positive_base(base, eng) -> bool:
    return eng.ctx.is_positive(base) or isinstance(base, sp.exp) or is_density(base) or probability_complement(base, eng.ctx)


def _positive_power(f, eng) -> bool:
    return isinstance(f, sp.Pow) and bool(f.exp.is_real) and _positive_base(f.base, eng)


@rule("log of a power", "log", sp.Pow, priority=10)
def log_power(u, eng):
    """log(a^k) = k log a for a positive base a."""
    if not _positive_base(u.base, eng):
        return None
    return eng.canon(u.exp) * eng.log(u.base)


@rule("log of an even power", "log", sp.Pow, priority=12)
def log_even_power(u, eng):
    """log(a^(2k)) = 2k log|a| for real a."""
    if not (u.exp.is_even and u.base.is_real):
        return None
    return eng.canon(u.exp) * eng.log(sp.Abs(u.base))


@rule("log of a power (kept)", "log", sp.Pow, priority=90, report=False)
def log_power_kept(u, eng):
    """Any other power stays under the log."""
    return sp.log(eng.canon(u))


@rule("log of exp", "log", sp.exp, priority=10)
def log_exp(u, eng):
    """log(exp(a)) = a."""
    return eng.canon(u.args[0])


@rule("log of e", "log", type(sp.E), priority=10, report=False)
def log_e(u, eng):
    """log(e) = 1."""
    return sp.Integer(1)


@rule("log of a positive number", "log", sp.Number, priority=10, report=False)
def log_number(u, eng):
    """log(a/b) of a positive rational = log a - log b."""
    if not u.is_positive:
        return None
    return sp.expand_log(sp.log(u), force=True)


def probability_complement(e, ctx) -> bool:
    """1 - m for a declared probability m is positive, though SymPy cannot tell."""
    rest = sp.expand(1 - e)
    name = rest.base.label.name if isinstance(rest, sp.Indexed) else getattr(rest, "name", None)
    return name is not None and ctx.kinds.get(name) == "probability"
