"""Assumptions: inequalities between declared parameters that a derivation is checked under.

An assumption (``beta >= 1``, ``L >= 1``, ``a > 0``, ``a >= b``, ``sigma_j > 0`` for
every j) is data of the ``Context``: an ``Assumption`` holds two terms and one of the
inequalities ``>=``, ``>``, ``<=``, ``<`` (``relations.CONDITIONS``).  Any reader adds
them through one call,

    context.assume(lhs, relation, rhs, text="beta >= 1", line=7)

which checks them (``AssumptionError``, a ``ValueError``, worded for the author): every
name must be a declared parameter (a symbol or a component of a declared vector; not a
variable of a density, a random variable or a sample), the two sides must be plain
arithmetic of parameters (no expectation, density or KL), and an assumption that
contradicts a declared kind or an earlier assumption (``beta >= 1`` after ``beta < 1/2``,
``sigma <= 0`` for a positive sigma) is refused where intervals show it.  A component
with a declared index (``q_k > 0``) holds for every value of the index.

Three kinds of users read them:

* the checker decides signs with ``nonnegative(e, context)`` and ``positive(e,
  context)`` (or ``sign_reason`` to say which assumptions it used): SymPy's own sign
  rules first, then the assumptions, by substituting each bounded parameter by its bound
  plus a non-negative slack (``beta = 1 + t``, t >= 0) and by comparing with the
  assumption's own gap;
* the numeric models draw values inside ``interval`` (the declared kind meets every
  bound whose other side is already known) and keep only models where ``holds`` is
  true, so that a counterexample never violates an assumption;
* the grading cache keys a step by the assumptions that mention its names.

Nothing here evaluates text: assumptions arrive as terms, parsed by a reader.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp

from . import relations

MAX_SUBSTITUTION_ROUNDS = 4
MAX_OPS = 400          # larger sign questions are left to SymPy alone

# The values a declared kind allows: (lower, lower open, upper, upper open, integer).
KIND_RANGES = {
    "real": (-math.inf, True, math.inf, True, False),
    "positive": (0.0, True, math.inf, True, False),
    "nonnegative": (0.0, False, math.inf, True, False),
    "integer": (-math.inf, True, math.inf, True, True),
    "positive integer": (1.0, False, math.inf, True, True),
    "probability": (0.0, True, 1.0, True, False),
    "binary": (0.0, False, 1.0, False, True),
}

# Nodes an assumption may be built from: arithmetic and elementary functions of parameters.
_ALLOWED = (sp.Number, sp.NumberSymbol, sp.Symbol, sp.Indexed, sp.IndexedBase, sp.Add, sp.Mul, sp.Pow,
            sp.log, sp.exp, sp.Abs, sp.Tuple)


class AssumptionError(ValueError):
    """An assumption that cannot be used: unknown names, not an inequality, contradictory.

    The message speaks of the mathematics only (a student reads it in a grade report);
    ``file_hint`` says how a derivation file would fix it, for the reader of such files."""

    def __init__(self, message: str, file_hint: str = ""):
        super().__init__(message)
        self.file_hint = file_hint


@dataclass(frozen=True)
class Assumption:
    """``lhs relation rhs`` with relation one of ``>=``, ``>``, ``<=``, ``<``."""
    lhs: sp.Expr
    relation: str
    rhs: sp.Expr
    text: str = ""            # as the author wrote it, for messages
    line: int | None = None   # where the author wrote it

    @property
    def strict(self) -> bool:
        return relations.is_strict(self.relation)

    @property
    def gap(self) -> sp.Expr:
        """g with g >= 0 (g > 0 when strict): lhs - rhs for >=, rhs - lhs for <=."""
        if self.relation in (relations.GE, relations.GT):
            return self.lhs - self.rhs
        return self.rhs - self.lhs

    def __str__(self) -> str:
        from .printing import to_plain

        return f"{to_plain(self.lhs)} {self.relation} {to_plain(self.rhs)}"


@dataclass(frozen=True)
class Bound:
    """One side of a parameter's range that an assumption gives: atom >= value (lower) or <= value."""
    atom: sp.Expr             # a Symbol or an Indexed (its index may be a declared index: every component)
    lower: bool
    value: sp.Expr
    strict: bool
    assumption: Assumption


# -- making and checking an assumption --------------------------------------------------

