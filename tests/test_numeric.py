"""numeric_check: identities agree, wrong steps get shrunk counterexamples."""
from __future__ import annotations

import math
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_proofs.checking.verdict import Counterexample
from elbo_proofs.numeric import NumericResult, numeric_check
from elbo_proofs.parsing import parse_expression
from elbo_proofs.parsing.derivation import parse_derivation


def context(yaml_text: str):
    return parse_derivation(textwrap.dedent(yaml_text) + '\nsteps: ["1", "1"]\n').context


KL_CTX = """
title: KL of N(mu, sigma^2) from N(0, 1)
symbols: {mu: real, sigma: positive}
distributions:
  q(z): N(z; mu, sigma^2)
  p(z): N(z; 0, 1)
"""

ABSTRACT_CTX = """
title: abstract latent-variable model
symbols: {x: real, z: real, t: positive, L: positive integer}
indices:
  l: 1..L
samples:
  z: {index: l, from: q(z|x)}
"""

BERNOULLI_CTX = """
title: Bernoulli decoder
symbols: {D: positive integer, z: real}
vectors: {x: D}
indices: {j: 1..D}
functions: {x_hat: z}
"""

VECTOR_CTX = """
title: diagonal Gaussians
symbols: {d: positive integer, sigma: positive}
vectors: {mu: d, sigma: d, z: d}
indices: {j: 1..d}
distributions:
  q(z): N(mu, sigma^2)
  p(z): N(0, I)
"""

REPARAM_CTX = """
title: reparameterization
symbols: {mu: real, sigma: positive, z: real, a: real}
random:
  eps: N(0, 1)
let:
  z: mu + sigma*eps
distributions:
  q(z): N(z; mu, sigma^2)
"""

ELBO = "E[z ~ q(z|x)](log(p(x|z)) + log(p(z)) - log(q(z|x)))"


def check(ctx_text, lhs, relation, rhs, examples=15, seed=0) -> NumericResult:
    ctx = context(ctx_text)
    return numeric_check(parse_expression(lhs, ctx), parse_expression(rhs, ctx), relation, ctx,
                         examples=examples, seed=seed)


def assert_agrees(res: NumericResult):
    assert res.status == "agree", (res.status, res.detail, res.counterexample)
    assert res.counterexample is None
    assert res.examples > 0


def assert_refuted(res: NumericResult, relation="=") -> Counterexample:
    assert res.status == "counterexample", (res.status, res.detail)
    cex = res.counterexample
    assert isinstance(cex, Counterexample)
    assert math.isfinite(cex.lhs) and math.isfinite(cex.rhs)
    if relation == "=":
        assert abs(cex.lhs - cex.rhs) > 1e-4
    elif relation == "<=":
        assert cex.lhs > cex.rhs
    elif relation == ">=":
        assert cex.lhs < cex.rhs
    assert all(isinstance(k, str) and isinstance(v, float) for k, v in cex.values.items())
    assert cex.model
    return cex


# -- identities ----------------------------------------------------------------------

def test_gaussian_kl_closed_form_agrees():
    res = check(KL_CTX, "KL(q || p)", "=", "(mu^2 + sigma^2 - log(sigma^2) - 1)/2", examples=20)
    assert_agrees(res)
    assert res.examples == 20


def test_kl_definition_agrees():
    assert_agrees(check(KL_CTX, "KL(q || p)", "=", "E[q](log(q(z)) - log(p(z)))"))


def test_second_moment_of_a_gaussian():
    assert_agrees(check(KL_CTX, "E[z ~ q(z)](z^2)", "=", "mu^2 + sigma^2"))
    assert_agrees(check(REPARAM_CTX, "E[z ~ N(mu, sigma^2)](z^2)", "=", "mu^2 + sigma^2"))


def test_elbo_decomposition_on_the_abstract_model():
    res = check(ABSTRACT_CTX, "log(p(x))", "=", ELBO + " + KL(q(z|x) || p(z|x))")
    assert_agrees(res)


def test_elbo_decomposition_on_the_bernoulli_decoder():
    assert_agrees(check(BERNOULLI_CTX, "log(p(x))", "=", ELBO + " + KL(q(z|x) || p(z|x))"))
    # the opaque decoder x_hat is the model's own Bernoulli mean
    assert_agrees(check(BERNOULLI_CTX, "log(p(x|z))", "=",
                        "sum(j=1..D, x_j*log(x_hat_j) + (1-x_j)*log(1-x_hat_j))"))


