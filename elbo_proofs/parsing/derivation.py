"""YAML derivation files (docs/format.md): declarations, an optional goal, steps.

The loader builds a Context from the declarations and parses every expression
with the project grammar.  Every problem becomes an InputError naming the file,
the line and the step.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import sympy as sp
import yaml

from ..errors import InputError
from ..terms import ASSUMPTIONS, Context, Density
from .expr_parser import parse_expression, parse_relation
from .names import NameResolver, PointlessNormal

RELATIONS = {"=": "=", "==": "=", "<=": "<=", ">=": ">=", "~=": "~=", "approx": "~=", "≈": "~=", "≤": "<=", "≥": ">="}
MAX_FILE_BYTES = 200_000
MAX_STEPS = 200
TOP_KEYS = {"title", "source", "symbols", "vectors", "indices", "distributions", "random", "let",
            "samples", "functions", "goal", "steps", "densities", "parts"}
PART_KEYS = {"title", "goal", "steps"}


@dataclass
class Step:
    number: int
    text: str
    expr: sp.Expr
    relation: str  # relation to the previous step: "=", "<=", ">=", "~="
    justification: str = ""
    line: int | None = None


@dataclass
class Derivation:
    title: str
    steps: list[Step]
    context: Context
    source: str = ""
    path: str | None = None
    goal: tuple | None = None  # (lhs, relation, rhs)
    goal_text: str = ""
    errors: list = field(default_factory=list)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping, for error messages."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def load_derivation(path) -> Derivation:
    """The one chain of a file (an error for a file with several parts)."""
    parts = load_derivations(path)
    if len(parts) != 1:
        raise InputError(f"file holds {len(parts)} derivations (parts:); expected one", file=path)
    return parts[0]


def load_derivations(path) -> list[Derivation]:
    """Every chain of a file: its `steps`, or each entry of its `parts` (sharing declarations)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", file=path) from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"file is {len(raw)} bytes; the limit is {MAX_FILE_BYTES}", file=path)
    try:
        return parse_derivations(raw.decode("utf-8"), path=str(path))
    except UnicodeDecodeError:
        raise InputError("file is not UTF-8 text", file=path) from None


def parse_derivation(text: str, path: str | None = None) -> Derivation:
    """The one chain of a derivation text."""
    parts = parse_derivations(text, path)
    if len(parts) != 1:
        raise InputError(f"file holds {len(parts)} derivations (parts:); expected one", file=path)
    return parts[0]


def parse_derivations(text: str, path: str | None = None) -> list[Derivation]:
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"malformed YAML: {problem}", file=path, line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise InputError("a derivation is a YAML mapping with title: and steps:", file=path)
    unknown = set(data) - TOP_KEYS - {"__line__"}
    if unknown:
        raise InputError(f"unknown field(s): {', '.join(sorted(unknown))} (known: {', '.join(sorted(TOP_KEYS))})", file=path)
    if "title" not in data:
        raise InputError("missing field 'title'", file=path)
    if "steps" not in data and "parts" not in data:
        raise InputError("missing field 'steps'", file=path)
    if "parts" in data:
        parts = data["parts"]
        if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
            raise InputError("'parts' must be a non-empty list of mappings with steps:", file=path, line=data.get("__line__"))
    else:
        parts = [{"title": data["title"], "goal": data.get("goal"), "steps": data["steps"]}]
    context = build_context(data, path)
    out = []
    for k, part in enumerate(parts, start=1):
        unknown = set(part) - PART_KEYS - {"__line__"}
        if unknown:
            raise InputError(f"part {k}: unknown field(s): {', '.join(sorted(unknown))}", file=path, line=part.get("__line__"))
        if "steps" not in part:
            raise InputError(f"part {k}: missing field 'steps'", file=path, line=part.get("__line__"))
        title = str(part.get("title") or data["title"])
        out.append(_chain(title, part.get("steps"), part.get("goal"), context, data, path))
    return out


def _chain(title, steps_raw, goal_raw, context, data, path) -> Derivation:
    if not isinstance(steps_raw, list) or not steps_raw:
        raise InputError("'steps' must be a non-empty list", file=path, line=data.get("__line__"))
    if len(steps_raw) > MAX_STEPS:
        raise InputError(f"{len(steps_raw)} steps; the limit is {MAX_STEPS}", file=path)
    steps = []
    for n, item in enumerate(steps_raw, start=1):
        if isinstance(item, str):
            item = {"expr": item}
        if not isinstance(item, dict):
            raise InputError("a step is a mapping with expr:, rel: and by:", file=path, step=n)
        line = item.get("__line__")
        if "expr" not in item:
            raise InputError("step has no 'expr' field", file=path, step=n, line=line)
        rel_text = str(item.get("rel", "="))
        if rel_text not in RELATIONS:
            raise InputError(f"unknown relation {rel_text!r} (use =, <=, >=, ~=)", file=path, step=n, line=line)
        text = str(item["expr"])
        try:
            expr = parse_expression(text, context)
        except InputError as exc:
            raise exc.located(file=path, step=n, line=line) from None
        steps.append(Step(n, text, expr, RELATIONS[rel_text], str(item.get("by", "") or ""), line))
    goal = None
    goal_text = ""
    if goal_raw:
        goal_text = str(goal_raw)
        try:
            goal = parse_relation(goal_text, context)
        except InputError as exc:
            raise exc.located(file=path, step="goal") from None
        goal = (goal[0], RELATIONS[goal[1]], goal[2])
    return Derivation(title, steps, context, str(data.get("source", "") or ""), path, goal, goal_text)


def _mapping(data, key, path) -> dict:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise InputError(f"'{key}' must be a mapping", file=path, line=data.get("__line__"))
    return {k: v for k, v in value.items() if k != "__line__"}


def build_context(data: dict, path=None) -> Context:
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
    for name in data.get("densities") or []:
        ctx.density_names.add(str(name))
    resolver = NameResolver(ctx, strict=False)
    for key, family in _mapping(data, "distributions", path).items():
        density = _declared_density(str(key), ctx, resolver, path)
        value = _family(str(family), ctx, path, f"distribution {key}")
        if isinstance(value, PointlessNormal):
            value = value.at(density.vars[0], ctx)
        ctx.families[density] = value
    for name, family in _mapping(data, "random", path).items():
        sym = ctx.symbol(str(name))
        value = _family(str(family), ctx, path, f"random '{name}'")
        ctx.randoms[sym] = value.at(sym, ctx) if isinstance(value, PointlessNormal) else value
    for name, value in _mapping(data, "let", path).items():
        ctx.lets[ctx.symbol(str(name))] = _expr(str(value), ctx, f"let '{name}'", path)
    for name, spec in _mapping(data, "samples", path).items():
        if not isinstance(spec, dict) or not {"index", "from"} <= set(spec):
            raise InputError(f"samples '{name}' needs index: and from:", **where)
        idx = str(spec["index"])
        if idx not in ctx.indices:
            raise InputError(f"samples '{name}': index '{idx}' is not declared under indices:", **where)
        dist = _family(str(spec["from"]), ctx, path, f"samples '{name}'")
        var = ctx.symbol(str(name))
        ctx.samples[str(name)] = (ctx.indices[idx][0], var, dist)
        ctx.vector(str(name), ctx.indices[idx][2])
    return ctx


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
