"""The numeric evaluator and the concrete models against scipy and closed forms."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from scipy.special import expit

from elbo_proofs.numeric import Evaluator, Unevaluable
from elbo_proofs.numeric.models import BERNOULLI, LINEAR_GAUSSIAN, ConcreteModel, make_plan
from elbo_proofs.parsing import parse_expression
from elbo_proofs.parsing.derivation import parse_derivation

FAST = settings(max_examples=15, deadline=None)
REAL = st.floats(-2, 2)
POS = st.floats(0.3, 2.5)


def context(yaml_text: str):
    return parse_derivation(textwrap.dedent(yaml_text) + '\nsteps: ["1", "1"]\n').context


def evaluate(text, ctx, scalars=None, vectors=None, model=None, **params):
    expr = parse_expression(text, ctx)
    if model is None:
        plan = make_plan([expr], ctx)
        model = ConcreteModel(plan, dict(scalars or {}), {k: np.asarray(v, float) for k, v in (vectors or {}).items()})
    ev = Evaluator(ctx, model)
    return float(ev.evaluate(expr, model.env()))


KL_CTX = context("""
title: kl
symbols: {mu: real, sigma: positive, m: real, s: positive, z: real}
distributions:
  q(z): N(z; mu, sigma^2)
  p(z): N(z; m, s^2)
""")


@FAST
@given(REAL, POS, REAL, POS)
def test_kl_between_gaussians_matches_closed_form_and_scipy(mu, sigma, m, s):
    got = evaluate("KL(q || p)", KL_CTX, {"mu": mu, "sigma": sigma, "m": m, "s": s})
    closed = np.log(s / sigma) + (sigma ** 2 + (mu - m) ** 2) / (2 * s ** 2) - 0.5
    assert got == pytest.approx(closed, rel=1e-9, abs=1e-9)
    q, p = stats.norm(mu, sigma), stats.norm(m, s)
    lo, hi = mu - 12 * sigma, mu + 12 * sigma
    by_scipy, _ = integrate.quad(lambda z: q.pdf(z) * (q.logpdf(z) - p.logpdf(z)), lo, hi, limit=200)
    assert got == pytest.approx(by_scipy, rel=1e-6, abs=1e-8)


@FAST
@given(REAL, POS)
def test_moments_entropy_and_variance(mu, sigma):
    vals = {"mu": mu, "sigma": sigma, "m": 0.0, "s": 1.0}
    assert evaluate("E[z ~ q(z)](z^4)", KL_CTX, vals) == pytest.approx(
        mu ** 4 + 6 * mu ** 2 * sigma ** 2 + 3 * sigma ** 4, rel=1e-9)
    assert evaluate("H[q]", KL_CTX, vals) == pytest.approx(stats.norm(mu, sigma).entropy(), rel=1e-9, abs=1e-12)
    assert evaluate("Var[z ~ q(z)](z^2)", KL_CTX, vals) == pytest.approx(
        4 * mu ** 2 * sigma ** 2 + 2 * sigma ** 4, rel=1e-7, abs=1e-9)


@FAST
@given(REAL, POS)
def test_integrals_and_derivatives(mu, sigma):
    vals = {"mu": mu, "sigma": sigma, "m": 0.0, "s": 1.0}
    assert evaluate("int(q(z), z)", KL_CTX, vals) == pytest.approx(1.0, abs=1e-9)
    assert evaluate("int(z*q(z), z)", KL_CTX, vals) == pytest.approx(mu, abs=1e-9)
    assert evaluate("d/dmu(mu^3*sigma)", KL_CTX, vals) == pytest.approx(3 * mu ** 2 * sigma, rel=1e-6, abs=1e-7)
    assert evaluate("d/dmu(d/dmu(mu^4))", KL_CTX, vals) == pytest.approx(12 * mu ** 2, rel=1e-4, abs=1e-4)
    # the derivative re-evaluates the model: d/dmu E_q[z^2] = 2 mu
    assert evaluate("d/dmu(E[z ~ q(z)](z^2))", KL_CTX, vals) == pytest.approx(2 * mu, rel=1e-6, abs=1e-7)


@FAST
@given(REAL, POS, REAL)
def test_integrands_with_kinks(mu, sigma, a):
    vals = {"mu": mu, "sigma": sigma, "m": a, "s": 1.0}
    # E|z - a| for z ~ N(mu, sigma^2)
    d = mu - a
    closed = sigma * np.sqrt(2 / np.pi) * np.exp(-d * d / (2 * sigma ** 2)) + d * (1 - 2 * stats.norm.cdf(-d / sigma))
    assert evaluate("E[z ~ q(z)](abs(z - m))", KL_CTX, vals) == pytest.approx(closed, rel=1e-5, abs=1e-6)
    assert evaluate("int(q(z)*abs(z - m), z)", KL_CTX, vals) == pytest.approx(closed, rel=1e-5, abs=1e-6)


VEC_CTX = context("""
title: vec
symbols: {d: positive integer}
vectors: {mu: d, sigma: d, z: d}
indices: {j: 1..d}
distributions:
  q(z): N(mu, sigma^2)
  p(z): N(0, I)