def test_bayes_rule_and_marginalization():
    assert_agrees(check(ABSTRACT_CTX, "p(z|x)", "=", "p(x|z)*p(z)/p(x)"))
    assert_agrees(check(ABSTRACT_CTX, "int(p(x|z)*p(z), z)", "=", "p(x)"))
    assert_agrees(check(ABSTRACT_CTX, "E[x ~ p(x)](x)", "=", "E[z ~ p(z)](E[x ~ p(x|z)](x))"))


def test_vector_kl_and_gradients():
    assert_agrees(check(VECTOR_CTX, "KL(q || p)", "=", "sum(j, (mu_j^2 + sigma_j^2 - log(sigma_j^2) - 1)/2)"))
    assert_agrees(check(VECTOR_CTX, "d/dsigma_1(KL(q || p))", "=", "sigma_1 - 1/sigma_1"))


def test_reparameterization_gradient():
    assert_agrees(check(REPARAM_CTX, "d/dsigma(E[z ~ q(z)](z^2))", "=", "E[eps](d/dsigma(z^2))"))
    assert_agrees(check(REPARAM_CTX, "d/dmu(E[q](log(1 + exp(a*z))))", "=", "E[eps](a/(1+exp(-a*z)))"))


def test_kl_of_a_product_is_the_sum_of_kls():
    prod = """
title: mean field
symbols: {D: positive integer}
vectors: {z: D}
indices: {i: 1..D}
"""
    lhs = "E[z ~ prod(i=1..D, q_i(z_i))](sum(i, log(q_i(z_i)) - log(p_i(z_i))))"
    assert_agrees(check(prod, lhs, "=", "sum(i, KL(q_i(z_i) || p_i(z_i)))"))
    assert_refuted(check(prod, lhs, "=", "sum(i, KL(p_i(z_i) || q_i(z_i)))"))
    # each index value has its own pair of Gaussians
    assert_refuted(check(prod, "KL(q_1(z_1) || p_1(z_1))", "=", "KL(q_2(z_2) || p_2(z_2))"))


def test_kl_of_components_of_a_diagonal_gaussian():
    terms = "sum(j, KL(N(z_j; mu_j, sigma_j^2) || N(z_j; 0, 1)))"
    assert_agrees(check(VECTOR_CTX, "KL(q || p)", "=", terms))
    assert_refuted(check(VECTOR_CTX, terms, "=", "sum(j, (mu_j^2 + sigma_j^2 - log(sigma_j) - 1)/2)"))


# -- wrong steps ---------------------------------------------------------------------

def test_sign_flip_is_refuted_with_both_sides():
    res = check(ABSTRACT_CTX, "log(p(x))", "=", ELBO + " - KL(q(z|x) || p(z|x))")
    cex = assert_refuted(res)
    assert "x" in cex.values and "q(z) mean" in cex.values
    assert "linear-Gaussian" in cex.model


def test_dropped_term_is_refuted():
    res = check(ABSTRACT_CTX, "log(p(x))", "=",
                "E[z ~ q(z|x)](log(p(x|z)) - log(q(z|x))) + KL(q(z|x) || p(z|x))")
    assert_refuted(res)


def test_wrong_bayes_rule_is_refuted():
    cex = assert_refuted(check(ABSTRACT_CTX, "p(z|x)", "=", "p(z|x)*p(z)/p(x)"))
    assert {"x", "z"} <= set(cex.values)


def test_wrong_bayes_rule_with_an_integral_over_a_vector_latent():
    vec = """
title: vector latent
symbols: {d: positive integer, x: real}
vectors: {z: d}
indices: {j: 1..d}
"""
    assert_agrees(check(vec, "p(z|x)", "=", "p(x|z)*p(z)/int(p(x|z)*p(z), z)"))
    cex = assert_refuted(check(vec, "p(z|x)", "=", "p(z|x)*p(z)/int(p(z|x)*p(z), z)"))
    assert cex.values["d"] == 1.0 and "z_1" in cex.values


def test_wrong_kl_constant_is_refuted_and_shrunk():
    cex = assert_refuted(check(KL_CTX, "KL(q || p)", "=", "(mu^2 + sigma^2 - log(sigma^2) + 1)/2"))
    # Hypothesis shrinks to the simplest model: q = p = N(0, 1), where KL = 0 but the claim says 1
    assert cex.values == {"mu": 0.0, "sigma": 1.0}
    assert cex.lhs == pytest.approx(0.0, abs=1e-9)
    assert cex.rhs == pytest.approx(1.0)


def test_counterexamples_are_simple():
    cex = assert_refuted(check(ABSTRACT_CTX, "log(p(x))", "=", ELBO + " - KL(q(z|x) || p(z|x))"))
    # every drawn number shrinks to a short value (0, 1, 2, 0.5 ...), not a random float
    for name, v in cex.values.items():
        assert v == round(v * 4) / 4, (name, v)


