"""The optional assignment file: points, a goal, and the declarations the goal needs.

    title: ELBO decomposition              # optional
    points: 10                             # max score (default 10)
    goal: "log(p(x)) = E[z ~ q(z|x)](log(p(x, z)) - log(q(z|x))) + KL(q(z|x) || p(z|x))"
    goal_points: 3                         # part of the points for reaching the goal (default 30 %)
    error_penalty: 2                       # cost of each wrong step (default 20 % of points)
    declarations:                          # same keys as a derivation file (docs/format.md)
      symbols: {sigma: positive}
      distributions: {"q(z|x)": "N(mu, sigma^2)"}

The goal is written in the project's expression syntax and parsed with
``parse_relation``.  Every problem is an InputError naming the file, so the
command line prints one line and exits 2.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import InputError

DECLARATION_KEYS = {"symbols", "vectors", "indices", "distributions", "random", "let", "samples", "functions",
                    "densities"}
KNOWN_KEYS = {"title", "points", "goal", "goal_points", "error_penalty", "declarations"} | DECLARATION_KEYS
RELATIONS = {"=": "=", "==": "=", "<=": "<=", ">=": ">=", "~=": "~="}


@dataclass
class Assignment:
    path: str
    title: str = ""
    points: float = 10.0
    goal: tuple | None = None       # (lhs, relation, rhs) as terms
    goal_text: str = ""
    goal_points: float | None = None
    error_penalty: float | None = None
    context: object = None


def _number(data, key, path, *, positive=False):
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"'{key}' must be a number, got {value!r}", file=path)
    if value < 0 or (positive and value == 0):
        raise InputError(f"'{key}' must be {'positive' if positive else 'non-negative'}, got {value!r}", file=path)
    return float(value)


def load_assignment(path) -> Assignment:
    from ..parsing import parse_relation
    from ..parsing.derivation import build_context

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("assignment file not found", file=path) from None
    except IsADirectoryError:
        raise InputError("assignment path is a folder, not a YAML file", file=path) from None
    except OSError as exc:
        raise InputError(f"cannot read assignment file: {exc.strerror}", file=path) from None
    except UnicodeDecodeError:
        raise InputError("assignment file is not UTF-8 text", file=path) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"malformed YAML: {problem}", file=path, line=mark.line + 1 if mark else None) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError("an assignment file is a YAML mapping (points:, goal:, declarations:)", file=path)
    unknown = set(map(str, data)) - KNOWN_KEYS
    if unknown:
        raise InputError(f"unknown field(s): {', '.join(sorted(unknown))} (known: {', '.join(sorted(KNOWN_KEYS))})",
                         file=path)
    points = _number(data, "points", path, positive=True)
    goal_points = _number(data, "goal_points", path)
    penalty = _number(data, "error_penalty", path)
    points = 10.0 if points is None else points
    if goal_points is not None and goal_points > points:
        raise InputError(f"'goal_points' ({goal_points:g}) is more than 'points' ({points:g})", file=path)

    decl = data.get("declarations") or {}
    if not isinstance(decl, dict):
        raise InputError("'declarations' must be a mapping", file=path)
    bad = set(map(str, decl)) - DECLARATION_KEYS
    if bad:
        raise InputError(f"unknown declaration(s): {', '.join(sorted(bad))} (known: {', '.join(sorted(DECLARATION_KEYS))})",
                         file=path)
    merged = {k: v for k, v in data.items() if k in DECLARATION_KEYS}
    merged.update(decl)
    try:
        context = build_context(merged, str(path))
    except InputError as exc:
        raise exc.located(file=path) from None
    except Exception as exc:  # anything unexpected in the declarations is still bad input
        raise InputError(f"bad declarations: {exc}", file=path) from None

    goal = None
    goal_text = ""
    if data.get("goal") is not None:
        goal_text = str(data["goal"]).strip()
        try:
            lhs, rel, rhs = parse_relation(goal_text, context, strict=False)
        except InputError as exc:
            raise InputError(f"goal: {exc.message}", file=path) from None
        goal = (lhs, RELATIONS.get(rel, rel), rhs)
    return Assignment(str(path), str(data.get("title") or ""), points, goal, goal_text, goal_points, penalty, context)