""")


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_diagonal_gaussian_kl_by_product_quadrature(d):
    rng = np.random.default_rng(d)
    mu, sigma = rng.uniform(-2, 2, d), rng.uniform(0.3, 2.5, d)
    vecs = {"mu": mu, "sigma": sigma}
    closed = float(np.sum((mu ** 2 + sigma ** 2 - np.log(sigma ** 2) - 1) / 2))
    assert evaluate("KL(q || p)", VEC_CTX, {"d": d}, vecs) == pytest.approx(closed, rel=1e-9)
    assert evaluate("E[q](log(q(z)) - log(p(z)))", VEC_CTX, {"d": d}, vecs) == pytest.approx(closed, rel=1e-9)
    assert evaluate("sum(j, mu_j^2)", VEC_CTX, {"d": d}, vecs) == pytest.approx(float(np.sum(mu ** 2)))
    assert evaluate("prod(j, sigma_j)", VEC_CTX, {"d": d}, vecs) == pytest.approx(float(np.prod(sigma)))


def test_unknown_nodes_raise_unevaluable():
    ev = Evaluator(KL_CTX, None)
    from elbo_proofs.numeric.evaluate import Env

    mu = KL_CTX.symbols["mu"]
    with pytest.raises(Unevaluable, match="Piecewise"):
        ev.evaluate(sp.Piecewise((mu, mu > 0), (0, True)), Env({"mu": 1.0}, {}))


ABSTRACT = context("""
title: abstract
symbols: {x: real, z: real}
""")


def _lg_model(x, z, m0, v0, a, b, s2, qm, qv):
    exprs = [parse_expression(t, ABSTRACT) for t in ("p(x)", "p(z|x)", "q(z|x)", "p(x|z)", "p(z)")]
    plan = make_plan(exprs, ABSTRACT)
    assert plan.kind == LINEAR_GAUSSIAN and (plan.latent, plan.observed) == ("z", "x")
    model = ConcreteModel(plan, {"x": x, "z": z}, {}, d=1, D=1)
    model.params = {"prior_mean": np.array([m0]), "prior_var": np.array([v0]), "a": np.array([a]),
                    "b": np.array([b]), "s2": np.array([s2])}
    model.gaussians = {("q", "z"): (np.array([qm]), np.array([qv]))}
    return model


@FAST
@given(REAL, REAL, st.floats(-1, 1), st.floats(0.5, 2), REAL, REAL, st.floats(0.1, 2.25))
def test_linear_gaussian_model_is_consistent(x, z, m0, v0, a, b, s2):
    model = _lg_model(x, z, m0, v0, a, b, s2, 0.3, 0.7)
    ev = lambda t: evaluate(t, ABSTRACT, model=model)  # noqa: E731
    evidence = stats.norm(a * m0 + b, np.sqrt(a * a * v0 + s2)).pdf(x)
    assert ev("p(x)") == pytest.approx(evidence, rel=1e-9)
    assert ev("p(x|z)") == pytest.approx(stats.norm(a * z + b, np.sqrt(s2)).pdf(x), rel=1e-9)
    assert ev("p(z|x)") == pytest.approx(ev("p(x|z)") * ev("p(z)") / ev("p(x)"), rel=1e-9)
    assert ev("p(x, z)") == pytest.approx(ev("p(x|z)") * ev("p(z)"), rel=1e-9)
    assert ev("int(p(z|x), z)") == pytest.approx(1.0, abs=1e-8)
    assert ev("E[z ~ q(z|x)](z)") == pytest.approx(0.3, abs=1e-12)


BERN = context("""
title: bern
symbols: {z: real}
vectors: {x: 3}
indices: {j: 1..3}
functions: {x_hat: z}
""")


@FAST
@given(st.lists(st.integers(0, 1), min_size=3, max_size=3), st.lists(REAL, min_size=6, max_size=6),
       st.floats(-1, 1), st.floats(0.5, 2))
def test_bernoulli_decoder_evidence_matches_scipy(x, wc, m0, v0):
    exprs = [parse_expression(t, BERN) for t in ("log(p(x))", "p(z|x)", "x_hat_1")]
    plan = make_plan(exprs, BERN)
    assert plan.kind == BERNOULLI and "x_hat" in plan.decoder_functions
    x = np.array(x, float)
    w, c = np.array(wc[:3]), np.array(wc[3:])
    model = ConcreteModel(plan, {"z": 0.4}, {"x": x}, d=1, D=3)
    model.params = {"prior_mean": np.array([m0]), "prior_var": np.array([v0]), "w": w, "c": c}

    def lik(z):
        mean = expit(w * z + c)
        return float(np.prod(mean ** x * (1 - mean) ** (1 - x)))

    prior = stats.norm(m0, np.sqrt(v0))
    sd = np.sqrt(v0)
    evidence, _ = integrate.quad(lambda z: lik(z) * prior.pdf(z), m0 - 14 * sd, m0 + 14 * sd, limit=200)
    got = evaluate("log(p(x))", BERN, model=model)
    assert got == pytest.approx(np.log(evidence), rel=1e-7, abs=1e-9)
    assert evaluate("int(p(z|x), z)", BERN, model=model) == pytest.approx(1.0, abs=1e-7)
    assert evaluate("x_hat_2", BERN, model=model) == pytest.approx(expit(w[1] * 0.4 + c[1]))
    assert evaluate("p(x|z)", BERN, model=model) == pytest.approx(lik(0.4), rel=1e-9)
