"""Assumptions as data: `assume:` in derivation files and `Context.assume` for any reader.

An assumption is checked when it is made (declared names only, parameters only, an
inequality, consistent with the kinds and the other assumptions), used to decide signs,
and respected by the numeric models: no drawn model violates it.
"""
import sympy as sp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_proofs.checking import Status, check_derivation, check_step, prove
from elbo_proofs.errors import InputError
from elbo_proofs.numeric.models import make_plan, model_strategy
from elbo_proofs.parsing import parse_expression
from elbo_proofs.parsing.derivation import parse_derivation
from elbo_proofs.terms import AssumptionError, Context, conditions

HEAD = """\
title: t
symbols: {beta: positive, a: real, b: real, L: positive integer, x: real, z: real, K: positive integer}
indices: {k: 1..K}
vectors: {q: K}
"""
STEPS = 'steps: ["1", "1"]\n'


def context(assume: str = "") -> Context:
    return parse_derivation(HEAD + assume + STEPS, path="f.yaml").context


def error(assume: str) -> InputError:
    with pytest.raises(InputError) as info:
        parse_derivation(HEAD + assume + STEPS, path="f.yaml")
    return info.value


# -- reading ---------------------------------------------------------------------------

def test_assumptions_are_read_in_order_with_their_lines():
    ctx = context("assume:\n  - beta >= 1\n  - L >= 2\n  - 0 < a <= 1\n")
    shown = [(str(a), a.line) for a in ctx.assumptions]
    assert shown == [("beta >= 1", 6), ("L >= 2", 7), ("0 < a", 8), ("a <= 1", 8)]
    assert ctx.assumptions[0].text == "beta >= 1"
    assert ctx.assumptions[2].strict and not ctx.assumptions[3].strict


def test_one_assumption_may_be_written_without_a_list():
    assert [str(a) for a in context("assume: a > b\n").assumptions] == ["a > b"]


@pytest.mark.parametrize("text, words", [
    ("gamma >= 1", "unknown symbol 'gamma'"),
    ("beta = 1", "an inequality"),
    ("beta >=", "ends early"),
    ("z > 0", "z is a variable of"),
    ("q > 0", "q is a vector"),
    ("KL(p(z) || p(z)) >= 0", "not allowed"),
    ("2 > 1", "names no parameter"),
    ("beta <= 0", "contradicts beta being positive"),
    ("L < 1", "contradicts L being positive integer"),
])
def test_a_bad_assumption_names_the_file_and_its_line(text, words):
    extra = "distributions:\n  r(z): N(z; 0, 1)\n" if text.startswith("z") else ""
    exc = error(extra + f"assume:\n  - a >= 0\n  - {text}\n")
    assert exc.file == "f.yaml"
    assert exc.line == HEAD.count("\n") + extra.count("\n") + 3
    assert words in exc.message, exc.message


def test_assumptions_that_contradict_each_other_are_refused():
    exc = error("assume:\n  - beta < 1/2\n  - beta >= 1\n")
    assert "contradicts the assumption beta < 1/2" in exc.message
    assert exc.line == 7
    exc = error("assume:\n  - a > 1\n  - a <= 1\n")
    assert "contradicts" in exc.message
    with pytest.raises(InputError, match="contradicts"):
        parse_derivation(HEAD + "assume: [L > 1, L < 2]\n" + STEPS)  # no integer between


def test_the_api_refuses_the_same_things_as_the_file():
    ctx = context()
    beta = ctx.symbols["beta"]
    with pytest.raises(AssumptionError, match="c is not a parameter of the derivation") as refused:
        ctx.assume(sp.Symbol("c", real=True), ">=", 1)
    # the message is mathematics (a student may read it); how a derivation file fixes it is apart
    assert "symbols:" not in str(refused.value) and refused.value.file_hint == "declare it under symbols:"
    with pytest.raises(AssumptionError, match="an inequality"):
        ctx.assume(beta, "=", 1)
    a = ctx.assume(beta, "≥", 1, text=r"\beta \geq 1", line=3)
    assert a.relation == ">=" and a.line == 3 and ctx.assumptions == [a]
    assert ctx.copy().assumptions == [a] and ctx.copy().assumptions is not ctx.assumptions


# -- signs -----------------------------------------------------------------------------

def test_signs_follow_from_the_assumptions():
    plain = context()
    ctx = context("assume: [beta >= 1, a > b, b >= 2, q_k > 0]\n")
    beta, a, b = (ctx.symbols[n] for n in ("beta", "a", "b"))
    q, k = ctx.vectors["q"][0], ctx.indices["k"][0]
    assert not plain.is_nonnegative(beta - 1)
    assert ctx.is_nonnegative(beta - 1) and not ctx.is_positive(beta - 1)
    assert ctx.is_positive(2 * beta - 1) and ctx.is_positive(beta ** 2 + beta - 1)
    assert ctx.is_positive(a - b) and ctx.is_positive(a - 2) and ctx.is_positive(a)
    assert not ctx.is_nonnegative(1 - beta) and not ctx.is_nonnegative(beta - 2)
    assert not ctx.is_nonnegative(a - 3)
    assert ctx.is_positive(q[k]) and ctx.is_positive(q[1]) and ctx.is_positive(q[k] * beta)
    assert not plain.is_positive(q[k])
    assert conditions.sign_reason(beta - 1, ctx) == [ctx.assumptions[0]]
    assert conditions.sign_reason(beta, ctx) == []   # beta is declared positive: no assumption needed


