"""Helpers for the grading tests: submissions built from expressions, and a toy checker.

The toy checker decides plain algebra (no densities) with SymPy and a few
random points, so the grader's own logic -- first error, back on track,
definitions, cache -- is tested apart from the real checker.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import sympy as sp

from elbo_proofs.checking.verdict import Counterexample, Status, StepVerdict
from elbo_proofs.parsing import parse_expression
from elbo_proofs.terms import Context


@dataclass
class FakeLine:
    line: int
    latex: str
    expr: object
    error: str | None
    relation: str | None


@dataclass
class FakeChain:
    lines: list
    kind: str = "chain"


@dataclass
class FakeSubmission:
    path: str
    chains: list
    context: Context
    definitions: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    text: str = ""


def build(chains, definitions=None, path="fake.md") -> FakeSubmission:
    """chains: [(kind, [(line, relation, text), ...])]; text "??..." is an unparsed line."""
    ctx = Context()
    out = []
    for kind, lines in chains:
        mls = []
        for ln, rel, text in lines:
            if text.startswith("??"):
                mls.append(FakeLine(ln, text, None, "cannot read", rel))
            else:
                mls.append(FakeLine(ln, text, parse_expression(text, ctx, strict=False), None, rel))
        out.append(FakeChain(mls, kind))
    defs = {parse_expression(k, ctx, strict=False): parse_expression(v, ctx, strict=False)
            for k, v in (definitions or {}).items()}
    return FakeSubmission(path, out, ctx, defs)


class ToyChecker:
    """Plain algebra: '=' proved by simplification, else random points find a counterexample."""

    def __init__(self):
        self.calls = []

    def __call__(self, lhs, rhs, relation, context, *, examples=50, time_limit=5.0, numeric=True):
        self.calls.append((str(lhs), relation, str(rhs)))
        if relation == "~=":
            return StepVerdict(Status.NOT_CHECKABLE, relation, message="estimates are out of scope here")
        if relation == "=" and sp.simplify(lhs - rhs) == 0:
            return StepVerdict(Status.PROVED, relation, method="symbolic", message="identity")
        # an undefined function g(a) is drawn as the constant 0: any value will do for a toy
        opaque = {f: sp.Integer(0) for f in (lhs.atoms(sp.core.function.AppliedUndef)
                                             | rhs.atoms(sp.core.function.AppliedUndef))}
        lhs, rhs = lhs.xreplace(opaque), rhs.xreplace(opaque)
        rng = random.Random(0)
        syms = sorted(lhs.free_symbols | rhs.free_symbols, key=lambda s: s.name)
        for _ in range(max(examples, 5)):
            vals = {s: rng.uniform(0.1, 3.0) for s in syms}
            a, b = float(lhs.subs(vals)), float(rhs.subs(vals))
            ok = {"=": abs(a - b) < 1e-9, "<=": a <= b + 1e-12, ">=": a >= b - 1e-12}[relation]
            if not ok:
                cx = Counterexample({s.name: v for s, v in vals.items()}, a, b, "toy")
                return StepVerdict(Status.REFUTED, relation, method="numeric", counterexample=cx,
                                   message=f"left {a:.4g}, right {b:.4g}")
        return StepVerdict(Status.SUPPORTED, relation, method="numeric", examples=max(examples, 5),
                           message="random points agree")


def test_toy_checker_decides_plain_algebra():
    ctx = Context()
    a, b = (parse_expression(t, ctx, strict=False) for t in ("a", "b"))
    chk = ToyChecker()
    assert chk((a + b) ** 2, a**2 + 2 * a * b + b**2, "=", ctx).status is Status.PROVED
    v = chk(a + b, a - b, "=", ctx)
    assert v.status is Status.REFUTED and v.counterexample.values
    assert chk(a**2, a**2 + b**2, "<=", ctx).status is Status.SUPPORTED
