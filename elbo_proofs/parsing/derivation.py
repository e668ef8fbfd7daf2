"""YAML derivation files (docs/format.md): declarations, an optional goal, steps.

The loader builds a Context from the declarations and parses every expression
with the project grammar.  Every problem becomes an InputError naming the file,
the line and the step.
"""
from __future__ import annotations

import re
from pathlib import Path

import sympy as sp

from ..errors import InputError
from ..inputs import LINE_KEY, LINES_KEY, item_line, load_yaml, read_text
from ..schema import Either, ListOf, MapOf, Name, Record, Text, line_of, strip, validate
from ..terms import ASSUMPTIONS, AssumptionError, Context, Density, relations
from ..terms.derivation import Derivation, Step
from .expr_parser import MAX_LENGTH, parse_condition, parse_expression, parse_relation
from .names import NameResolver, PointlessNormal

MAX_FILE_BYTES = 200_000
MAX_STEPS = 200


# The shape of a derivation file (docs/format.md), checked before any value is used.
DECLARATIONS = {
    "symbols": MapOf(Text(max_length=100)),
    "vectors": MapOf(Text(max_length=200)),
    "indices": MapOf(Text(max_length=200)),
    "distributions": MapOf(Text(max_length=MAX_LENGTH)),
    "random": MapOf(Text(max_length=MAX_LENGTH)),
    "let": MapOf(Text(max_length=MAX_LENGTH)),
    "samples": MapOf(Record({"index": Name(), "from": Text(max_length=MAX_LENGTH)},
                            required=frozenset({"index", "from"}), expected="a mapping with index: and from:")),
    "functions": MapOf(Either((Text(max_length=200), ListOf(Text(max_length=200), max_length=32)))),
    "factorizations": MapOf(Text(max_length=MAX_LENGTH)),
    "parameters": MapOf(Either((Name(), ListOf(Name(), max_length=32, expected="a list of names")))),
    "densities": Either((Name(), ListOf(Name(), max_length=100, expected="a list of names"))),
    "assume": Either((Text(max_length=MAX_LENGTH, expected="an inequality such as beta >= 1"),
                      ListOf(Text(max_length=MAX_LENGTH, expected="an inequality such as beta >= 1"),
                             max_length=100, expected="a list of inequalities such as beta >= 1"))),
}
STEP = Either((Text(max_length=MAX_LENGTH, expected="an expression"),
               Record({"expr": Text(max_length=MAX_LENGTH), "rel": Text(max_length=20), "by": Text(max_length=2000)},
                      required=frozenset({"expr"}), expected="a mapping with expr:, rel: and by:")))
# a proof relates at least two expressions: one step is a claim with nothing shown
STEPS = ListOf(STEP, min_length=2, max_length=MAX_STEPS, expected="a list of steps",
               too_short="a derivation needs at least two steps (a start and what it equals); "
                         "with fewer there is nothing to prove")
PART = Record({"title": Text(max_length=1000), "goal": Text(max_length=MAX_LENGTH), "steps": STEPS},
              required=frozenset({"steps"}), expected="a mapping with title:, goal: and steps:")
DERIVATION_FILE = Record(
    {"title": Text(max_length=1000), "source": Text(max_length=2000), "goal": Text(max_length=MAX_LENGTH),
     "steps": STEPS, "parts": ListOf(PART, min_length=1, max_length=50, expected="a list of parts"),
     **DECLARATIONS},
    required=frozenset({"title"}), exactly_one=("steps", "parts"),
    expected="a mapping with title: and steps:")


def load_derivation(path) -> Derivation:
    """The one chain of a file (an error for a file with several parts)."""
    parts = load_derivations(path)
    if len(parts) != 1:
        raise InputError(f"file holds {len(parts)} derivations (parts:); expected one", file=path)
    return parts[0]


def load_derivations(path) -> list[Derivation]:
    """Every chain of a file: its `steps`, or each entry of its `parts` (sharing declarations)."""
    text = read_text(path, MAX_FILE_BYTES)
    return parse_derivations(text, path=str(path))


def parse_derivation(text: str, path: str | None = None) -> Derivation:
    """The one chain of a derivation text."""
    parts = parse_derivations(text, path)
    if len(parts) != 1:
        raise InputError(f"file holds {len(parts)} derivations (parts:); expected one", file=path)
    return parts[0]


