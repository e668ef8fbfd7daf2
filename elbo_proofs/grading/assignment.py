"""The optional assignment file: points, a goal, and the declarations the goal needs.

    title: ELBO decomposition              # optional
    points: 10                             # max score (default 10)
    goal: "log(p(x)) = E[z ~ q(z|x)](log(p(x, z)) - log(q(z|x))) + KL(q(z|x) || p(z|x))"
    partial_credit:                        # optional; the policy of docs/grading.md
      goal_points: 3                       # part of the points for reaching the goal (default 30 %)
      error_penalty: 2                     # cost of each wrong step (default 20 % of points)
      unchecked_penalty: 0                 # cost of each line nobody could check (default 0: flagged only)
    declarations:                          # same keys as a derivation file (docs/format.md)
      symbols: {sigma: positive}
      distributions: {"q(z|x)": "N(mu, sigma^2)"}

The goal is written in the project's expression syntax and parsed with
``parse_relation``.  Every problem is an InputError naming the file, so the
command line prints one line and exits 2.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..terms import relations

DECLARATION_KEYS = {"symbols", "vectors", "indices", "distributions", "random", "let", "samples", "functions",
                    "densities"}
POLICY_KEYS = ("goal_points", "error_penalty", "unchecked_penalty")


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
    unchecked_penalty: float | None = None
    problems: list = field(default_factory=list)     # [Problem]; the points are then theirs


@dataclass
class Problem:
    """One problem of an assignment: its name ("1(c)"), points and goal; the steps of the chains
    that start from a side of its goal are scored against its points."""
    name: str
    points: float
    goal: tuple | None = None
    goal_text: str = ""
    goal_points: float | None = None
    error_penalty: float | None = None


MAX_FILE_BYTES = 200_000


def _schema():
    from ..parsing import DECLARATIONS, MAX_LENGTH
    from ..schema import ListOf, Number, Record, Text

    declarations = Record(DECLARATIONS, expected="a mapping of declarations")
    policy = {k: Number(maximum=1e6) for k in POLICY_KEYS}
    return Record({"title": Text(max_length=1000), "points": Number(positive=True, maximum=1e6),
                   "goal": Text(max_length=MAX_LENGTH), **policy,
                   "partial_credit": Record(policy, expected="a mapping (goal_points, error_penalty, "
                                                             "unchecked_penalty)"),
                   "problems": ListOf(Record({"name": Text(max_length=100), "points": Number(positive=True, maximum=1e6),
                                              "goal": Text(max_length=MAX_LENGTH), "goal_points": Number(maximum=1e6),
                                              "error_penalty": Number(maximum=1e6)},
                                             required=frozenset({"name", "points", "goal"}),
                                             expected="a problem (name:, points:, goal:)"),
                                      min_length=1, max_length=100, expected="a list of problems"),
                   "declarations": declarations, **DECLARATIONS},
                  expected="a mapping (points:, goal:, declarations:)")


def load_assignment(path) -> Assignment:
    from ..inputs import LINE_KEY, LINES_KEY, load_yaml, read_text
    from ..parsing import parse_relation
    from ..parsing import build_context
    from ..schema import line_of, strip, validate

    path = Path(path)
    text = read_text(path, MAX_FILE_BYTES, what="assignment file")
    data = load_yaml(text, path)
    if data is None:
        data = {}
    data = validate(_schema(), data, path)
    points = data.get("points", 10.0)
    pc = strip(data.get("partial_credit") or {})
    twice = [k for k in POLICY_KEYS if k in pc and k in data]
    if twice:
        raise InputError(f"{', '.join(twice)} set both at the top and under partial_credit", file=path,
                         line=line_of(data, "partial_credit"))
    policy = {**{k: data[k] for k in POLICY_KEYS if k in data}, **pc}
    goal_points = policy.get("goal_points")
    penalty = policy.get("error_penalty")
    unchecked = policy.get("unchecked_penalty")
    if goal_points is not None and goal_points > points:
        raise InputError(f"'goal_points' ({goal_points:g}) is more than 'points' ({points:g})", file=path,
                         line=line_of(data, "goal_points"))

    decl = data.get("declarations") or {}
    merged = {k: v for k, v in data.items() if k in DECLARATION_KEYS}
    for k, v in strip(decl).items():
        if k in merged:
            raise InputError(f"'{k}' is given twice, at the top and under declarations:", file=path,
                             line=line_of(decl, k))
        merged[k] = v
    merged[LINE_KEY] = data.get(LINE_KEY)
    merged[LINES_KEY] = {**(data.get(LINES_KEY) or {}), **(decl.get(LINES_KEY) or {})} if decl else data.get(LINES_KEY)
    try:
        context = build_context(merged, str(path))
    except InputError as exc:
        raise exc.located(file=path) from None

    goal = None
    goal_text = ""
    if data.get("goal") is not None:
        goal_text = data["goal"].strip()
        try:
            lhs, rel, rhs = parse_relation(goal_text, context, strict=False)
        except InputError as exc:
            raise InputError(f"goal: {exc.message}", file=path, line=line_of(data, "goal")) from None
        goal = (lhs, relations.parse(rel) or rel, rhs)
    problems = []
    for n, raw in enumerate(data.get("problems") or [], start=1):
        name = raw["name"].strip()
        if not name or name in {p.name for p in problems}:
            raise InputError(f"problem {n}: {'a name is needed' if not name else f'the name {name!r} is used twice'}",
                             file=path, line=line_of(raw))
        if raw.get("goal_points") is not None and raw["goal_points"] > raw["points"]:
            raise InputError(f"problem {name}: 'goal_points' ({raw['goal_points']:g}) is more than 'points' "
                             f"({raw['points']:g})", file=path, line=line_of(raw, "goal_points"))
        text = raw["goal"].strip()
        try:
            lhs, rel, rhs = parse_relation(text, context, strict=False)
        except InputError as exc:
            raise InputError(f"problem {name}: goal: {exc.message}", file=path, line=line_of(raw, "goal")) from None
        problems.append(Problem(name, raw["points"], (lhs, relations.parse(rel) or rel, rhs), text,
                                raw.get("goal_points"), raw.get("error_penalty")))
    if problems:
        total = sum(p.points for p in problems)
        if "points" in data and abs(data["points"] - total) > 1e-9:
            raise InputError(f"'points' ({data['points']:g}) is not the sum of the problems' points ({total:g})",
                             file=path, line=line_of(data, "points"))
        if goal is not None:
            raise InputError("give either one 'goal' or 'problems' with a goal each, not both", file=path,
                             line=line_of(data, "goal"))
        points = total
    return Assignment(str(path), data.get("title", ""), points, goal, goal_text, goal_points, penalty, context,
                      unchecked, problems)
