"""Mutants of every proved step are refuted: a sign flipped, a coefficient changed, a term
dropped, an inequality swapped, p and q swapped in a KL.  Mutants that happen to be
equivalent to the original (checked symbolically) are not mutants and are skipped."""
from pathlib import Path

import pytest
import sympy as sp

from elbo_proofs.checking import Status, check_step, prove
from elbo_proofs.parsing import load_derivations
from elbo_proofs.terms import KL

DERIVATIONS = sorted((Path(__file__).resolve().parents[1] / "derivations").glob("*.yaml"))


def mutants(expr, relation):
    """(description, mutated expression, relation) for one step."""
    terms = sp.Add.make_args(expr)
    if len(terms) > 1:
        for i, t in enumerate(terms):
            rest = terms[:i] + terms[i + 1:]
            yield f"flip the sign of {t}", sp.Add(*rest) - t, relation
            yield f"drop {t}", sp.Add(*rest), relation
            yield f"double {t}", sp.Add(*rest) + 2 * t, relation
    else:
        yield "flip the sign", -expr, relation
        yield "change the coefficient", 2 * expr, relation
        yield "add a constant", expr + 1, relation
    if relation in ("<=", ">="):
        yield "swap the inequality", expr, {"<=": ">=", ">=": "<="}[relation]
    for kl in expr.atoms(KL):
        a, b = kl.args
        yield f"swap the arguments of {kl}", expr.xreplace({kl: KL(b, a)}), relation


def _cases():
    for path in DERIVATIONS:
        for derivation in load_derivations(path):
            steps = derivation.steps
            for prev, step in zip(steps, steps[1:]):
                for what, mutant, rel in mutants(step.expr, step.relation):
                    yield pytest.param(derivation.context, prev.expr, mutant, rel, step.expr,
                                       id=f"{path.stem}-s{step.number}-{what[:40]}")


CASES = list(_cases())


def test_mutations_are_generated_for_every_file():
    assert len(CASES) > 100
    assert {c.id.split("-s")[0] for c in CASES} == {p.stem for p in DERIVATIONS}


@pytest.mark.parametrize("ctx, prev, mutant, rel, original", CASES)
def test_mutant_is_refuted(ctx, prev, mutant, rel, original):
    if prove(original, mutant, "=", ctx).holds:
        pytest.skip("equivalent to the original step")
    if rel in ("<=", ">=") and prove(prev, mutant, rel, ctx).holds:
        pytest.skip("still a true inequality")
    verdict = check_step(prev, mutant, rel, ctx, examples=25)
    assert verdict.status is Status.REFUTED, verdict.message
    ce = verdict.counterexample
    assert ce is not None and ce.values
    if rel == "=":
        assert abs(ce.lhs - ce.rhs) > 1e-9