def parse_derivations(text: str, path: str | None = None) -> list[Derivation]:
    if len(text) > MAX_FILE_BYTES:
        raise InputError(f"text is {len(text)} characters; the limit is {MAX_FILE_BYTES}", file=path)
    data = validate(DERIVATION_FILE, load_yaml(text, path), path)
    if "parts" in data:
        parts = data["parts"]
    else:
        parts = [{"title": data["title"], "goal": data.get("goal"), "steps": data["steps"],
                  LINE_KEY: data.get(LINE_KEY), LINES_KEY: data.get(LINES_KEY)}]
    context = build_context(data, path)
    out = []
    for part in parts:
        title = part.get("title") or data["title"]
        out.append(_chain(title, part, context, data, path))
    return out


def _chain(title, part, context, data, path) -> Derivation:
    steps = []
    for n, item in enumerate(part["steps"], start=1):
        if isinstance(item, str):
            item = {"expr": item}
        line = item.get(LINE_KEY) or line_of(part, "steps")
        rel_text = item.get("rel", "=")
        relation = relations.parse(rel_text) if isinstance(rel_text, str) else None
        if relation is None:
            raise InputError(f"unknown relation {rel_text!r} (use =, <=, >=, ~=)", file=path, step=n, line=line)
        text = item["expr"]
        try:
            expr = parse_expression(text, context)
        except InputError as exc:
            raise exc.located(file=path, step=n, line=line) from None
        steps.append(Step(n, text, expr, relation, item.get("by", ""), line))
    goal = None
    goal_text = ""
    if part.get("goal"):
        goal_text = part["goal"]
        try:
            goal = parse_relation(goal_text, context)
        except InputError as exc:
            raise exc.located(file=path, step="goal", line=line_of(part, "goal")) from None
        goal = (goal[0], relations.parse(goal[1]) or goal[1], goal[2])
    return Derivation(title, steps, context, data.get("source", ""), path, goal, goal_text)


def _mapping(data, key, path) -> dict:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise InputError(f"'{key}' must be a mapping", file=path, line=line_of(data, key))
    return strip(value)


def build_context(data: dict, path=None) -> Context:
    """The declarations of validated data (``DECLARATIONS``; see ``schema.validate``)."""
    data = validate(Record(DECLARATIONS, expected="a mapping of declarations"),
                    {k: v for k, v in data.items() if k in DECLARATIONS or k in (LINE_KEY, LINES_KEY)}, path)
    ctx = Context()
    where = dict(file=path)
    for name, kind in _mapping(data, "symbols", path).items():
        kind = str(kind)
        if kind not in ASSUMPTIONS:
            raise InputError(f"symbol '{name}': unknown assumption '{kind}' (known: {', '.join(ASSUMPTIONS)})", **where)
        ctx.declare(str(name), kind)
    for name, rng in _mapping(data, "indices", path).items():
        lo, hi = _range(str(rng), ctx, f"index '{name}'", path)
        ctx.index(str(name), lo, hi)
    for name, dim in _mapping(data, "vectors", path).items():
        ctx.vector(str(name), _expr(str(dim), ctx, f"vector '{name}'", path))
        ctx.symbol(str(name))
    for name, vars_ in _mapping(data, "functions", path).items():
        vars_ = vars_ if isinstance(vars_, list) else [vars_]
        ctx.functions[str(name)] = tuple(_expr(str(v), ctx, f"function '{name}'", path) for v in vars_)
    densities = data.get("densities") or []
    for name in [densities] if isinstance(densities, str) else densities:
        ctx.density_names.add(name)
    resolver = NameResolver(ctx, strict=False)
    for key, family in _mapping(data, "distributions", path).items():
        density = _declared_density(str(key), ctx, resolver, path)
        value = _family(str(family), ctx, path, f"distribution {key}")
        if isinstance(value, PointlessNormal):
            value = value.at(density.vars[0], ctx)
        ctx.families[density] = value
    _parameters(data, ctx, resolver, path)
    for name, family in _mapping(data, "random", path).items():
        sym = ctx.symbol(str(name))
        value = _family(str(family), ctx, path, f"random '{name}'")
        ctx.randoms[sym] = value.at(sym, ctx) if isinstance(value, PointlessNormal) else value
    for name, value in _mapping(data, "let", path).items():
        ctx.lets[ctx.symbol(str(name))] = _expr(str(value), ctx, f"let '{name}'", path)
    for name, spec in _mapping(data, "samples", path).items():
        idx = str(spec["index"])
        if idx not in ctx.indices:
            raise InputError(f"samples '{name}': index '{idx}' is not declared under indices:", **where)
        dist = _family(str(spec["from"]), ctx, path, f"samples '{name}'")
        var = ctx.symbol(str(name))
        ctx.samples[str(name)] = (ctx.indices[idx][0], var, dist)
        ctx.vector(str(name), ctx.indices[idx][2])
    for key, value in _mapping(data, "factorizations", path).items():
        _factorization(str(key), str(value), ctx, resolver, path, line_of(data, "factorizations"))
    _assumptions(data, ctx, path)
    return ctx