def make_assumption(ctx, lhs, relation, rhs, *, text: str = "", line=None) -> Assumption:
    """An Assumption of ``ctx``'s parameters, checked; AssumptionError says what is wrong."""
    rel = relations.parse_condition(relation) if isinstance(relation, str) else None
    shown = text or f"{lhs} {relation} {rhs}"
    if rel is None:
        raise AssumptionError(f"assumption '{shown}': an assumption is an inequality "
                              f"(<, <=, > or >=), not {relation!r}")
    lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
    a = Assumption(lhs, rel, rhs, text, line)
    for side in (lhs, rhs):
        for node in sp.preorder_traversal(side):
            if not isinstance(node, _ALLOWED):
                raise AssumptionError(f"assumption '{shown}': an assumption relates parameters by arithmetic; "
                                      f"{type(node).__name__.lower()} terms are not allowed in it")
    names = parameter_names(a.gap)
    if not names:
        raise AssumptionError(f"assumption '{shown}' names no parameter")
    variables = density_variables(ctx)
    indices = {s.name for s, _, _ in ctx.indices.values()}
    for name in sorted(names):
        if name in variables:
            raise AssumptionError(f"assumption '{shown}': {name} is {variables[name]}, not a parameter; "
                                  "assumptions are about declared parameters")
        if name in indices:
            raise AssumptionError(f"assumption '{shown}': {name} is an index; an assumption about a "
                                  "component holds for every value of its index")
        if name not in ctx.symbols and name not in ctx.vectors:
            raise AssumptionError(f"assumption '{shown}': {name} is not a parameter of the derivation",
                                  file_hint="declare it under symbols:")
        if name in ctx.vectors and any(isinstance(x, sp.Symbol) and x.name == name for x in _atoms(a.gap)):
            raise AssumptionError(f"assumption '{shown}': {name} is a vector; an assumption is about its "
                                  f"components ({name}_j for every j, or {name}_1)")
    for atom in _atoms(a.gap):
        if isinstance(atom, sp.Indexed) and atom.base.label.name not in ctx.vectors:
            raise AssumptionError(f"assumption '{shown}': {atom.base.label.name} is not a declared vector")
    _check_consistent(ctx, a, shown)
    return a


def density_variables(ctx) -> dict[str, str]:
    """Names that are variables of densities, random variables or samples, with what they are."""
    out: dict[str, str] = {}
    for d in ctx.families:
        for v in tuple(getattr(d, "vars", ())) + tuple(getattr(d, "given", ())):
            for s in getattr(v, "free_symbols", ()):
                if isinstance(s, sp.Symbol):
                    out.setdefault(s.name, f"a variable of {d}")
    for s in ctx.randoms:
        out.setdefault(s.name, "a random variable")
    for name in ctx.samples:
        out.setdefault(name, "a sampled variable")
    for s in ctx.lets:
        out.setdefault(s.name, "defined by let:")
    return out


def parameter_names(e) -> set[str]:
    """The names of the parameters a term mentions: symbols and vectors (not index symbols)."""
    out = set()
    for atom in _atoms(e):
        out.add(atom.name if isinstance(atom, sp.Symbol) else atom.base.label.name)
    return out


def _atoms(e) -> list:
    """The Symbol and Indexed leaves of a term (an Indexed counts once, its label and index not)."""
    found: list = []

    def walk(node):
        if isinstance(node, sp.Indexed):
            if node not in found:
                found.append(node)
            return
        if isinstance(node, sp.Symbol):
            if node not in found:
                found.append(node)
            return
        for arg in node.args:
            walk(arg)

    walk(sp.sympify(e))
    return found


def _check_consistent(ctx, new: Assumption, shown: str) -> None:
    """Refuse ``new`` when, with the declared kinds and earlier assumptions, some parameter has no value."""
    keys = {_key(b.atom) for b in bounds_of(new, ctx)}
    for key in keys:
        rng = interval(key, ctx, {}, extra=(new,))
        if rng is None:
            kind = ctx.kinds.get(key[0], "real")
            others = [str(b.assumption) for b in all_bounds(ctx) if _key(b.atom) == key and b.value.is_number]
            against = f"the assumption{'s' if len(others) > 1 else ''} {', '.join(others)}" if others \
                else f"{key[0]} being {kind}"
            if others and kind != "real":
                against += f" and {key[0]} being {kind}"
            raise AssumptionError(f"assumption '{shown}' contradicts {against}: no value of "
                                  f"{_key_text(key)} satisfies them all")


# -- bounds and intervals -------------------------------------------------------------------

def bounds_of(a: Assumption, ctx=None) -> list[Bound]:
    """The bounds an assumption puts on each parameter it is linear in with a numeric coefficient."""
    g = sp.expand(a.gap)
    out = []
    for atom in _atoms(g):
        if ctx is not None and isinstance(atom, sp.Symbol) and atom.name in {s.name for s, _, _ in ctx.indices.values()}:
            continue
        c = g.coeff(atom)
        if not (c.is_Number and c != 0):
            continue
        rest = sp.expand(g - c * atom)
        if rest.has(atom):
            continue
        out.append(Bound(atom, bool(c > 0), sp.expand(-rest / c), a.strict, a))
    return out


def all_bounds(ctx, extra=()) -> list[Bound]:
    return [b for a in [*getattr(ctx, "assumptions", ()), *extra] for b in bounds_of(a, ctx)]


