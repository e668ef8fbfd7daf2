"""Declared factorizations (Bayesian networks): the rules of checking/rules/networks.py and the
linear-Gaussian networks of numeric/networks.py.

* a declaration is refused unless its factors form a network;
* true consequences of a declared factorization (the local Markov property, Bayes' rule in the
  network, the chain rule of the KL divergence, the entropy of a mean-field q) are proved, and the
  numeric networks agree;
* false steps (an independence the network does not have, a factor dropped, an expectation under
  the wrong factor) are never proved and are refuted;
* the canonical form the rules give every density of a random network over three variables is
  numerically the density itself (Hypothesis draws the network and the density);
* the Gaussian algebra of a drawn network is consistent: log p(A|B) = log p(A, B) - log p(B), and
  integrating the factors gives the marginals.
"""
import itertools
import textwrap

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_proofs.checking import Status, canonical_form, check_step, prove
from elbo_proofs.errors import InputError
from elbo_proofs.numeric import numeric_check
from elbo_proofs.parsing import parse_expression
from elbo_proofs.parsing.derivation import parse_derivation
from elbo_proofs.terms import Context, Density

HIERARCHICAL = """\
title: two latent layers
symbols: {x: real, z1: real, z2: real}
factorizations:
  p(x, z1, z2): p(z2) p(z1|z2) p(x|z1)
  q(z1, z2|x): q(z1|x) q(z2|z1)
steps: ["1", "1"]
"""

MEAN_FIELD = """\
title: mean field
symbols: {x: real, a: real, b: real}
factorizations:
  p(x, a, b): p(a) p(b) p(x|a, b)
  q(a, b|x): q(a|x)*q(b|x)
steps: ["1", "1"]
"""


def ctx_of(text):
    return parse_derivation(textwrap.dedent(text)).context


def check(ctx, lhs, rel, rhs, examples=50):
    return check_step(parse_expression(lhs, ctx), parse_expression(rhs, ctx), rel, ctx, examples=examples)


# -- declarations --------------------------------------------------------------------
@pytest.mark.parametrize("value, message", [
    ("p(z2) p(z1|z2)", "not over its variables"),
    ("p(z2) p(z1|z2) p(x|z1) p(z1)", "two factors"),
    ("p(z2|z1) p(z1|z2) p(x|z1)", "cycle"),
    ("p(z2) p(z1|w) p(x|z1)", "conditioned on w"),
    ("p(z2) p(z1, x|z2)", "one variable"),
    ("p(z2) * 2 * p(z1|z2) p(x|z1)", "not an abstract density"),
])
def test_a_factorization_that_is_no_network_is_refused(value, message):
    text = f"title: t\nsymbols: {{x: real, z1: real, z2: real, w: real}}\n" \
           f"factorizations:\n  p(x, z1, z2): {value}\nsteps: [\"1\", \"1\"]\n"
    with pytest.raises(InputError) as err:
        parse_derivation(text, "f.yaml")
    assert message in str(err.value) and "f.yaml:4" in str(err.value)


def test_the_declared_network():
    ctx = ctx_of(HIERARCHICAL)
    order, given_, parents = ctx.network("p")
    assert [v.name for v in order] == ["z2", "z1", "x"]
    assert given_ == ()
    order, given_, parents = ctx.network("q")
    assert [v.name for v in order] == ["z1", "z2"] and [g.name for g in given_] == ["x"]
    assert ctx.copy().factorizations == ctx.factorizations
    assert Context().network("p") is None


# -- what a declaration implies is proved --------------------------------------------------
TRUE_STEPS = [
    (HIERARCHICAL, "log(p(x, z1, z2))", "=", "log(p(x|z1)) + log(p(z1|z2)) + log(p(z2))"),
    (HIERARCHICAL, "log(p(z1, z2|x))", "=", "log(p(x|z1)) + log(p(z1|z2)) + log(p(z2)) - log(p(x))"),
    (HIERARCHICAL, "log(p(x|z1, z2))", "=", "log(p(x|z1))"),
    (HIERARCHICAL, "log(p(z2|z1, x))", "=", "log(p(z2|z1))"),
    (HIERARCHICAL, "log(q(z2|z1, x))", "=", "log(q(z2|z1))"),
    (HIERARCHICAL, "log(p(z1|x))", "=", "log(p(x|z1)) + log(p(z1)) - log(p(x))"),
    (HIERARCHICAL, "E[q(z1, z2|x)](log(p(x|z1)))", "=", "E[z1 ~ q(z1|x)](log(p(x|z1)))"),
    (HIERARCHICAL, "KL(q(z1, z2|x) || p(z1, z2|x))", "=",
     "KL(q(z1|x) || p(z1|x)) + E[q(z1|x)](KL(q(z2|z1) || p(z2|z1)))"),
    (HIERARCHICAL, "log(p(x))", ">=", "E[q(z1, z2|x)](log(p(x, z1, z2)) - log(q(z1, z2|x)))"),
    (MEAN_FIELD, "H[q(a, b|x)]", "=", "H[q(a|x)] + H[q(b|x)]"),
    (MEAN_FIELD, "log(p(a, b))", "=", "log(p(a)) + log(p(b))"),
    (MEAN_FIELD, "E[q(a, b|x)](a*b)", "=", "E[q(a|x)](a)*E[q(b|x)](b)"),
]


