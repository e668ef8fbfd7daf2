"""The importance-weighted bound: expectations over K iid draws, and the two Jensen steps of
log p(x) >= E[log 1/K sum_k w_k] >= ELBO.  Wrong versions are never proved and are refuted."""
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_proofs.checking import Status, check_step, prove
from elbo_proofs.errors import InputError
from elbo_proofs.numeric import numeric_check
from elbo_proofs.parsing import parse_expression
from elbo_proofs.parsing.derivation import parse_derivation
from elbo_proofs.terms import SampleExpectation
from elbo_proofs.terms.printing import to_latex, to_plain

HEADER = """\
title: t
symbols: {x: real, z: real, K: positive integer, mu: real, sigma: positive}
indices: {k: 1..K}
samples:
  z: {index: k, from: q(z|x)}
"""
ABSTRACT = parse_derivation(HEADER + 'steps: ["1", "1"]\n').context
GAUSSIAN = parse_derivation(HEADER + "distributions:\n  q(z|x): N(z; mu, sigma^2)\n" + 'steps: ["1", "1"]\n').context

IW = "E[z_1, ..., z_K ~ q(z|x)](log(1/K*sum(k, p(x, z_k)/q(z_k|x))))"
MEAN_OF_LOGS = "E[z_1, ..., z_K ~ q(z|x)](1/K*sum(k, log(p(x, z_k)/q(z_k|x))))"
MEAN = "E[z_1, ..., z_K ~ q(z|x)](1/K*sum(k, p(x, z_k)/q(z_k|x)))"
ELBO = "E[z ~ q(z|x)](log(p(x, z)) - log(q(z|x)))"


def P(text, ctx=ABSTRACT):
    return parse_expression(text, ctx)


# -- the true steps ----------------------------------------------------------------------
@pytest.mark.parametrize("lhs, rel, rhs, rule", [
    ("p(x)", "=", MEAN, "expectation over iid draws"),
    ("log(p(x))", "=", f"log({MEAN})", "expectation over iid draws"),
    (f"log({MEAN})", ">=", IW, "non-negativity certificate"),
    (IW, ">=", MEAN_OF_LOGS, "non-negativity certificate"),
    (IW, ">=", ELBO, "non-negativity certificate"),
    (MEAN_OF_LOGS, "=", ELBO, "expectation over iid draws"),
    ("E[z_1, ..., z_K ~ q(z|x)](log(p(x, z_1)) + 3)", "=", "E[z ~ q(z|x)](log(p(x, z))) + 3",
     "expectation over iid draws"),
    ("E[z_1, ..., z_K ~ q(z|x)](log(q(z_K|x)))", "=", "-H[q(z|x)]", "expectation over iid draws"),
])
def test_the_steps_of_the_bound_are_proved_and_confirmed(lhs, rel, rhs, rule):
    res = prove(P(lhs), P(rhs), rel, ABSTRACT)
    assert res.holds is True, res.residual
    assert any(rule in r for r in res.rewrites), res.rewrites
    v = check_step(P(lhs), P(rhs), rel, ABSTRACT, examples=20)
    assert v.status is Status.PROVED and v.method == "symbolic+numeric", v.message


def test_the_certificates_name_jensen():
    assert "Jensen" in prove(P(f"log({MEAN})"), P(IW), ">=", ABSTRACT).certificate
    assert "average" in prove(P(IW), P(ELBO), ">=", ABSTRACT).certificate


