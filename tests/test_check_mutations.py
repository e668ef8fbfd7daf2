"""Mutants of every proved step are refuted: a sign flipped, a coefficient changed, a term
dropped, an inequality swapped, p and q swapped in a KL.  A mutant the prover calls
equivalent to the original step (or still a true inequality) is no exception to check:
the numeric check must confirm the equivalence, and the mutated step is then proved."""
from pathlib import Path

import pytest
import sympy as sp

from elbo_proofs.checking import Status, check_step, prove
from elbo_proofs.numeric import numeric_check
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
                    yield pytest.param(derivation.context, prev.expr, mutant, rel, step.expr, step.relation,
                                       id=f"{path.stem}-s{step.number}-{what[:40]}")


CASES = list(_cases())

# Mutants that are true statements: the checker must not refute them (that would call a true step
# wrong), and a longer numeric check agrees. With binary data every probability mass is at most 1,
# so the ELBO and log p(x) of a Bernoulli decoder are at most 0, and a bound A <= B turned into
# A <= -B still holds there.
TRUE_MUTANTS = {
    "beta_vae-s4-flip the sign": "L_beta <= -ELBO, as 2 ELBO <= 0 <= (beta - 1) KL(q || p(z))",
    "beta_vae-s6-flip the sign": "log p(x) - KL(q || p(z|x)) <= -log p(x), as 2 log p(x) <= 0 <= KL",
}


def test_mutations_are_generated_for_every_file():
    assert len(CASES) > 100
    assert set(TRUE_MUTANTS) <= {c.id for c in CASES}
    assert {c.id.split("-s")[0] for c in CASES} == {p.stem for p in DERIVATIONS}


def _confirmed(lhs, rhs, rel, ctx):
    res = numeric_check(lhs, rhs, rel, ctx, examples=50)
    assert res.status == "agree", f"proved {lhs} {rel} {rhs}, numeric check: {res.status} {res.counterexample}"


@pytest.mark.parametrize("ctx, prev, mutant, rel, original, original_rel", CASES)
def test_mutant_is_refuted(ctx, prev, mutant, rel, original, original_rel, request):
    verdict = check_step(prev, mutant, rel, ctx, examples=25)
    assert not verdict.contradiction, verdict.message
    if request.node.callspec.id in TRUE_MUTANTS:
        assert verdict.status is not Status.REFUTED, verdict.message
        _confirmed(prev, mutant, rel, ctx)
        return
    if rel == original_rel and prove(original, mutant, "=", ctx).holds:
        # not a mutant: the prover says it is the original step written otherwise
        _confirmed(original, mutant, "=", ctx)
        assert verdict.status is Status.PROVED, verdict.message
        return
    if rel in ("<=", ">=") and prove(prev, mutant, rel, ctx).holds:
        # still a true inequality
        _confirmed(prev, mutant, rel, ctx)
        assert verdict.status is Status.PROVED, verdict.message
        return
    assert verdict.status is Status.REFUTED, verdict.message
    ce = verdict.counterexample
    assert ce is not None and ce.values
    if rel == "=":
        assert abs(ce.lhs - ce.rhs) > 1e-9