@pytest.mark.parametrize("text, lhs, rel, rhs", TRUE_STEPS)
def test_what_the_declaration_implies_is_proved(text, lhs, rel, rhs):
    ctx = ctx_of(text)
    verdict = check(ctx, lhs, rel, rhs)
    assert verdict.status is Status.PROVED, verdict.message
    assert verdict.examples > 0


# -- false steps are never proved, and are refuted -------------------------------------------
FALSE_STEPS = [
    (HIERARCHICAL, "log(p(z2|z1))", "=", "log(p(z2))"),                      # z2 and z1 are dependent
    (HIERARCHICAL, "log(p(z1|z2, x))", "=", "log(p(z1|z2))"),                # x is a child of z1
    (HIERARCHICAL, "log(p(x|z2))", "=", "log(p(x))"),
    (HIERARCHICAL, "log(q(z2|x))", "=", "log(q(z2|z1))"),
    (HIERARCHICAL, "log(p(x, z1, z2))", "=", "log(p(x|z1)) + log(p(z1)) + log(p(z2))"),
    (HIERARCHICAL, "log(p(x, z1, z2))", "=", "log(p(x|z1)) + log(p(z1|z2))"),
    (HIERARCHICAL, "log(q(z1, z2|x))", "=", "log(q(z1|x)) + log(q(z2|x))"),
    (HIERARCHICAL, "E[q(z1, z2|x)](log(p(z1|z2)))", "=", "E[z1 ~ q(z1|x)](E[z2 ~ p(z2)](log(p(z1|z2))))"),
    (HIERARCHICAL, "KL(q(z1, z2|x) || p(z1, z2|x))", "=",
     "KL(q(z1|x) || p(z1|x)) + E[q(z1|x)](KL(q(z2|z1) || p(z2)))"),
    (HIERARCHICAL, "log(p(x))", "<=", "E[q(z1, z2|x)](log(p(x, z1, z2)) - log(q(z1, z2|x)))"),
    (HIERARCHICAL, "log(p(x))", ">=", "E[q(z1, z2|x)](log(p(x|z1)))"),
    (MEAN_FIELD, "log(p(a|x))", "=", "log(p(a))"),                           # explaining away: x depends on a
    (MEAN_FIELD, "log(p(a|b, x))", "=", "log(p(a|x))"),
    (MEAN_FIELD, "H[q(a, b|x)]", "=", "H[q(a|x)]"),
]


@pytest.mark.parametrize("text, lhs, rel, rhs", FALSE_STEPS)
def test_a_false_step_is_never_proved_and_is_refuted(text, lhs, rel, rhs):
    ctx = ctx_of(text)
    a, b = parse_expression(lhs, ctx), parse_expression(rhs, ctx)
    assert not prove(a, b, rel, ctx).holds
    verdict = check(ctx, lhs, rel, rhs, examples=100)
    assert verdict.status is Status.REFUTED, verdict.message
    assert verdict.counterexample is not None and verdict.counterexample.values


# -- the rules' canonical form of any density of a random network is that density -----------------
VARS = ("a", "b", "c")


@st.composite
def networks(draw):
    """A random network over a, b, c (a random order, each variable with a random set of earlier
    parents) and one density p(A|B) over it."""
    order = draw(st.permutations(VARS))
    factors = []
    for i, v in enumerate(order):
        parents = [u for u in order[:i] if draw(st.booleans())]
        factors.append(f"p({v}|{', '.join(parents)})" if parents else f"p({v})")
    roles = draw(st.lists(st.sampled_from(["A", "B", "-"]), min_size=3, max_size=3))
    A = [v for v, r in zip(VARS, roles) if r == "A"] or ["a"]
    B = [v for v, r in zip(VARS, roles) if r == "B" and v not in A]
    density = f"p({', '.join(A)}|{', '.join(B)})" if B else f"p({', '.join(A)})"
    return " ".join(factors), density


@given(networks())
@settings(max_examples=30, deadline=None, derandomize=True)
def test_the_canonical_form_of_a_density_of_a_network_is_that_density(case):
    factors, density = case
    ctx = ctx_of(f"title: t\nsymbols: {{a: real, b: real, c: real}}\n"
                 f"factorizations:\n  p(a, b, c): {factors}\nsteps: [\"1\", \"1\"]\n")
    term = sp.log(parse_expression(density, ctx))
    canon = canonical_form(term, ctx)
    res = numeric_check(term, canon, "=", ctx, examples=20)
    assert res.status == "agree", (factors, density, canon, res.counterexample)


