"""The checker's closed forms agree with scipy.stats and torch.distributions on generated Gaussians."""
import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats

from elbo_proofs.checking.canonical import Canonicalizer
from elbo_proofs.parsing import parse_expression
from elbo_proofs.terms import Context

means = st.floats(-3, 3, allow_nan=False)
scales = st.floats(0.2, 3, allow_nan=False)


def two_gaussians():
    ctx = Context()
    for name in ("m1", "m2"):
        ctx.declare(name, "real")
    for name in ("s1", "s2"):
        ctx.declare(name, "positive")
    kl = parse_expression("KL(N(m1, s1^2) || N(m2, s2^2))", ctx)
    closed = Canonicalizer(ctx)(kl)
    assert not closed.atoms(sp.Integral), closed
    syms = [ctx.symbols[n] for n in ("m1", "s1", "m2", "s2")]
    return sp.lambdify(syms, closed, "math")


KL_CLOSED = two_gaussians()


@given(means, scales, means, scales)
def test_kl_closed_form_matches_quadrature(m1, s1, m2, s2):
    p, q = stats.norm(m1, s1), stats.norm(m2, s2)
    numeric, _ = integrate.quad(lambda z: p.pdf(z) * (p.logpdf(z) - q.logpdf(z)), m1 - 12 * s1, m1 + 12 * s1)
    assert KL_CLOSED(m1, s1, m2, s2) == pytest.approx(numeric, rel=1e-6, abs=1e-8)


@given(means, scales, means, scales)
def test_kl_closed_form_matches_torch(m1, s1, m2, s2):
    torch = pytest.importorskip("torch")
    from torch.distributions import Normal, kl_divergence

    expected = kl_divergence(Normal(torch.tensor(m1, dtype=torch.float64), torch.tensor(s1, dtype=torch.float64)),
                             Normal(torch.tensor(m2, dtype=torch.float64), torch.tensor(s2, dtype=torch.float64)))
    assert KL_CLOSED(m1, s1, m2, s2) == pytest.approx(float(expected), rel=1e-9, abs=1e-12)


@given(st.lists(st.tuples(means, scales), min_size=1, max_size=4))
def test_diagonal_kl_matches_torch(params):
    torch = pytest.importorskip("torch")
    from torch.distributions import Independent, Normal, kl_divergence

    ctx = Context()
    d = ctx.declare("d", "positive integer")
    ctx.declare("mu", "real")
    ctx.declare("sigma", "positive")
    ctx.index("j", sp.Integer(1), d)
    for name in ("z", "mu", "sigma"):
        ctx.vector(name, d)
    closed = Canonicalizer(ctx)(parse_expression("KL(N(z; mu, sigma^2) || N(z; 0, I))", ctx))
    mu = np.array([m for m, _ in params])
    sigma = np.array([s for _, s in params])
    value = closed.subs(d, len(params)).doit()
    value = value.subs({ctx.vectors["mu"][0][k + 1]: mu[k] for k in range(len(params))})
    value = float(value.subs({ctx.vectors["sigma"][0][k + 1]: sigma[k] for k in range(len(params))}))
    q = Independent(Normal(torch.tensor(mu), torch.tensor(sigma)), 1)
    p = Independent(Normal(torch.zeros(len(params), dtype=torch.float64), torch.ones(len(params), dtype=torch.float64)), 1)
    assert value == pytest.approx(float(kl_divergence(q, p)), rel=1e-9, abs=1e-12)


@given(means, scales)
def test_entropy_matches_scipy(m, s):
    ctx = Context()
    ctx.declare("m", "real")
    ctx.declare("s", "positive")
    h = Canonicalizer(ctx)(parse_expression("H[N(m, s^2)]", ctx))
    value = float(h.subs({ctx.symbols["m"]: m, ctx.symbols["s"]: s}))
    assert value == pytest.approx(float(stats.norm(m, s).entropy()), rel=1e-9)
    assert value == pytest.approx(0.5 * math.log(2 * math.pi * math.e * s * s), rel=1e-9)
