"""Every registered family: its numeric hooks agree with its symbolic closed forms."""
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from elbo_proofs.terms import Bernoulli, Context, Density, Normal, density_vars, is_density
from elbo_proofs.terms.families import FAMILIES, family_of, resolve

x, m, z = sp.symbols("x m z", real=True)
v = sp.Symbol("v", positive=True)
j = sp.Symbol("j", integer=True)
X, M, V = sp.IndexedBase("x", real=True), sp.IndexedBase("m", real=True), sp.IndexedBase("v", positive=True)
D = 3

# one term of each family, with the symbols of its parameters
TERMS = {
    "univariate Gaussian": (Normal(x, m, v), [m, v]),
    "diagonal Gaussian": (sp.Product(Normal(X[j], M[j], V[j]), (j, 1, D)), [M, V]),
    "Bernoulli product": (sp.Product(Bernoulli(X[j], M[j]), (j, 1, D)), [M]),
}


def test_every_family_is_registered_once():
    assert sorted(f.name for f in FAMILIES) == sorted(TERMS)
    for name, (term, _) in TERMS.items():
        assert family_of(term).name == name
        assert is_density(term)
    assert family_of(Density("p", (x,), ())) is None
    assert family_of(x + 1) is None


def _values(params, rng, binary):
    out = {}
    for p in params:
        if isinstance(p, sp.IndexedBase):
            if p is M and binary:
                out[p] = rng.uniform(0.05, 0.95, D)
            else:
                out[p] = rng.uniform(0.2, 2.0, D) if p is V else rng.normal(size=D)
        else:
            out[p] = rng.uniform(0.2, 2.0) if p is v else rng.normal()
    return out


def _symbolic_log_density(term, point, values):
    fam = family_of(term)
    e = fam.log_density(term)
    if isinstance(e, sp.Sum):
        e = e.doit()
    reps = {}
    for s in e.atoms(sp.Indexed):
        arr = point if s.base == X else values[s.base]
        reps[s] = arr[int(s.indices[0]) - 1]
    reps.update({s: values.get(s, point if s == x else None) for s in e.free_symbols if s in (x, m, v)})
    return float(e.xreplace(reps).evalf())


@given(st.integers(0, 2**32 - 1))
def test_numpy_log_density_agrees_with_the_symbolic_one(seed):
    rng = np.random.default_rng(seed)
    for name, (term, params) in TERMS.items():
        fam = family_of(term)
        binary = fam.support == "binary"
        values = _values(params, rng, binary)
        size = D if isinstance(term, sp.Product) else None
        point = fam.sample(rng, *(values[p] for p in params), size=size)
        if binary:
            assert set(np.unique(point)) <= {0.0, 1.0}
        numeric = np.sum(fam.np_log_density(point, *(values[p] for p in params)))
        assert np.isclose(numeric, _symbolic_log_density(term, point, values), rtol=1e-9, atol=1e-9), name


def test_moments_agree_with_samples():
    rng = np.random.default_rng(0)
    fam = family_of(Normal(x, m, v))
    draws = fam.sample(rng, 0.5, 2.0, size=400_000)
    for k in (1, 2, 3, 4):
        exact = float(fam.moment(Normal(x, m, v), x, k).subs({m: 0.5, v: 2.0}))
        assert np.isclose(np.mean(draws ** k), exact, rtol=0.05, atol=0.05), k
    term, _ = TERMS["Bernoulli product"]
    bern = family_of(term)
    assert bern.moment(term, X[2], 3) == M[2]
    assert bern.coordinate(term, X[2]) == (M[2],)
    diag, _ = TERMS["diagonal Gaussian"]
    assert family_of(diag).coordinate(diag, X[2]) == (M[2], V[2])
    assert family_of(diag).coordinate(diag, z) is None


def test_invalid_parameters_are_refused():
    fam = family_of(Normal(x, m, v))
    with pytest.raises(ValueError):
        fam.np_log_density(0.0, 0.0, -1.0)


def test_density_vars_of_each_family():
    assert density_vars(Normal(x, m, v)) == (x,)
    assert density_vars(TERMS["diagonal Gaussian"][0]) == (sp.Symbol("x", real=True),)


def test_resolve_looks_through_a_declaration():
    ctx = Context()
    ctx.families[Density("q", (z,), (x,))] = Normal(z, x, 1)
    fam, closed = resolve(ctx, Density("q", (z,), (x,)))
    assert fam.name == "univariate Gaussian" and closed == Normal(z, x, 1)
    assert resolve(ctx, Density("q", (z,), ())) is None


def test_torch_log_density_agrees_with_numpy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for name, (term, params) in TERMS.items():
        fam = family_of(term)
        values = _values(params, rng, fam.support == "binary")
        size = D if isinstance(term, sp.Product) else None
        point = np.asarray(fam.sample(rng, *(values[p] for p in params), size=size), dtype=float)
        expected = fam.np_log_density(point, *(values[p] for p in params))
        got = fam.torch_log_density(torch.as_tensor(point, dtype=torch.float64),
                                    *(torch.as_tensor(values[p], dtype=torch.float64) for p in params))
        assert np.allclose(got.numpy(), expected, rtol=1e-9), name
