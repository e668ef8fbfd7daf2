"""The SymPy-to-torch compiler against torch's own formulas, on generated inputs."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import sympy as sp  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch.distributions import Normal, kl_divergence  # noqa: E402

from elbo_proofs.training.codegen import (  # noqa: E402
    LOGITS, STD_LOGVAR, VALUE, CodegenError, compile_expression, stabilize, vae_elbo_expression,
)

x, xh, mu, sigma = (sp.IndexedBase(n) for n in ("x", "x_hat", "mu", "sigma"))
j, k = sp.symbols("j k", integer=True)
D, K = sp.symbols("D K", integer=True, positive=True)
RECON = sp.Sum(x[j] * sp.log(xh[j]) + (1 - x[j]) * sp.log(1 - xh[j]), (j, 1, D))
NEG_KL = sp.Sum(1 + sp.log(sigma[k] ** 2) - mu[k] ** 2 - sigma[k] ** 2, (k, 1, K)) / 2

shapes = st.tuples(st.integers(1, 5), st.integers(1, 12))
seeds = st.integers(0, 2**31 - 1)
scales = st.floats(0.1, 30.0)


def gen(seed):
    return torch.Generator().manual_seed(seed)


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=seeds, scale=st.floats(0.1, 4.0))
def test_kl_matches_torch_distributions(shape, seed, scale):
    g = gen(seed)
    m = torch.randn(shape, generator=g, dtype=torch.float64) * scale
    lv = torch.randn(shape, generator=g, dtype=torch.float64) * scale
    kl = compile_expression(-NEG_KL)(mu=m, sigma=lv)
    ref = kl_divergence(Normal(m, torch.exp(0.5 * lv)), Normal(torch.zeros_like(m), torch.ones_like(m))).sum(-1)
    torch.testing.assert_close(kl, ref, rtol=1e-10, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=seeds, scale=st.floats(0.1, 3.0))
def test_kl_between_two_diagonal_normals(shape, seed, scale):
    """KL(N(m1, s1^2) || N(m2, s2^2)) written with standard deviations, compiled from log-variances."""
    m1, s1, m2, s2 = (sp.IndexedBase(n) for n in ("m1", "s1", "m2", "s2"))
    expr = sp.Sum(sp.log(s2[k] / s1[k]) + (s1[k] ** 2 + (m1[k] - m2[k]) ** 2) / (2 * s2[k] ** 2) - sp.Rational(1, 2),
                  (k, 1, K))
    f = compile_expression(expr, {"s1": STD_LOGVAR, "s2": STD_LOGVAR})
    assert "torch.log" not in f.source  # logs of exp() are taken symbolically
    g = gen(seed)
    a, b, c, d = (torch.randn(shape, generator=g, dtype=torch.float64) * scale for _ in range(4))
    ref = kl_divergence(Normal(a, torch.exp(0.5 * b)), Normal(c, torch.exp(0.5 * d))).sum(-1)
    torch.testing.assert_close(f(m1=a, s1=b, m2=c, s2=d), ref, rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=seeds, scale=scales, soft=st.booleans())
def test_reconstruction_is_minus_bce_with_logits(shape, seed, scale, soft):
    g = gen(seed)
    logits = torch.randn(shape, generator=g) * scale
    data = torch.rand(shape, generator=g)
    if not soft:
        data = torch.bernoulli(data, generator=g)
    got = compile_expression(RECON)(x=data, x_hat=logits)
    ref = -F.binary_cross_entropy_with_logits(logits, data, reduction="none").sum(-1)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-4)


def test_reconstruction_is_stable_at_extreme_logits():
    logits = torch.tensor([[-200.0, 200.0, -90.0, 90.0]])
    data = torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    f = compile_expression(RECON)
    assert "logsigmoid" in f.source and "torch.log(" not in f.source and "sigmoid(" not in f.source.replace("logsigmoid", "")
    got = f(x=data, x_hat=logits)
    torch.testing.assert_close(got, torch.tensor([-400.0]))
    # The literal formula is not finite in float32 (0 * log 0, log 0).
    literal = (data * torch.log(torch.sigmoid(logits)) + (1 - data) * torch.log(1 - torch.sigmoid(logits))).sum(-1)
    assert not torch.isfinite(literal).all()


@settings(max_examples=25, deadline=None)
@given(seed=seeds, batch=st.integers(1, 6), samples=st.integers(1, 4), d=st.integers(1, 30), kk=st.integers(1, 8))
def test_full_elbo_batched_over_samples(seed, batch, samples, d, kk):
    """Logits with a leading sample dim broadcast against data and encoder outputs: [L, B]."""
    g = gen(seed)
    data = torch.bernoulli(torch.rand(batch, d, generator=g), generator=g)
    logits = torch.randn(samples, batch, d, generator=g) * 5
    m = torch.randn(batch, kk, generator=g)
    lv = torch.randn(batch, kk, generator=g)
    got = compile_expression(vae_elbo_expression())(x=data, x_hat=logits, mu=m, sigma=lv)
    assert got.shape == (samples, batch)
    ref = (-F.binary_cross_entropy_with_logits(logits, data.expand_as(logits), reduction="none").sum(-1)
           - kl_divergence(Normal(m, torch.exp(0.5 * lv)), Normal(0.0, 1.0)).sum(-1))
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-3)


def test_gradients_flow_and_match():
    g = gen(0)
    logits = (torch.randn(3, 10, generator=g) * 4).requires_grad_()
    lv = torch.randn(3, 4, generator=g).requires_grad_()
    m = torch.randn(3, 4, generator=g).requires_grad_()
    data = torch.bernoulli(torch.rand(3, 10, generator=g), generator=g)
    compile_expression(vae_elbo_expression())(x=data, x_hat=logits, mu=m, sigma=lv).sum().backward()
    grads = [t.grad.clone() for t in (logits, lv, m)]
    for t in (logits, lv, m):
        t.grad = None
    ref = (-F.binary_cross_entropy_with_logits(logits, data, reduction="none").sum(-1)
           - kl_divergence(Normal(m, torch.exp(0.5 * lv)), Normal(0.0, 1.0)).sum(-1))
    ref.sum().backward()
    for got, t in zip(grads, (logits, lv, m)):
        torch.testing.assert_close(got, t.grad, rtol=1e-5, atol=1e-5)


def test_stabilized_form_has_one_logsigmoid():
    stable = stabilize(RECON)
    assert sp.srepr(stable).count("LogSigmoid") == 1


def test_constants_and_size_symbols():
    """-D/2 log(2 pi) style constants: D is the length of the summed vector."""
    expr = sp.Sum(-(x[j] - mu[j]) ** 2 / 2, (j, 1, D)) - D * sp.log(2 * sp.pi) / 2
    data, m = torch.randn(4, 7), torch.randn(4, 7)
    ref = Normal(m, 1.0).log_prob(data).sum(-1)
    torch.testing.assert_close(compile_expression(expr)(x=data, mu=m), ref)


def test_summand_constant_in_the_index():
    expr = sp.Sum(1 + 0 * x[j], (j, 1, D)) + sp.Sum(x[j], (j, 1, D))
    data = torch.ones(2, 5)
    torch.testing.assert_close(compile_expression(expr)(x=data), torch.tensor([10.0, 10.0]))


def test_variance_role():
    v = sp.IndexedBase("v")
    expr = sp.Sum(sp.log(v[k]) + v[k], (k, 1, K))
    lv = torch.randn(2, 3)
    torch.testing.assert_close(compile_expression(expr, {"v": "var_logvar"})(v=lv), (lv + lv.exp()).sum(-1))


@pytest.mark.parametrize("build, match", [
    (lambda: sp.Function("Expectation")(x[j]) + sp.Sum(x[j], (j, 1, D)), "Expectation"),
    (lambda: sp.Sum(x[j], (j, 1, D)) + sp.Symbol("z"), "free symbol"),
    (lambda: x[j] + 1, "not bound by an enclosing sum"),
    (lambda: sp.Sum(x[j] * x[j], (j, 1, D), (j, 1, D)), "summed twice"),
    (lambda: sp.Integer(3), "does not depend on any tensor"),
    (lambda: sp.Sum(sp.gamma(x[j]), (j, 1, D)), "gamma"),
])
def test_unsupported_nodes_fail_clearly(build, match):
    with pytest.raises(CodegenError, match=match):
        compile_expression(build())


def test_missing_tensor_is_named():
    f = compile_expression(vae_elbo_expression())
    with pytest.raises(CodegenError, match="sigma"):
        f(x=torch.zeros(1, 2), x_hat=torch.zeros(1, 2), mu=torch.zeros(1, 2))


def test_source_is_inspectable():
    f = compile_expression(vae_elbo_expression())
    assert f.source.startswith("def elbo(mu, sigma, x, x_hat):")
    assert set(f.inputs) == {"x", "x_hat", "mu", "sigma"}
    assert {VALUE, LOGITS, STD_LOGVAR} <= set(f.roles.values())


def test_double_and_nested_sums():
    data, m = torch.randn(3, 5), torch.randn(3, 4)
    ref = data.sum(-1) * m.sum(-1)
    for expr in (sp.Sum(x[j] * mu[k], (j, 1, D), (k, 1, K)), sp.Sum(sp.Sum(x[j] * mu[k], (j, 1, D)), (k, 1, K))):
        torch.testing.assert_close(compile_expression(expr)(x=data, mu=m), ref)


def monte_carlo_elbo():
    """The shape of derivations/vae_elbo.yaml: x_hat is a function of the l-th sample z_l."""
    f, z, l, L = sp.Function("x_hat"), sp.IndexedBase("z"), sp.Symbol("l", integer=True), sp.Symbol("L", positive=True)
    recon = sp.Sum(x[j] * sp.log(f(j, z[l])) + (1 - x[j]) * sp.log(1 - f(j, z[l])), (j, 1, D), (l, 1, L)) / L
    return recon + NEG_KL


@settings(max_examples=25, deadline=None)
@given(seed=seeds, batch=st.integers(1, 6), samples=st.integers(1, 4), d=st.integers(1, 30), kk=st.integers(1, 8))
def test_monte_carlo_average_over_samples(seed, batch, samples, d, kk):
    g = gen(seed)
    data = torch.bernoulli(torch.rand(batch, d, generator=g), generator=g)
    logits = torch.randn(samples, batch, d, generator=g) * 5
    m, lv = torch.randn(batch, kk, generator=g), torch.randn(batch, kk, generator=g)
    f = compile_expression(monte_carlo_elbo())
    got = f(x=data, x_hat=logits, mu=m, sigma=lv)
    assert got.shape == (batch,)
    ref = (-F.binary_cross_entropy_with_logits(logits, data.expand_as(logits), reduction="none").sum(-1).mean(0)
           - kl_divergence(Normal(m, torch.exp(0.5 * lv)), Normal(0.0, 1.0)).sum(-1))
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-3)


def _parsed(name):
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    path = root / "derivations" / f"{name}.yaml"
    if not path.exists():
        pytest.skip(f"{path.name} not present")
    parsing = pytest.importorskip("elbo_proofs.parsing")
    chains = parsing.load_derivations(path) if hasattr(parsing, "load_derivations") else [parsing.load_derivation(path)]
    return chains[-1]


def test_shipped_derivations_compile():
    """Last steps of the project's own derivations, parsed by the project's grammar."""
    m, lv = torch.randn(3, 6, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    kl = compile_expression(_parsed("kl_diag_gaussian").steps[-1].expr)
    ref = kl_divergence(Normal(m, torch.exp(0.5 * lv)), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(kl(mu=m, sigma=lv), ref)

    logits, data = torch.randn(3, 10) * 8, torch.bernoulli(torch.full((3, 10), 0.5))
    rec = compile_expression(_parsed("bernoulli_decoder").steps[-1].expr)
    torch.testing.assert_close(rec(x=data, x_hat=logits),
                               -F.binary_cross_entropy_with_logits(logits, data, reduction="none").sum(-1))


def test_shipped_vae_elbo_compiles_to_the_monte_carlo_form():
    d = _parsed("vae_elbo")
    f, ref = compile_expression(d.steps[-1].expr), compile_expression(monte_carlo_elbo())
    g = gen(1)
    tensors = dict(x=torch.bernoulli(torch.rand(4, 784, generator=g)), x_hat=torch.randn(3, 4, 784, generator=g) * 3,
                   mu=torch.randn(4, 20, generator=g), sigma=torch.randn(4, 20, generator=g))
    torch.testing.assert_close(f(**{n: tensors[n] for n in f.inputs}), ref(**tensors))
    # Its first step is an unevaluated expectation: not something a loss can be made of.
    with pytest.raises(CodegenError, match="Expectation"):
        compile_expression(d.steps[0].expr)


def test_kl_operator_is_refused():
    with pytest.raises(CodegenError, match="KL"):
        compile_expression(_parsed("kl_diag_gaussian").steps[0].expr)
