"""numeric_check_chain: the steps of a chain judged on one set of drawn models, as the
per-step numeric_check judges them; a failing step still gets its shrunk counterexample."""
from __future__ import annotations

import textwrap

import sympy as sp

from elbo_proofs.checking import check_derivation
from elbo_proofs.numeric import numeric_check, numeric_check_chain
from elbo_proofs.parsing import load_derivations, parse_expression
from elbo_proofs.parsing.derivation import parse_derivation

CTX = """
title: KL of N(mu, sigma^2) from N(0, 1)
symbols: {mu: real, sigma: positive, a: real}
distributions:
  q(z): N(z; mu, sigma^2)
  p(z): N(z; 0, 1)
"""


def context():
    return parse_derivation(textwrap.dedent(CTX) + '\nsteps: ["1", "1"]\n').context


def test_each_step_judged_as_on_its_own():
    ctx = context()
    P = lambda t: parse_expression(t, ctx)  # noqa: E731
    kl = P("KL(q || p)")
    closed = P("(mu^2 + sigma^2 - 1)/2 - log(sigma)")
    wrong = P("(mu^2 + sigma^2 - 1)/2 + log(sigma)")
    pairs = [(kl, "=", closed), (closed, "=", wrong), (closed, "<=", closed + sp.Abs(P("a"))), (kl, ">=", 0)]
    chain = numeric_check_chain(pairs, ctx, examples=20)
    alone = [numeric_check(l, r, rel, ctx, examples=20) for l, rel, r in pairs]
    assert [c.status for c in chain] == [a.status for a in alone] == ["agree", "counterexample", "agree", "agree"]
    assert all(c.examples > 0 for c in chain if c.status == "agree")
    # the wrong step's counterexample is the one its own search shrank
    cex = chain[1].counterexample
    assert cex == alone[1].counterexample
    assert abs(cex.lhs - cex.rhs) > 1e-3


def test_estimator_steps_and_unevaluable_steps_are_left_to_the_caller():
    (d,) = load_derivations_named("mc_estimator.yaml")
    steps = d.steps
    pairs = [(a.expr, b.relation, b.expr) for a, b in zip(steps, steps[1:])]
    chain = numeric_check_chain(pairs, d.context, examples=10)
    for (l, rel, r), res in zip(pairs, chain):
        if rel == "~=":
            assert res is None          # the estimator step draws its own samples
        else:
            assert res is not None and res.status == "agree"


def test_a_false_step_in_a_chain_is_refuted_with_the_others_proved(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text(textwrap.dedent(CTX) + textwrap.dedent("""\
        steps:
          - expr: KL(q || p)
          - expr: (mu^2 + sigma^2 - 1)/2 - log(sigma)
          - expr: (mu^2 + sigma^2)/2 - log(sigma)
          - expr: (mu^2 + sigma^2)/2 - log(sigma) + 0*a
        """))
    (d,) = load_derivations(path)
    r = check_derivation(d, examples=20)
    assert [s.verdict.status.value for s in r.steps] == ["proved", "refuted", "proved"]
    cex = r.steps[1].verdict.counterexample
    assert cex is not None and abs((cex.rhs - cex.lhs) - 0.5) < 1e-6


def load_derivations_named(name):
    from pathlib import Path

    return load_derivations(Path(__file__).resolve().parents[1] / "derivations" / name)