def test_wrong_derivative_is_refuted():
    cex = assert_refuted(check(VECTOR_CTX, "d/dsigma_1(KL(q || p))", "=", "sigma_1 - 1"))
    assert cex.values["d"] == 1.0


# -- inequalities ----------------------------------------------------------------------

def test_elbo_is_a_lower_bound():
    assert_agrees(check(ABSTRACT_CTX, ELBO, "<=", "log(p(x))"))
    assert_agrees(check(BERNOULLI_CTX, ELBO, "<=", "log(p(x))"))
    assert_agrees(check(ABSTRACT_CTX, "log(p(x))", ">=", ELBO))
    assert_refuted(check(ABSTRACT_CTX, ELBO, ">=", "log(p(x))"), ">=")


def test_log_inequality():
    assert_agrees(check(ABSTRACT_CTX, "log(t)", "<=", "t - 1", examples=30))
    cex = assert_refuted(check(ABSTRACT_CTX, "log(t)", ">=", "t - 1"), ">=")
    assert set(cex.values) == {"t"}


def test_kl_is_nonnegative_but_not_symmetric():
    assert_agrees(check(ABSTRACT_CTX, "KL(q(z|x) || p(z|x))", ">=", "0"))
    assert_refuted(check(ABSTRACT_CTX, "KL(q(z|x) || p(z|x))", "=", "KL(p(z|x) || q(z|x))"))


# -- estimators --------------------------------------------------------------------------

def test_monte_carlo_estimator_is_unbiased():
    res = check(ABSTRACT_CTX, "(1/L)*sum(l=1..L, log(p(x|z_l)))", "~=", "E[z ~ q(z|x)](log(p(x|z)))",
                examples=10)
    assert_agrees(res)
    assert_agrees(check(ABSTRACT_CTX, "E[z ~ q(z|x)](exp(z))", "~=", "(1/L)*sum(l=1..L, exp(z_l))",
                        examples=10))


def test_biased_estimators_are_refuted():
    res = check(ABSTRACT_CTX, "(1/L)*sum(l=1..L, exp(z_l))", "~=", "exp(E[z ~ q(z|x)](z))", examples=10)
    cex = assert_refuted(res, "~=")
    assert "L" in cex.values and "repetitions" in cex.note
    res = check(ABSTRACT_CTX, "(1/L)*sum(l=1..L, log(p(x|z_l))) + 0.1", "~=", "E[z ~ q(z|x)](log(p(x|z)))",
                examples=10)
    cex = assert_refuted(res, "~=")
    assert cex.lhs - cex.rhs == pytest.approx(0.1, abs=1e-6)
    # the log of an importance-weighted average underestimates log p(x)
    assert_refuted(check(ABSTRACT_CTX, "log((1/L)*sum(l=1..L, p(x|z_l)*p(z_l)/q(z_l|x)))", "~=",
                         "log(p(x))", examples=10), "~=")


# -- unevaluable ---------------------------------------------------------------------------

def test_unknown_node_is_unevaluable():
    ctx = context(KL_CTX)
    mu = ctx.symbols["mu"]
    res = numeric_check(sp.Piecewise((mu, mu > 0), (0, True)), mu, "=", ctx, examples=5)
    assert res.status == "unevaluable"
    assert "Piecewise" in res.detail


def test_nowhere_finite_is_unevaluable():
    res = check(ABSTRACT_CTX, "log(-1 - t^2)", "=", "0", examples=5)
    assert res.status == "unevaluable"
    assert res.detail
    assert res.counterexample is None


def test_unknown_relation_is_unevaluable():
    ctx = context(KL_CTX)
    res = numeric_check(ctx.symbols["mu"], ctx.symbols["mu"], "<>", ctx)
    assert res.status == "unevaluable"


# -- determinism and calling contexts ---------------------------------------------------------

def test_same_seed_same_counterexample():
    a = check(ABSTRACT_CTX, "log(p(x))", "=", ELBO, seed=3)
    b = check(ABSTRACT_CTX, "log(p(x))", "=", ELBO, seed=3)
    assert a.counterexample == b.counterexample


def _sign_flip_status(_):
    return check(ABSTRACT_CTX, "log(p(x))", "=", ELBO + " - KL(q(z|x) || p(z|x))", examples=5).status


def test_threads():
    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(_sign_flip_status, range(2))) == ["counterexample"] * 2


@settings(max_examples=2, deadline=None)
@given(st.just(0))
def test_inside_a_hypothesis_test(_):
    assert _sign_flip_status(0) == "counterexample"
    assert_agrees(check(KL_CTX, "KL(q || p)", "=", "(mu^2 + sigma^2 - log(sigma^2) - 1)/2", examples=5))