# -- the Gaussian algebra of a drawn network ----------------------------------------------------
def test_bayes_rule_and_marginals_hold_in_the_numeric_network():
    ctx = ctx_of(HIERARCHICAL)
    for lhs, rhs in [
        # (polynomial integrands: the nested quadrature is exact for them)
        ("E[x ~ p(x)](x^2)", "E[z2 ~ p(z2)](E[z1 ~ p(z1|z2)](E[x ~ p(x|z1)](x^2)))"),
        ("E[z1 ~ p(z1)](z1^2 + z1)", "E[z2 ~ p(z2)](E[z1 ~ p(z1|z2)](z1^2 + z1))"),
        ("E[p(z1, z2|x)](z1*z2)", "E[z1 ~ p(z1|x)](E[z2 ~ p(z2|z1)](z1*z2))"),
        ("log(p(z1|x))", "log(p(x|z1)) + log(p(z1)) - log(p(x))"),
        ("log(p(z1, z2|x))", "log(p(z1|x)) + log(p(z2|z1, x))"),
        ("E[q(z1, z2|x)](z1)", "E[z1 ~ q(z1|x)](z1)"),
        ("E[q(z1, z2|x)](z2^2)", "E[z1 ~ q(z1|x)](E[z2 ~ q(z2|z1)](z2^2))"),
    ]:
        res = numeric_check(parse_expression(lhs, ctx), parse_expression(rhs, ctx), "=", ctx, examples=30)
        assert res.status == "agree", (lhs, rhs, res.detail, res.counterexample)


def test_a_density_that_leaves_out_an_input_it_depends_on_is_not_evaluable():
    ctx = ctx_of(HIERARCHICAL)
    # q(z2) is not a density of the network of q: it would depend on x
    res = numeric_check(parse_expression("log(q(z2|z1))", ctx), parse_expression("log(q(z2|z1))", ctx), "=", ctx)
    assert res.status == "agree"
    res = numeric_check(parse_expression("log(q(z1))", ctx), parse_expression("log(q(z1))", ctx), "=", ctx)
    assert res.status == "unevaluable"


@given(st.permutations(VARS), st.lists(st.booleans(), min_size=3, max_size=3),
       st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3), st.lists(st.floats(0.05, 2.0), min_size=3, max_size=3),
       st.lists(st.floats(-2, 2), min_size=3, max_size=3))
@settings(max_examples=40, deadline=None, derandomize=True)
def test_conditionals_of_a_network_are_ratios_of_its_marginals(order, edges, weights, noise, point):
    from elbo_proofs.numeric.networks import Network, NetworkPlan

    pairs = list(itertools.combinations(range(3), 2))
    parents = {v: [] for v in order}
    w = {}
    for (i, j), on, wt in zip(pairs, edges, weights):
        if on:
            parents[order[j]].append(order[i])
            w[(order[j], order[i])] = wt
    plan = NetworkPlan("p", tuple(order), (), tuple((v, tuple(parents[v])) for v in order))
    net = Network(plan, w, {v: 0.1 * k for k, v in enumerate(order)}, dict(zip(order, noise)))
    values = dict(zip(VARS, point))

    def logp(A, B):
        means, C = net.conditional(A, B, {"\0" + b: values[b] for b in B})
        r = np.array([values[a] for a in A]) - np.array(means, dtype=float)
        return float(-0.5 * np.linalg.slogdet(2 * np.pi * C)[1] - 0.5 * r @ np.linalg.solve(C, r))

    for A, B in [(("a",), ("b",)), (("a", "b"), ("c",)), (("c",), ("a", "b")), (("b",), ())]:
        joint = tuple(sorted(set(A) | set(B)))
        assert logp(A, B) == pytest.approx(logp(joint, ()) - (logp(B, ()) if B else 0.0), abs=1e-8)
    # the joint is the product of the factors
    total = sum(logp((v,), tuple(parents[v])) for v in order)
    assert logp(VARS, ()) == pytest.approx(total, abs=1e-8)


def test_an_expectation_over_several_variables_keeps_what_depends_on_any_of_them():
    ctx = ctx_of("title: t\nsymbols: {a: real, b: real}\nsteps: [\"1\", \"1\"]\n")
    for lhs, rhs in [("KL(q(a, b) || r(a, b))", "log(q(a, b)) - log(r(a, b))"),
                     ("E[q(a, b)](a)", "a"), ("H[q(a, b)]", "-log(q(a, b))")]:
        assert not prove(parse_expression(lhs, ctx), parse_expression(rhs, ctx), "=", ctx).holds, lhs
    assert prove(parse_expression("E[q(a, b)](1)", ctx), parse_expression("1", ctx), "=", ctx).holds


def test_one_factorization_per_letter():
    text = HIERARCHICAL.replace("  q(z1, z2|x)", "  p(z1, z2): p(z1) p(z2)\n  q(z1, z2|x)")
    with pytest.raises(InputError) as err:
        ctx_of(text)
    assert "already" in str(err.value)