# -- wrong versions: never proved, refuted --------------------------------------------------
WRONG = {
    "the wrong direction (ELBO above the bound)": (ELBO, ">=", IW),
    "the wrong direction (bound above log p(x))": (IW, ">=", "log(p(x))"),
    "the wrong direction of Jensen over the draws": (f"log({MEAN})", "<=", IW),
    "an equality where Jensen gives an inequality": ("log(p(x))", "=", IW),
    "the bound equal to the ELBO": (IW, "=", ELBO),
    "1/K missing: the sum of the weights": ("log(p(x))", ">=",
                                            "E[z_1, ..., z_K ~ q(z|x)](log(sum(k, p(x, z_k)/q(z_k|x))))"),
    "2/K instead of 1/K": ("log(p(x))", ">=", "E[z_1, ..., z_K ~ q(z|x)](log(2/K*sum(k, p(x, z_k)/q(z_k|x))))"),
    "1/(K+1): weights that do not sum to 1": (
        "E[z_1, ..., z_K ~ q(z|x)](log(1/(K+1)*sum(k, p(x, z_k)/q(z_k|x))))", ">=",
        "E[z_1, ..., z_K ~ q(z|x)](1/(K+1)*sum(k, log(p(x, z_k)/q(z_k|x))))"),
    "1/K missing in the mean of the weights": ("log(p(x))", "=",
                                               "log(E[z_1, ..., z_K ~ q(z|x)](sum(k, p(x, z_k)/q(z_k|x))))"),
    "the log moved outside the expectation": (IW, "=", f"log({MEAN})"),
    "the log moved inside the sum (the ELBO above the bound)": (MEAN_OF_LOGS, ">=", IW),
}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_versions_are_not_proved_and_are_refuted(name):
    lhs, rel, rhs = WRONG[name]
    assert prove(P(lhs), P(rhs), rel, ABSTRACT).holds is not True
    v = check_step(P(lhs), P(rhs), rel, ABSTRACT, examples=30)
    assert v.status is Status.REFUTED and not v.contradiction, v.message
    assert v.counterexample is not None and v.counterexample.values


def test_a_true_bound_without_a_certificate_is_only_supported():
    # log of the sum of the weights is above their average's log, so above the ELBO: true, but the
    # weights 1 (not 1/K) are no average and no rule certifies it; the numeric check agrees
    lhs = P("E[z_1, ..., z_K ~ q(z|x)](log(sum(k, p(x, z_k)/q(z_k|x))))")
    assert prove(lhs, P(ELBO), ">=", ABSTRACT).holds is not True
    assert check_step(lhs, P(ELBO), ">=", ABSTRACT, examples=20).status is Status.SUPPORTED


def test_jensen_needs_positive_weights():
    diff = "1/K*sum(k, p(x, z_k) - q(z_k|x))"
    lhs = P(f"log(E[z_1, ..., z_K ~ q(z|x)]({diff}))")
    rhs = P(f"E[z_1, ..., z_K ~ q(z|x)](log({diff}))")
    assert prove(lhs, rhs, ">=", ABSTRACT).holds is not True
    neg = P("E[z_1, ..., z_K ~ q(z|x)](log(1/K*sum(k, -z_k^2)))")
    assert prove(neg, P("E[z_1, ..., z_K ~ q(z|x)](1/K*sum(k, log(-z_k^2)))"), ">=", ABSTRACT).holds is not True


def test_a_sum_over_another_range_is_not_the_expectation_over_the_draws():
    # only K - 1 of the K draws: (K - 1) E_q[f], which the rule does not claim as K E_q[f]
    part = P("E[z_1, ..., z_K ~ q(z|x)](sum(k=1..K-1, log(q(z_k|x))))")
    assert prove(part, P("K*E[z ~ q(z|x)](log(q(z|x)))"), "=", ABSTRACT).holds is not True
    assert check_step(part, P("K*E[z ~ q(z|x)](log(q(z|x)))"), "=", ABSTRACT,
                      examples=20).status is Status.REFUTED


@pytest.mark.parametrize("weight", ["k", "k^2", "1/k"])
def test_a_summand_that_depends_on_the_index_is_not_counted_as_k_equal_terms(weight):
    # sum_k k f(z_k) has expectation (K(K+1)/2) E_q[f], not K k E_q[f]
    weighted = P(f"E[z_1, ..., z_K ~ q(z|x)](sum(k, {weight}*z_k))", GAUSSIAN)
    wrong = P(f"K*{weight}*E[z ~ q(z|x)](z)", GAUSSIAN)
    assert prove(weighted, wrong, "=", GAUSSIAN).holds is not True
    assert check_step(weighted, wrong, "=", GAUSSIAN, examples=20).status is not Status.PROVED