def _key(atom) -> tuple:
    """The parameter an atom names: ("beta", None) for a symbol, ("q", None) for q_k with k an index
    (every component), ("q", 2) for the component q_2."""
    if isinstance(atom, sp.Symbol):
        return (atom.name, None)
    index = atom.indices[0] if len(atom.indices) == 1 else None
    if index is not None and index.is_Integer:
        return (atom.base.label.name, int(index))
    return (atom.base.label.name, None)


def _key_text(key) -> str:
    name, comp = key
    return name if comp is None else f"{name}_{comp}"


def _applies(bound_key, key) -> bool:
    """Whether a bound on ``bound_key`` constrains the parameter ``key``."""
    if bound_key == key:
        return True
    # a bound on every component (q_k) applies to each component and to the whole vector's components
    return bound_key[0] == key[0] and bound_key[1] is None and isinstance(key[1], int) or (
        bound_key[0] == key[0] and key[1] is None and bound_key[1] is None)


def interval(key, ctx, values: dict, *, extra=(), component: int | None = None):
    """The range (lo, lo_open, hi, hi_open, integer) the kind of parameter ``key`` and the bounds of
    the assumptions allow, given ``values`` (name -> number) of the parameters drawn already; a
    bound whose other side is not known yet is left out.  None when the range is empty.

    ``key`` is ("beta", None), or ("q", None) for every component of q, or ("q", 2);
    ``component``: the component being drawn, so that bounds on that component count.
    """
    name = key[0]
    lo, lo_open, hi, hi_open, integer = KIND_RANGES.get(ctx.kinds.get(name, "real"), KIND_RANGES["real"])
    for b in all_bounds(ctx, extra):
        bk = _key(b.atom)
        if not (_applies(bk, key) or component is not None and bk == (name, component)):
            continue
        v = evaluate(b.value, values)
        if v is None:
            continue
        if b.lower:
            if v > lo or (v == lo and b.strict):
                lo, lo_open = v, b.strict
        else:
            if v < hi or (v == hi and b.strict):
                hi, hi_open = v, b.strict
    if lo > hi or (lo == hi and (lo_open or hi_open)):
        return None
    if integer:
        first = math.floor(lo) + 1 if lo_open and float(lo).is_integer() else math.ceil(lo) if math.isfinite(lo) else -math.inf
        last = math.ceil(hi) - 1 if hi_open and float(hi).is_integer() else math.floor(hi) if math.isfinite(hi) else math.inf
        if first > last:
            return None
    return lo, lo_open, hi, hi_open, integer


def evaluate(e, values: dict):
    """The number ``e`` is when its parameters take ``values`` (name -> number, "q_2" for a component);
    None when a parameter has no value or the result is not a real number."""
    e = sp.sympify(e)
    repl = {}
    for atom in _atoms(e):
        if isinstance(atom, sp.Symbol):
            name = atom.name
        elif len(atom.indices) == 1 and atom.indices[0].is_Integer:
            name = f"{atom.base.label.name}_{int(atom.indices[0])}"
        else:
            return None
        if name not in values:
            return None
        repl[atom] = sp.Float(values[name])
    try:
        v = complex(e.xreplace(repl).evalf())
    except (TypeError, ValueError):
        return None
    if v.imag != 0 or not math.isfinite(v.real):
        return None
    return v.real


def holds(ctx, values: dict, dims: dict | None = None) -> bool:
    """Whether every assumption whose parameters all have ``values`` holds there.

    ``values``: name -> number, with "q_1", "q_2", ... for the components of a vector q;
    ``dims``: vector name -> its number of components, so that ``q_k > 0`` is checked for each k.
    """
    dims = dims or {}
    for a in getattr(ctx, "assumptions", ()):
        for instance in _components(a, ctx, dims):
            g = evaluate(instance, values)
            if g is None:
                if _all_known(instance, values):
                    return False   # defined parameters, undefined value (log of a negative): not allowed
                continue
            if g < 0 or (a.strict and g == 0):
                return False
    return True


def _all_known(e, values) -> bool:
    return all((a.name if isinstance(a, sp.Symbol) else f"{a.base.label.name}_{a.indices[0]}") in values
               for a in _atoms(e))


def _components(a: Assumption, ctx, dims: dict) -> list:
    """The gap of ``a`` for each value of the declared indices it mentions (over ``dims``)."""
    g = a.gap
    index_syms = {s for s, _, _ in ctx.indices.values()}
    quantified = [s for s in g.free_symbols if s in index_syms]
    if not quantified:
        return [g]
    out = [g]
    for s in quantified:
        sizes = [dims[atom.base.label.name] for atom in _atoms(g)
                 if isinstance(atom, sp.Indexed) and atom.indices[0] == s and atom.base.label.name in dims]
        if not sizes:
            return []
        out = [e.xreplace({s: sp.Integer(k)}) for e in out for k in range(1, min(sizes) + 1)]
    return out


