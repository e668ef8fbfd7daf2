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
from elbo_proofs.terms import Expectation

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


# false steps over abstract, Gaussian and Bernoulli models, as derivation files
FALSE_FILES = {
    'bern': 'title: Bernoulli missing term\nsymbols: {D: positive integer, z: real}\nvectors: {x: D}\nindices: {j: 1..D}\nfunctions: {x_hat: z}\ndistributions:\n  p(x|z): prod(j, Bernoulli(x_j; x_hat_j))\nsteps:\n  - expr: log(p(x|z))\n  - expr: sum(j, x_j*log(x_hat_j))\n',
    'bern2': 'title: Bernoulli mean as mass\nsymbols: {m: probability, x: binary}\nsteps:\n  - expr: E[x ~ Bernoulli(x; m)](x^2)\n  - expr: m^2\n',
    'elbo_wrong': 'title: ELBO wrong direction\nsymbols: {x: real, z: real}\nsteps:\n  - expr: log(p(x))\n  - expr: E[z ~ q(z|x)](log(p(x, z)) - log(q(z|x)))\n    rel: "<="\n',
    'jensen_eq': 'title: Jensen as equality\nsymbols: {mu: real, sigma: positive}\ndistributions:\n  q(z): N(z; mu, sigma^2)\nsteps:\n  - expr: log(E[z ~ q(z)](exp(z)))\n  - expr: E[z ~ q(z)](z)\n',
    'jointwrong': 'title: wrong chain rule\nsymbols: {x: real, z: real}\nsteps:\n  - expr: log(p(x, z))\n  - expr: log(p(z|x)) + log(p(z))\n',
    'klneg': 'title: KL nonpositive\nsymbols: {mu: real, sigma: positive}\ndistributions:\n  q(z): N(z; mu, sigma^2)\n  p(z): N(z; 0, 1)\nsteps:\n  - expr: KL(q || p)\n  - expr: 0\n    rel: "<="\n',
    'logprod': 'title: log of a product of reals\nsymbols: {a: real, b: real}\nsteps:\n  - expr: log(a*b)\n  - expr: log(a) + log(b)\n',
}
FALSE_FILES.update({
    "E under a joint": "title: t\nsymbols: {x: real, z: real}\nsteps:\n  - expr: E[z ~ p(x, z)](1)\n  - expr: 1\n",
    "E under a density of another variable":
        "title: t\nsymbols: {x: real, z: real}\nsteps:\n  - expr: E[z ~ p(x|z)](1)\n  - expr: 1\n",
})
# numerically, log(a b) = log a + log b is only evaluable where a, b > 0, where it holds; the
# numeric models read an E over z under p(x, z) as normalized, and have no z under p(x|z)
NOT_REFUTABLE = {"logprod", "E under a joint", "E under a density of another variable"}


@pytest.mark.parametrize("name", sorted(FALSE_FILES))
def test_false_steps_are_never_proved(name):
    d = parse_derivation(FALSE_FILES[name])
    prev, step = d.steps
    assert prove(prev.expr, step.expr, step.relation, d.context).holds is not True
    v = check_step(prev.expr, step.expr, step.relation, d.context, examples=20)
    assert v.status is not Status.PROVED and not v.contradiction
    if name not in NOT_REFUTABLE:
        assert v.status is Status.REFUTED, v.message


def test_the_true_versions_are_proved():
    ctx = parse_derivation(FALSE_FILES["bern2"]).context
    m, x = ctx.symbols["m"], ctx.symbols["x"]
    e = parse_expression("E[x ~ Bernoulli(x; m)](x^2 + 3*x)", ctx)
    assert prove(e, 4 * m, "=", ctx).holds is True
    ctx = parse_derivation(FALSE_FILES["logprod"]).context
    assert prove(parse_expression("log(a^2)", ctx), parse_expression("2*log(abs(a))", ctx), "=", ctx).holds is True


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


def test_a_density_integrates_to_one_only_over_its_whole_space():
    import sympy as sp

    from elbo_proofs.terms import Context, Density

    ctx = Context()
    z = ctx.declare("z", "real")
    q = Density("q", (z,), ())
    assert prove(sp.Integral(q, (z, 0, 1)), sp.Integer(1), "=", ctx).holds is not True
    assert prove(sp.Integral(q * z, (z, 0, 1)), Expectation(z, z, q), "=", ctx).holds is not True
    assert prove(sp.Integral(q, z), sp.Integer(1), "=", ctx).holds is True
    assert prove(sp.Integral(q, (z, -sp.oo, sp.oo)), sp.Integer(1), "=", ctx).holds is True