def test_the_beta_step_is_proved_only_under_its_assumption():
    step = "E[z ~ q(z|x)](log(p(x|z))) - beta*KL(q(z|x) || p(z))"
    elbo = "E[z ~ q(z|x)](log(p(x|z))) - KL(q(z|x) || p(z))"
    for assume, proved in (("", False), ("assume: beta >= 1\n", True), ("assume: beta >= 2\n", True),
                           ("assume: beta <= 1\n", False)):
        ctx = context(assume)
        lhs, rhs = parse_expression(step, ctx), parse_expression(elbo, ctx)
        result = prove(lhs, rhs, "<=", ctx)
        assert (result.holds is True) == proved, assume
        if proved:
            assert "assumed beta >=" in result.certificate
    ctx = context("assume: beta <= 1\n")
    assert prove(parse_expression(step, ctx), parse_expression(elbo, ctx), ">=", ctx).holds is True


def test_a_log_splits_over_a_factor_an_assumption_makes_positive():
    """log(a b) = log a + log b is false for two negative reals; with a, b > 0 assumed it holds."""
    for assume, proved in (("", False), ("assume: [a > 0]\n", False), ("assume: [a > 0, b > a]\n", True)):
        ctx = context(assume)
        lhs, rhs = parse_expression("log(a*b)", ctx), parse_expression("log(a) + log(b)", ctx)
        assert (prove(lhs, rhs, "=", ctx).holds is True) == proved, assume


# -- numeric models --------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["beta", "a", "L"]), st.sampled_from([">=", ">", "<=", "<"]),
       st.integers(-3, 6), st.data())
def test_drawn_models_satisfy_every_assumption(name, rel, bound, data):
    ctx = context()
    sym = ctx.symbols[name]
    try:
        ctx.assume(sym, rel, bound)
        ctx.assume(ctx.symbols["b"], "<=", sym)
    except AssumptionError:
        return  # contradicts the kind (beta <= -1, L < 1): nothing to draw
    plan = make_plan([sym * ctx.symbols["b"]], ctx)
    model = data.draw(model_strategy(plan))
    values = model.scalars
    assert conditions.holds(ctx, values)
    v = values[name]
    assert {">=": v >= bound, ">": v > bound, "<=": v <= bound, "<": v < bound}[rel]
    assert values["b"] <= v


def test_a_counterexample_never_violates_an_assumption():
    """Without its assumption the beta step is refuted by a model with beta < 1; under
    beta >= 1/2 the counterexample found has beta in [1/2, 1)."""
    step = "E[z ~ q(z|x)](log(p(x|z))) - beta*KL(q(z|x) || p(z))"
    elbo = "E[z ~ q(z|x)](log(p(x|z))) - KL(q(z|x) || p(z))"
    for assume, low in (("", 0), ("assume: beta >= 1/2\n", 0.5)):
        ctx = context(assume)
        v = check_step(parse_expression(step, ctx), parse_expression(elbo, ctx), "<=", ctx, examples=40)
        assert v.status is Status.REFUTED, v.message
        assert low <= v.counterexample.values["beta"] < 1


def test_a_derivation_file_with_its_assumption_is_proved():
    text = HEAD + """\
assume: beta >= 1
goal: E[z ~ q(z|x)](log(p(x|z))) - beta*KL(q(z|x) || p(z)) <= E[z ~ q(z|x)](log(p(x|z))) - KL(q(z|x) || p(z))
steps:
  - E[z ~ q(z|x)](log(p(x|z))) - beta*KL(q(z|x) || p(z))
  - expr: E[z ~ q(z|x)](log(p(x|z))) - KL(q(z|x) || p(z))
    rel: "<="
"""
    result = check_derivation(parse_derivation(text), examples=10)
    assert result.proved, result.reasons()
    without = check_derivation(parse_derivation(text.replace("assume: beta >= 1\n", "")), examples=10)
    assert not without.proved
    assert without.steps[-1].verdict.status is Status.REFUTED


def test_the_step_cache_tells_steps_under_different_assumptions_apart():
    from elbo_proofs.grading.cache import step_key

    keys = set()
    for assume in ("", "assume: beta >= 1\n", "assume: beta >= 2\n"):
        ctx = context(assume)
        lhs, rhs = parse_expression("beta*a", ctx), parse_expression("a", ctx)
        keys.add(step_key(lhs, rhs, ">=", ctx))
    assert len(keys) == 3