def _factorization(key, text, ctx, resolver, path, line):
    """``p(x, z1, z2): p(z2) p(z1|z2) p(x|z1)``: the joint is the product of the factors (written
    side by side or with ``*``); ``Context.factorize`` checks that they form a Bayesian network."""
    joint = _declared_density(key, ctx, resolver, path)
    product = _expr(re.sub(r"\)\s+(?=[A-Za-z])", ")*", text.strip()), ctx, f"factorization of {key}", path)
    factors = list(sp.Mul.make_args(product))
    try:
        ctx.factorize(joint, factors)
    except ValueError as exc:
        raise InputError(f"factorization of {key}: {exc}", file=path, line=line) from None


def _parameters(data, ctx: Context, resolver, path) -> None:
    """``parameters: {q: [mu, sigma]}``: the abstract density q depends on the declared symbols mu and
    sigma (a derivative with respect to one of them differentiates q)."""
    for name, params in _mapping(data, "parameters", path).items():
        params = params if isinstance(params, list) else [params]
        dname = resolver.density_name(str(name))
        if dname is None:
            raise InputError(f"parameters '{name}': not a density name (declare it under densities: or "
                             "distributions:)", file=path, line=line_of(data, "parameters"))
        syms = []
        for p in params:
            p = str(p)
            if p not in ctx.symbols or ctx.is_vector(p):
                raise InputError(f"parameters '{name}': '{p}' is not a declared symbol (declare it under symbols:)",
                                 file=path, line=line_of(data, "parameters"))
            if p in {getattr(v, "name", "") for d in ctx.families for v in d.vars + d.given}:
                raise InputError(f"parameters '{name}': '{p}' is a variable of a density, not a parameter",
                                 file=path, line=line_of(data, "parameters"))
            syms.append(ctx.symbols[p])
        ctx.parameters[dname] = tuple(dict.fromkeys(tuple(ctx.parameters.get(dname, ())) + tuple(syms)))


def _assumptions(data, ctx: Context, path) -> None:
    """``assume:``: inequalities between declared parameters, added to the Context in order."""
    items = data.get("assume") or []
    if isinstance(items, str):
        items = [items]
    for n, text in enumerate(items):
        line = item_line(items, n) or line_of(data, "assume")
        try:
            conditions = parse_condition(text, ctx)
        except InputError as exc:
            raise InputError(f"assumption '{text}': {exc.message}", file=path, line=line) from None
        for lhs, rel, rhs in conditions:
            try:
                ctx.assume(lhs, rel, rhs, text=text, line=line)
            except AssumptionError as exc:
                hint = f" ({exc.file_hint})" if exc.file_hint else ""
                raise InputError(f"{exc}{hint}", file=path, line=line) from None


def _declared_density(text, ctx, resolver, path):
    # declaring a density declares its variables
    head = text.split("(", 1)[0].strip()
    if resolver.density_name(head) is None:
        ctx.density_names.add(head)
    inside = text[text.find("(") + 1: text.rfind(")")] if "(" in text else ""
    for part in inside.replace("|", ",").split(","):
        part = part.strip()
        if part and part.replace("_", "").isalnum() and part not in ctx.symbols and part not in ctx.vectors:
            ctx.symbol(part)
    d = _expr(text, ctx, f"distribution {text}", path)
    if not isinstance(d, Density):
        raise InputError(f"distribution key {text!r} must be a density such as q(z|x)", file=path)
    return d


def _family(text, ctx, path, what):
    from .expr_parser import TermBuilder, _lark, check_bounds

    check_bounds(text)
    try:
        tree = _lark("start").parse(text)
        return TermBuilder(NameResolver(ctx, strict=True)).transform(tree)
    except InputError as exc:
        raise InputError(f"{what}: {exc.message}", file=path) from None
    except Exception as exc:  # lark errors, wrapped visit errors
        orig = getattr(exc, "orig_exc", exc)
        msg = orig.message if isinstance(orig, InputError) else f"cannot parse {text!r}"
        raise InputError(f"{what}: {msg}", file=path) from None


def _expr(text, ctx, what, path):
    try:
        return parse_expression(text, ctx)
    except InputError as exc:
        raise InputError(f"{what}: {exc.message}", file=path) from None


def _range(text, ctx, what, path):
    if ".." not in text:
        raise InputError(f"{what}: range must read like 1..d", file=path)
    lo, hi = text.split("..", 1)
    return _expr(lo.strip(), ctx, what, path), _expr(hi.strip(), ctx, what, path)
