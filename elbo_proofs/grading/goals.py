"""Goals matched modulo the student's choice of names.

An assignment states its goal in its own letters (``log(p(x)) = ...``); a
student may write ``\\log P(X)``, ``q_\\phi(z|x)`` for ``q(z|x)``, ``Z`` for
``z``.  What a name means is its role in the term -- the density it names,
the variable a density is of, what an expectation averages over -- not its
spelling.  ``unify(pattern, term)`` finds a renaming of the pattern's names
(symbols and density letters, one-to-one) under which the pattern has the
term's shape; the grader then renames the goal and still asks the checker
whether the student's lines equal it, so a renaming can never make a wrong
derivation reach a goal.
"""
from __future__ import annotations

import itertools

import sympy as sp

from ..terms import Density

MAX_PERMUTED = 5        # commutative arguments tried in every order up to this many
MAX_NODES = 5000


class _Map:
    def __init__(self):
        self.symbols: dict = {}       # pattern Symbol -> term Symbol
        self.densities: dict = {}     # pattern density letter -> term density letter

    def copy(self) -> "_Map":
        m = _Map()
        m.symbols, m.densities = dict(self.symbols), dict(self.densities)
        return m

    def bind(self, table: dict, a, b) -> bool:
        if a in table:
            return table[a] == b
        if b in table.values():
            return False
        table[a] = b
        return True


def _unify(p, t, m: _Map, budget: list) -> _Map | None:
    budget[0] -= 1
    if budget[0] < 0:
        return None
    if isinstance(p, sp.Symbol) and isinstance(t, sp.Symbol):
        return m if m.bind(m.symbols, p, t) else None
    if isinstance(p, Density) and isinstance(t, Density):
        if len(p.vars) != len(t.vars) or len(p.given) != len(t.given):
            return None
        if not m.bind(m.densities, p.name, t.name):
            return None
        for a, b in zip(p.vars + p.given, t.vars + t.given):
            m = _unify(a, b, m, budget)
            if m is None:
                return None
        return m
    if isinstance(p, sp.Number) or isinstance(t, sp.Number):
        return m if p == t else None
    if type(p) is not type(t) or len(p.args) != len(t.args):
        return None
    if isinstance(p, sp.core.function.AppliedUndef) and p.func.__name__ != t.func.__name__:
        if not m.bind(m.densities, p.func.__name__, t.func.__name__):
            return None
    if not p.args:
        return m if p == t else None
    if isinstance(p, (sp.Add, sp.Mul)) and len(p.args) <= MAX_PERMUTED:
        for order in itertools.permutations(t.args):
            trial = m.copy()
            for a, b in zip(p.args, order):
                trial = _unify(a, b, trial, budget)
                if trial is None:
                    break
            if trial is not None:
                return trial
        return None
    for a, b in zip(p.args, t.args):
        m = _unify(a, b, m, budget)
        if m is None:
            return None
    return m


def unify(pattern, term) -> _Map | None:
    """A one-to-one renaming of `pattern`'s names under which it has `term`'s shape, or None."""
    if pattern is None or term is None:
        return None
    try:
        return _unify(pattern, term, _Map(), [MAX_NODES])
    except (TypeError, ValueError, AttributeError):
        return None


def rename(expr, mapping: _Map):
    """`expr` with the names of `mapping` replaced (symbols everywhere, density letters in densities)."""
    if mapping is None or expr is None:
        return expr

    def walk(e):
        if isinstance(e, sp.Symbol):
            return mapping.symbols.get(e, e)
        if isinstance(e, Density):
            name = mapping.densities.get(e.name, e.name)
            return Density(name, tuple(walk(v) for v in e.vars), tuple(walk(g) for g in e.given))
        if isinstance(e, sp.core.function.AppliedUndef):
            name = mapping.densities.get(e.func.__name__)
            args = [walk(a) for a in e.args]
            return sp.Function(name)(*args) if name else e.func(*args)
        if not e.args:
            return e
        return e.func(*[walk(a) for a in e.args])

    try:
        return walk(expr)
    except (TypeError, ValueError, AttributeError):
        return expr