# -- signs ------------------------------------------------------------------------------

def nonnegative(e, ctx) -> bool:
    """Whether ``e >= 0`` follows from the declared kinds and the assumptions of ``ctx``."""
    return sign_reason(e, ctx, strict=False) is not None


def positive(e, ctx) -> bool:
    """Whether ``e > 0`` follows from the declared kinds and the assumptions of ``ctx``."""
    return sign_reason(e, ctx, strict=True) is not None


def sign_reason(e, ctx, *, strict: bool = False) -> list[Assumption] | None:
    """The assumptions that show ``e >= 0`` (``e > 0`` when strict): [] when SymPy's sign rules
    alone show it, None when nothing does."""
    if _sympy_sign(e, strict):
        return []
    assumptions = list(getattr(ctx, "assumptions", ()) or ())
    if not assumptions or not isinstance(e, sp.Basic):
        return None
    names = parameter_names(e)
    relevant: list = []
    grown = True
    while grown:   # the assumptions on e's parameters, and on the parameters those mention
        grown = False
        for a in assumptions:
            if a not in relevant and parameter_names(a.gap) & names:
                relevant.append(a)
                names |= parameter_names(a.gap)
                grown = True
    if not relevant:
        return None
    try:
        if sp.count_ops(e) > MAX_OPS:
            return None
    except Exception:
        return None
    facts = _instances(relevant, e, ctx)
    # 1. substitute each bounded parameter by its bound plus a slack of the right sign
    for sub, used in _substitutions(facts, ctx):
        out = e
        for _ in range(MAX_SUBSTITUTION_ROUNDS):
            nxt = out.xreplace(sub)
            if nxt == out:
                break
            out = nxt
        if out == e:
            continue
        try:
            out = sp.expand(out)
        except Exception:
            continue
        if _sympy_sign(out, strict) or _sympy_sign(sp.factor(out), strict):
            return _unique(used(e))
    # 2. e is at least an assumption's gap, or a positive multiple of it
    for a, g in facts:
        if strict and not a.strict:
            continue
        try:
            ratio = sp.cancel(e / g)
        except Exception:
            continue
        if ratio.is_number and ratio.is_positive:
            return [a]
        if _sympy_sign(sp.expand(e - g), False):
            return [a]
    return None


def _sympy_sign(e, strict: bool) -> bool:
    try:
        return bool(e.is_positive) if strict else bool(e.is_nonnegative)
    except Exception:
        return False


def _unique(items):
    out = []
    for x in items:
        if x not in out:
            out.append(x)
    return out


def _instances(assumptions, e, ctx) -> list:
    """(assumption, gap) for each assumption, its declared indices taken at the components ``e`` uses."""
    index_syms = {s for s, _, _ in ctx.indices.values()}
    used = [a for a in _atoms(e) if isinstance(a, sp.Indexed)]
    out = []
    for a in assumptions:
        g = a.gap
        quantified = [s for s in g.free_symbols if s in index_syms]
        if not quantified:
            out.append((a, g))
            continue
        gaps = [g]
        for s in quantified:
            bases = {atom.base.label.name for atom in _atoms(g) if isinstance(atom, sp.Indexed) and s in atom.indices}
            values = {atom.indices[0] for atom in used if atom.base.label.name in bases and len(atom.indices) == 1}
            gaps = [x.xreplace({s: v}) for x in gaps for v in values]
        out.extend((a, x) for x in gaps)
    return out


def _substitutions(facts, ctx):
    """Substitutions parameter -> bound +- slack: one with every lower bound, one with every upper
    bound (the first of each parameter), and one per single bound; with a function that names the
    assumptions a result still depends on."""
    single = []
    for a, g in facts:
        for b in bounds_of(Assumption(g, relations.GT if a.strict else relations.GE, sp.Integer(0)), ctx):
            single.append((b.atom, b, a))
    if not single:
        return
    slack = {}

    def sub_of(items):
        sub, origin = {}, {}
        for atom, b, a in items:
            if atom in sub:
                continue
            t = slack.setdefault((atom, b.lower, b.strict), sp.Dummy(
                "t", positive=True) if b.strict else sp.Dummy("t", nonnegative=True))
            sub[atom] = b.value + t if b.lower else b.value - t
            origin[atom] = a
        return sub, origin

    groups = [[s for s in single if s[1].lower], [s for s in single if not s[1].lower]]
    groups += [[s] for s in single] if len(single) > 1 else []
    for items in groups:
        if not items:
            continue
        sub, origin = sub_of(items)
        yield sub, (lambda e, origin=origin: [origin[a] for a in origin if e.has(a)] or list(origin.values()))