def test_jensen_needs_a_positive_integrand():
    ctx = model_context({"posterior family"})
    neg = parse_expression("log(E[z ~ q(z|x)](-z^2))", ctx)
    inside = parse_expression("E[z ~ q(z|x)](log(-z^2))", ctx)
    assert prove(neg, inside, ">=", ctx).holds is not True
    ctx = model_context(set())
    pos = parse_expression("log(E[z ~ q(z|x)](exp(z)*p(x|z)))", ctx)
    inside = parse_expression("E[z ~ q(z|x)](z + log(p(x|z)))", ctx)
    assert prove(pos, inside, ">=", ctx).holds is True


# -- assumptions ---------------------------------------------------------------------------
BETA_STEP = ("E[z ~ q(z|x)](log(p(x|z))) - beta*KL(q(z|x) || p(z))",
             "E[z ~ q(z|x)](log(p(x|z))) - KL(q(z|x) || p(z))")


def assumed_context(assume: str):
    text = ("title: t\nsymbols: {x: real, z: real, beta: positive, a: real, b: real}\n"
            + (f"assume: [{assume}]\n" if assume else "") + 'steps: ["1", "1"]\n')
    return parse_derivation(text).context


def test_the_beta_vae_step_is_not_proved_without_its_assumption_and_refuted_with_beta_below_1():
    ctx = assumed_context("")
    lhs, rhs = (parse_expression(t, ctx) for t in BETA_STEP)
    assert prove(lhs, rhs, "<=", ctx).holds is not True
    v = check_step(lhs, rhs, "<=", ctx, examples=30)
    assert v.status is Status.REFUTED, v.message
    assert v.counterexample.values["beta"] < 1


@settings(max_examples=20, deadline=None)
@given(st.fractions(min_value=0, max_value=3, max_denominator=4), st.sampled_from([">=", ">"]))
def test_a_bound_on_beta_proves_the_beta_step_exactly_when_it_implies_beta_at_least_1(c, rel):
    ctx = assumed_context(f"beta {rel} {c.numerator}/{c.denominator}")
    lhs, rhs = (parse_expression(t, ctx) for t in BETA_STEP)
    proved = prove(lhs, rhs, "<=", ctx).holds is True
    assert proved == (c >= 1)
    if proved:
        confirmed_numerically(lhs, rhs, "<=", ctx, examples=20)
    else:
        v = check_step(lhs, rhs, "<=", ctx, examples=30)
        assert v.status is Status.REFUTED, v.message
        assert v.counterexample.values["beta"] >= c   # the counterexample respects the assumption


SIGN_TERMS = ["a", "b", "beta", "a - b", "beta - 1", "a*b", "a^2 - b", "beta*a - 1", "b - 2*a + 1", "1 - beta"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "beta", "a - b", "a - beta"]), st.sampled_from([">=", ">", "<=", "<"]),
                          st.integers(-2, 2)), min_size=1, max_size=3),
       st.sampled_from(SIGN_TERMS), st.booleans(), st.data())
def test_a_sign_decided_under_assumptions_holds_on_every_model_of_them(assumptions, term, strict, data):
    """Whatever sign the assumptions are said to imply holds at values drawn to satisfy them."""
    from elbo_proofs.numeric.models import make_plan, model_strategy
    from elbo_proofs.terms import AssumptionError, conditions

    ctx = assumed_context("")
    try:
        for lhs, rel, c in assumptions:
            ctx.assume(parse_expression(lhs, ctx), rel, c)
    except AssumptionError:
        return
    e = parse_expression(term, ctx)
    if not conditions.sign_reason(e, ctx, strict=strict) is not None:
        return
    plan = make_plan([e, ctx.symbols["a"] + ctx.symbols["b"] + ctx.symbols["beta"]], ctx)
    values = data.draw(model_strategy(plan)).scalars
    value = conditions.evaluate(e, values)
    assert value > 0 if strict else value >= 0, f"{term} under {assumptions} at {values}"