# -- the numeric check over several draws ------------------------------------------------
def test_the_joint_quadrature_over_the_draws_is_exact_for_moments():
    # the mean of K draws from N(mu, sigma^2) has second moment mu^2 + sigma^2/K
    lhs = P("E[z_1, ..., z_K ~ q(z|x)]((1/K*sum(k, z_k))^2)", GAUSSIAN)
    assert numeric_check(lhs, P("mu^2 + sigma^2/K", GAUSSIAN), "=", GAUSSIAN, examples=30).status == "agree"
    res = numeric_check(lhs, P("mu^2 + sigma^2", GAUSSIAN), "=", GAUSSIAN, examples=30)
    assert res.status == "counterexample"
    assert res.counterexample.values["K"] >= 2


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(["1/K", "2/K", "1", "1/(K+1)", "1/2"]),
       st.sampled_from([IW.replace("1/K", "{c}"), MEAN_OF_LOGS.replace("1/K", "{c}"), ELBO, "log(p(x))",
                        f"log({MEAN})".replace("1/K", "{c}")]),
       st.sampled_from([IW, MEAN_OF_LOGS, ELBO, "log(p(x))", f"log({MEAN})"]),
       st.sampled_from(["=", "<=", ">="]))
def test_what_the_prover_proves_over_the_draws_holds(c, left, right, rel):
    lhs, rhs = P(left.format(c=c)), P(right)
    if prove(lhs, rhs, rel, ABSTRACT).holds:
        res = numeric_check(lhs, rhs, rel, ABSTRACT, examples=30)
        assert res.status == "agree", (left, rel, right, res.counterexample)


# -- the notation --------------------------------------------------------------------------
def test_the_expectation_over_the_draws_is_read_and_printed():
    e = P(IW)
    assert isinstance(e, SampleExpectation)
    assert "x" in {s.name for s in e.free_symbols} and "z" not in {s.name for s in e.free_symbols}
    assert to_plain(e).startswith("E_{z_1, ..., z_K ~ q(z | x)}[")
    assert to_latex(e).startswith(r"\mathbb{E}_{z_{1}, \dots, z_{K} \sim q(z \mid x)}")


@pytest.mark.parametrize("text, why", [
    ("E[z_1, ..., z_L ~ q(z|x)](log(p(x, z_1)))", "unknown symbol 'L'"),
    ("E[z_2, ..., z_K ~ q(z|x)](log(p(x, z_2)))", "declared for k = 1..K"),
    ("E[z_1, ..., z_K ~ p(z)](log(p(x, z_1)))", "declared as drawn from q(z | x)"),
    ("E[y_1, ..., y_K ~ q(z|x)](1)", "'y' is not declared under samples"),
    ("E[z_1, ..., x_K ~ q(z|x)](1)", "one sample name"),
])
def test_a_wrong_expectation_over_the_draws_is_one_error_line(text, why):
    with pytest.raises(InputError, match=re.escape(why)):
        P(text)


def test_the_variable_beside_its_draws_is_given_no_meaning():
    # z itself is not one of the draws z_1 .. z_K: no rule takes the expectation
    lhs = P("E[z_1, ..., z_K ~ q(z|x)](z^2 + log(q(z_1|x)))")
    assert prove(lhs, P("z^2 + E[z ~ q(z|x)](log(q(z|x)))"), "=", ABSTRACT).holds is not True


def test_the_bound_written_over_the_variable_is_the_same_term():
    # E[z ~ q(z|x)](f(z_1, ..., z_K)) is the expectation over the declared draws (montecarlo.py's
    # notation): the Jensen steps hold in it too, and their wrong direction is refuted
    iw = P("E[z ~ q(z|x)](log(1/K*sum(k, p(x, z_k)/q(z_k|x))))")
    assert prove(iw, P(IW), "=", ABSTRACT).holds is True
    mean = P("log(E[z ~ q(z|x)](1/K*sum(k, p(x, z_k)/q(z_k|x))))")
    for lhs, rhs in ((mean, iw), (iw, P(ELBO))):
        v = check_step(lhs, rhs, ">=", ABSTRACT, examples=20)
        assert v.status is Status.PROVED and v.method == "symbolic+numeric", v.message
        wrong = check_step(lhs, rhs, "<=", ABSTRACT, examples=20)
        assert wrong.status is Status.REFUTED, wrong.message
