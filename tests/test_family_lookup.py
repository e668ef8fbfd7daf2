"""A density's declared family applies only to that density: same variables, same conditioning.

p(x) is not the declared p(x|z), p(z|x) is not the declared p(z), p(x) is not the
declared p(z), q(z) is not the declared q(z|x).  A step that equates them is false
and must never be proved, with or without the numeric check.
"""
import textwrap

import pytest
import sympy as sp

from elbo_proofs.checking import Status, check_derivation, prove
from elbo_proofs.parsing.derivation import parse_derivation
from elbo_proofs.terms import Context, Density, Normal

FALSE_STEPS = {
    # the declared conditional used for the marginal
    "marginal for conditional": ("p(x|z): N(x; z, 1)", "log(p(x))", "log(p(x|z))"),
    "marginal for conditional, closed form": ("p(x|z): N(x; z, 1)", "log(p(x))", "log(N(x; z, 1))"),
    "marginal density value": ("p(x|z): N(x; z, 1)", "p(x)", "N(x; z, 1)"),
    # the declared marginal used for a conditional
    "conditional for marginal": ("p(z): N(z; 0, 1)", "log(p(z|x))", "log(N(z; 0, 1))"),
    "posterior for prior": ("p(z): N(z; 0, 1)", "log(p(z|x))", "log(p(z))"),
    # conditioned the other way round
    "swapped conditioning": ("p(z|x): N(z; x, 1)", "log(p(x|z))", "log(N(z; x, 1))"),
    # another variable under the same letter
    "other variable": ("p(z): N(z; 0, 1)", "log(p(x))", "log(N(x; 0, 1))"),
    "other conditioning variable": ("p(x|z): N(x; z, 1)", "log(p(x|y))", "log(N(x; y, 1))"),
    # the variational density
    "q marginal for q conditional": ("q(z|x): N(z; x, 1)", "log(q(z))", "log(N(z; x, 1))"),
}


def derivation(decl, lhs, rhs):
    text = f"""\
    title: false step
    symbols: {{x: real, y: real, z: real}}
    distributions:
      {decl}
    steps:
      - expr: {lhs}
      - expr: {rhs}
    """
    return parse_derivation(textwrap.dedent(text))


@pytest.mark.parametrize("name", sorted(FALSE_STEPS))
def test_false_step_is_never_proved_symbolically(name):
    d = derivation(*FALSE_STEPS[name])
    first, second = d.steps
    assert prove(first.expr, second.expr, "=", d.context).holds is not True
    result = check_derivation(d, numeric=False)
    assert result.steps[0].verdict.status is not Status.PROVED
    assert not result.proved


# the numeric models have no model of these (three variables under p; a declared posterior
# next to abstract p densities): they are not checkable, and never proved
NO_NUMERIC_MODEL = {"other conditioning variable", "swapped conditioning"}


@pytest.mark.parametrize("name", sorted(FALSE_STEPS))
def test_false_step_is_not_proved_with_the_numeric_check(name):
    d = derivation(*FALSE_STEPS[name])
    v = check_derivation(d, examples=20).steps[0].verdict
    assert v.status is not Status.PROVED
    assert not v.contradiction


@pytest.mark.parametrize("name", sorted(set(FALSE_STEPS) - NO_NUMERIC_MODEL))
def test_false_step_is_refuted_with_a_counterexample(name):
    d = derivation(*FALSE_STEPS[name])
    v = check_derivation(d, examples=20).steps[0].verdict
    assert v.status is Status.REFUTED, v.message
    assert v.counterexample is not None and v.counterexample.values


def test_the_declared_density_itself_finds_its_family():
    d = derivation("p(x|z): N(x; z, 1)", "log(p(x|z))", "-log(2*pi)/2 - (x - z)^2/2")
    assert prove(d.steps[0].expr, d.steps[1].expr, "=", d.context).holds is True


def test_lookup_matches_variables_and_conditioning():
    x, z, y = sp.symbols("x z y", real=True)
    ctx = Context()
    ctx.families[Density("p", (x,), (z,))] = Normal(x, z, 1)
    assert ctx.family_of(Density("p", (x,), (z,))) == Normal(x, z, 1)
    for other in [Density("p", (x,), ()), Density("p", (z,), (x,)), Density("p", (y,), (z,)),
                  Density("p", (x,), (y,)), Density("p", (x, z), ()), Density("q", (x,), (z,))]:
        assert ctx.family_of(other) is None, other


def test_a_draw_of_a_declared_sample_finds_the_family_of_its_variable():
    z = sp.Symbol("z", real=True)
    l = sp.Symbol("l", integer=True)
    ctx = Context()
    ctx.families[Density("q", (z,), ())] = Normal(z, 0, 1)
    zs = ctx.vector("z", 5)
    ctx.samples["z"] = (l, z, Density("q", (z,), ()))
    assert ctx.family_of(Density("q", (zs[l],), ())) == Normal(zs[l], 0, 1)
    # an indexed variable that is not a declared sample is another variable
    ws = sp.IndexedBase("w")
    ctx.families[Density("r", (sp.Symbol("w", real=True),), ())] = Normal(sp.Symbol("w", real=True), 0, 1)
    assert ctx.family_of(Density("r", (ws[l],), ())) is None
