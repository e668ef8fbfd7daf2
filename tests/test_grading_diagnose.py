"""Nearest-correct-form hints for wrong steps."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from elbo_proofs.grading.diagnose import (diagnose, linear_form, reversed_inequality, sign_flip, swapped_condition,
                                          swapped_kl, term_difference)
from elbo_proofs.parsing import parse_expression
from elbo_proofs.terms import Context
from elbo_proofs.terms.printing import to_plain


def terms(*texts):
    ctx = Context()
    return [parse_expression(t, ctx, strict=False) for t in texts]


def test_sign_of_log_evidence_flipped_inside_expectation():
    right, wrong = terms(
        "E[z ~ Q(z|X)](log(Q(z|X)) - (log(P(X|z)) + log(P(z)) - log(P(X))))",
        "E[z ~ Q(z|X)](log(Q(z|X)) - (log(P(X|z)) + log(P(z)) + log(P(X))))",
    )
    hint = sign_flip(right, wrong)
    assert hint == "the sign of log(P(X)) is flipped"
    assert diagnose(right, wrong, "=") == hint


def test_linear_form_pulls_constants_out_of_expectations():
    (e,) = terms("E[z ~ q(z|x)](2*log(p(x)) + log(p(x|z)))")
    form = linear_form(e)
    assert any(c == 2 and "log(p(x))" == str(t) for t, c in form.items())


def test_missing_and_extra_terms():
    full, short = terms("a + log(p(x)) + b", "a + b")
    assert term_difference(full, short) == "the term log(p(x)) is missing"
    assert term_difference(short, full) == "the term log(p(x)) does not belong here"
    a, b = terms("a + 2*b", "a + 3*b")
    assert term_difference(a, b) == "the coefficient of b should be 2, not 3"


def test_kl_arguments_swapped():
    right, wrong = terms("E[z ~ q(z|x)](log(p(x|z))) - KL(q(z|x) || p(z))",
                         "E[z ~ q(z|x)](log(p(x|z))) - KL(p(z) || q(z|x))")
    hint = swapped_kl(right, wrong)
    assert hint and "swapped" in hint and "KL(q(z | x) || p(z))" in hint


def test_conditional_swapped_confirmed_by_the_checker():
    lhs, wrong = terms("p(z|x)", "p(z|x)*p(z)/p(x)")
    seen = []

    def holds(a, rel, b):
        seen.append(str(b))
        return "p(x | z)" in str(b)

    hint = swapped_condition(lhs, wrong, "=", holds)
    assert hint == "p(z | x) is written where p(x | z) belongs"
    assert seen


def test_reversed_inequality_and_equality_that_is_only_a_bound():
    a, b = terms("log(E[z ~ q(z)](w))", "E[z ~ q(z)](log(w))")

    def holds(x, rel, y):  # Jensen: log E >= E log
        return rel == ">="

    assert "other way" in reversed_inequality(a, "<=", b, holds)
    assert "only as an inequality" in reversed_inequality(a, "=", b, holds)
    assert reversed_inequality(a, ">=", b, lambda *_: False) is None


def test_no_hint_when_nothing_applies():
    a, b = terms("a*b + c", "a + b*c + d^2")
    assert diagnose(a, b, "=", lambda *_: False) == ""
    assert diagnose(None, b, "=") == ""


@given(st.sampled_from(["log(p(x))", "a*b", "KL(q(z) || p(z))", "E[z ~ q(z)](z^2)", "sigma^2"]),
       st.integers(1, 5), st.sampled_from(["c", "log(q(z))", "2*d + e"]))
def test_any_single_sign_flip_is_named(term, k, rest):
    right, wrong = terms(f"{rest} + {k}*{term}", f"{rest} - {k}*{term}")
    hint = sign_flip(right, wrong)
    assert hint is not None and hint.startswith("the sign of")
    (t,) = terms(term)
    named = to_plain(t.function) if hasattr(t, "function") else to_plain(t)
    assert named in hint
    assert "**" not in hint and "**" not in hint.md


def test_wrong_derivative_result_names_the_coefficient():
    deriv, wrong = terms("d/dsigma((mu^2 + sigma^2 - log(sigma^2) - 1)/2)", "sigma - 2/sigma")
    assert term_difference(deriv, wrong) == "the coefficient of 1/sigma should be -1, not -2"


def test_canonical_difference_uses_the_checkers_rewriting():
    from elbo_proofs.grading.diagnose import canonical_difference

    right, wrong = terms("mu^2 + 2*mu*sigma*m + sigma^2", "mu^2 + 2*mu*sigma + sigma^2")
    (m,) = terms("m")
    canon = lambda e: e.subs(m, 0)  # noqa: E731 -- stands in for "E[eps] = 0"
    assert canonical_difference(right, wrong, canon) == "the term 2*mu*sigma does not belong here"
    assert canonical_difference(right, wrong, None) is None
    assert diagnose(right, wrong, "=", canon=canon) == "the term 2*mu*sigma does not belong here"
