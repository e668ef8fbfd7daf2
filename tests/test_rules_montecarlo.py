"""Monte Carlo rules: the mean and the variance of an average of independent draws."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_proofs.checking import Status, check_step, prove
from elbo_proofs.parsing import parse_expression
from elbo_proofs.parsing.derivation import parse_derivations


def _context(sample="z", index="l", count="L", density="q"):
    text = f"""
title: t
symbols: {{{sample}: real, {count}: positive integer, c: real, a: real}}
indices: {{{index}: 1..{count}}}
samples: {{{sample}: {{index: {index}, from: "{density}({sample})"}}}}
functions: {{f: {sample}}}
steps: [{sample}, {sample}]
"""
    return parse_derivations(text, "t.yaml")[0].context


def _p(text, ctx):
    return parse_expression(text, ctx)


@pytest.mark.parametrize("names", [("z", "l", "L", "q"), ("w", "m", "K", "r")])
def test_the_variance_of_the_sample_mean_is_proved_whatever_the_names(names):
    z, l, L, q = names
    ctx = _context(*names)
    lhs = _p(f"Var[{z} ~ {q}({z})](1/{L}*sum({l}, f({z}_{l})))", ctx)
    res = prove(lhs, _p(f"Var[{z} ~ {q}({z})](f({z}))/{L}", ctx), "=", ctx)
    assert res.holds is True
    assert "variance of a mean of iid samples" in res.rewrites


@pytest.mark.parametrize("wrong", ["Var[z ~ q(z)](f(z))/L^2", "Var[z ~ q(z)](f(z))",
                                   "E[z ~ q(z)](f(z)^2)/L"])
def test_wrong_variances_of_the_sample_mean_are_refuted(wrong):
    ctx = _context()
    lhs = _p("Var[z ~ q(z)](1/L*sum(l, f(z_l)))", ctx)
    assert prove(lhs, _p(wrong, ctx), "=", ctx).holds is None
    verdict = check_step(lhs, _p(wrong, ctx), "=", ctx, examples=20)
    assert verdict.status is Status.REFUTED, verdict.message
    if "Var" in wrong:   # equal for one sample: the counterexample has several
        assert verdict.counterexample.values["L"] >= 2


def test_the_sample_mean_is_unbiased_and_a_wrong_mean_is_refuted():
    ctx = _context()
    lhs = _p("E[z ~ q(z)](1/L*sum(l, f(z_l)))", ctx)
    ok = check_step(lhs, _p("E[z ~ q(z)](f(z))", ctx), "=", ctx, examples=10)
    assert ok.status is Status.PROVED and "expectation over iid samples" in ok.rewrites
    bad = check_step(lhs, _p("E[z ~ q(z)](f(z))/L", ctx), "=", ctx, examples=20)
    assert bad.status is Status.REFUTED


@settings(max_examples=15, deadline=None)
@given(c=st.integers(-3, 3).filter(bool), a=st.integers(-3, 3))
def test_a_constant_factor_leaves_the_variance_squared_and_a_shift_leaves_none(c, a):
    ctx = _context()
    lhs = _p(f"Var[z ~ q(z)](({c})/L*sum(l, f(z_l)) + ({a}))", ctx)
    assert prove(lhs, _p(f"({c * c})*Var[z ~ q(z)](f(z))/L", ctx), "=", ctx).holds is True
    assert prove(lhs, _p(f"({c})*Var[z ~ q(z)](f(z))/L", ctx), "=", ctx).holds is (True if c == 1 else None)


def test_one_draw_has_the_variance_of_its_density():
    ctx = _context()
    assert prove(_p("Var[z ~ q(z)](2*f(z_1))", ctx), _p("4*Var[z ~ q(z)](f(z))", ctx), "=", ctx).holds is True


def test_no_rule_where_the_draws_do_not_enter_as_one_sum():
    ctx = _context()
    # the variable itself beside its draws, a product of two sums: not a mean of iid draws
    for text in ["Var[z ~ q(z)](1/L*sum(l, f(z_l)) + z)",
                 "Var[z ~ q(z)](sum(l, f(z_l))*sum(l, f(z_l)))"]:
        res = prove(_p(text, ctx), _p("Var[z ~ q(z)](f(z))/L", ctx), "=", ctx)
        assert res.holds is None
        assert "variance of a mean of iid samples" not in res.rewrites


def test_a_power_of_a_sum_over_the_draws_is_not_one_draw():
    from elbo_proofs.checking.rules.estimator import expectation_over_samples

    ctx = _context()
    assert expectation_over_samples(_p("sum(l, f(z_l))^2", ctx), ctx) is None
    res = prove(_p("E[z ~ q(z)](sum(l, f(z_l))^2)", ctx), _p("L^2*E[z ~ q(z)](f(z)^2)", ctx), "=", ctx)
    assert res.holds is None


def test_an_operator_under_another_density_is_not_over_the_samples():
    ctx = _context()
    # the samples are drawn from q(z); a variance for z ~ r(z) is not over their law
    lhs = _p("Var[z ~ r(z)](1/L*sum(l, f(z_l)))", ctx)
    res = prove(lhs, _p("Var[z ~ r(z)](f(z))/L", ctx), "=", ctx)
    assert res.holds is None


@pytest.mark.parametrize("weight", ["l", "l^2", "1/l"])
def test_an_estimator_whose_summand_depends_on_the_index_is_not_proved_unbiased(weight):
    # E[sum_l l f(z_l)] = (L(L+1)/2) E_q[f], not L l E_q[f]: the summand is not one draw's f
    ctx = _context()
    estimator = _p(f"sum(l, {weight}*f(z_l))", ctx)
    for wrong in (f"L*{weight}*E[z ~ q(z)](f(z))", "L*E[z ~ q(z)](f(z))"):
        assert prove(estimator, _p(wrong, ctx), "~=", ctx).holds is not True
        assert check_step(estimator, _p(wrong, ctx), "~=", ctx, examples=10).status is not Status.PROVED
