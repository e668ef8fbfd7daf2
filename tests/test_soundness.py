"""Soundness as a property: the symbolic checker never proves a false step.

* Random identities and inequalities between random terms over random linear-Gaussian
  models (some densities declared, some abstract): whatever the prover proves, the
  numeric check confirms on generated models; a term plus a non-zero multiple of a
  non-constant term is never proved equal to it.
* Every step of derivations/ the prover proves is confirmed by the numeric check on
  200 generated models.

The mutants of every proved step of derivations/ are in test_check_mutations.py.
"""
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_proofs.checking import Status, check_step, prove
from elbo_proofs.numeric import numeric_check
from elbo_proofs.parsing import load_derivations, parse_expression
from elbo_proofs.parsing.derivation import parse_derivation

DERIVATIONS = sorted((Path(__file__).resolve().parents[1] / "derivations").glob("*.yaml"))

# declarations a random model may have; each is present or absent
DECLARATIONS = {
    "prior": "p(z): N(z; m0, v0)",
    "likelihood": "p(x|z): N(x; a*z + b, s2)",
    "posterior family": "q(z|x): N(z; mu, sigma^2)",
}

# terms of the random steps, all over x (observed), z (latent) and the model's parameters
ATOMS = [
    "log(p(x|z))", "log(p(z))", "log(p(x))", "log(p(z|x))", "log(p(x, z))", "log(q(z|x))",
    "p(x|z)", "p(z|x)*p(x)", "p(x, z)",
    "z", "z^2", "x", "mu", "log(sigma^2)",
    "E[z ~ q(z|x)](log(p(x, z)) - log(q(z|x)))",
    "E[z ~ q(z|x)](log(p(x|z)))",
    "E[z ~ q(z|x)](z^2)",
    "KL(q(z|x) || p(z))", "KL(q(z|x) || p(z|x))",
]

# adding a non-zero multiple of any of them changes a term
NON_CONSTANT = ATOMS  # none of them is identically zero


def model_context(declared):
    decls = "\n".join(f"  {DECLARATIONS[k]}" for k in sorted(declared))
    text = f"""\
    title: random model
    symbols: {{x: real, z: real, m0: real, a: real, b: real, mu: real, v0: positive, s2: positive, sigma: positive}}
    """
    text = textwrap.dedent(text)
    if decls:
        text += "distributions:\n" + decls + "\n"
    return parse_derivation(text + 'steps: ["1", "1"]\n').context


declared_sets = st.sets(st.sampled_from(sorted(DECLARATIONS)))
coefficients = st.integers(-2, 2)
linear_terms = st.lists(st.tuples(coefficients, st.sampled_from(ATOMS)), min_size=1, max_size=3)


def text_of(terms):
    return " + ".join(f"({c})*({t})" for c, t in terms) if terms else "0"


def confirmed_numerically(lhs, rhs, rel, ctx, examples):
    res = numeric_check(lhs, rhs, rel, ctx, examples=examples)
    assert res.status == "agree", (
        f"the prover proved {lhs} {rel} {rhs}, but the numeric check says {res.status}: "
        f"{res.counterexample or getattr(res, 'detail', '')}")


@settings(max_examples=25, deadline=None)
@given(declared_sets, linear_terms, linear_terms, st.sampled_from(["=", "<=", ">="]))
def test_what_the_prover_proves_between_random_terms_holds(declared, left, right, rel):
    ctx = model_context(declared)
    lhs, rhs = parse_expression(text_of(left), ctx), parse_expression(text_of(right), ctx)
    if prove(lhs, rhs, rel, ctx).holds:
        confirmed_numerically(lhs, rhs, rel, ctx, examples=30)


# densities a step may confuse: marginal and conditional, conditioned either way, p and q
DENSITY_FORMS = ["p(x|z)", "p(z)", "p(x)", "p(z|x)", "p(x, z)", "q(z|x)", "q(z)"]
LOG_TERMS = [f"log({d})" for d in DENSITY_FORMS]


@settings(max_examples=40, deadline=None)
@given(declared_sets, linear_terms, st.lists(st.tuples(coefficients, st.sampled_from(LOG_TERMS)), min_size=1, max_size=2),
       st.data())
def test_confusing_one_density_for_another_is_never_proved(declared, terms, logs, data):
    """A step that writes one density where another was (p(x|z) for p(x), q(z) for q(z|x),
    p(z) for p(z|x)...) is false; if the prover proves one, the numeric check must agree."""
    ctx = model_context(declared)
    k = data.draw(st.integers(0, len(logs) - 1))
    c, old = logs[k]
    new = data.draw(st.sampled_from([t for t in LOG_TERMS if t != old]))
    lhs = parse_expression(text_of(terms + logs), ctx)
    rhs = parse_expression(text_of(terms + logs[:k] + [(c or 1, new)] + logs[k + 1:]), ctx)
    if lhs != rhs and prove(lhs, rhs, "=", ctx).holds:
        confirmed_numerically(lhs, rhs, "=", ctx, examples=30)


@settings(max_examples=30, deadline=None)
@given(declared_sets, linear_terms, st.sampled_from(NON_CONSTANT), st.sampled_from([-2, -1, 1, 2]))
def test_a_term_is_never_proved_equal_to_itself_plus_another(declared, terms, other, c):
    ctx = model_context(declared)
    lhs = parse_expression(text_of(terms), ctx)
    rhs = parse_expression(text_of(terms + [(c, other)]), ctx)
    assert prove(lhs, rhs, "=", ctx).holds is not True, f"{lhs} = {rhs} proved"


@pytest.mark.parametrize("declared, lhs, rhs", [
    ({"likelihood"}, "log(p(x))", "log(p(x|z))"),
    ({"prior"}, "log(p(z|x))", "log(p(z))"),
    ({"posterior family"}, "log(q(z|x))", "log(p(z|x))"),
    ({"prior", "likelihood"}, "log(p(x))", "log(p(x|z)) + log(p(z))"),
])
def test_false_identities_over_declared_models_are_refuted(declared, lhs, rhs):
    ctx = model_context(declared)
    left, right = parse_expression(lhs, ctx), parse_expression(rhs, ctx)
    assert prove(left, right, "=", ctx).holds is not True
    v = check_step(left, right, "=", ctx, examples=20)
    assert v.status is Status.REFUTED, v.message


def _proved_steps():
    for path in DERIVATIONS:
        for derivation in load_derivations(path):
            steps = derivation.steps
            for prev, step in zip(steps, steps[1:]):
                yield pytest.param(derivation.context, prev.expr, step.expr, step.relation,
                                   id=f"{path.stem}-s{step.number}")


@pytest.mark.parametrize("ctx, prev, expr, rel", list(_proved_steps()))
def test_every_proved_step_agrees_with_the_numeric_check_on_200_models(ctx, prev, expr, rel):
    assert prove(prev, expr, rel, ctx).holds is True
    # an estimate is judged on each model by the mean of 2 x 2000 draws of its samples, so
    # 50 models of an estimate cost more than 200 of an identity
    confirmed_numerically(prev, expr, rel, ctx, examples=50 if rel == "~=" else 200)
