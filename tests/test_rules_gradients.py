"""Gradients of expectations: the score-function identity, the score's mean zero and the pathwise
gradient, with the dependence of a density on a parameter taken from the declarations
(``parameters:``).  True steps are proved and confirmed numerically (finite differences on models
whose q moves with theta); false gradient steps are never proved and are refuted."""
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_proofs.checking import Status, check_step, prove
from elbo_proofs.errors import InputError
from elbo_proofs.numeric import numeric_check
from elbo_proofs.parsing import parse_expression
from elbo_proofs.parsing.derivation import parse_derivation, parse_derivations
from elbo_proofs.terms import Partial
from elbo_proofs.terms.printing import to_latex, to_plain

ROOT = Path(__file__).resolve().parents[1]

SCORE_HEADER = """\
title: t
symbols: {theta: real, z: real, b: real, x: real}
functions: {f: z, g: [z, theta]}
parameters: {q: [theta]}
"""
SCORE = parse_derivation(SCORE_HEADER + 'steps: ["1", "1"]\n').context
# the same declarations without the dependence of q on theta
FIXED = parse_derivation(SCORE_HEADER.replace("parameters: {q: [theta]}\n", "") + 'steps: ["1", "1"]\n').context

PATH_HEADER = """\
title: t
symbols: {mu: real, sigma: positive, eps: real, z: real}
functions: {f: z}
distributions:
  q(z): N(z; mu, sigma^2)
random:
  eps: N(0, 1)
let:
  z: mu + sigma*eps
"""
PATHWISE = parse_derivation(PATH_HEADER + 'steps: ["1", "1"]\n').context

GRAD = "d/dtheta(E[z ~ q(z)](f(z)))"
SCORE_TERM = "d/dtheta(log(q(z)))"
REINFORCE = f"E[z ~ q(z)](f(z)*{SCORE_TERM})"


def P(text, ctx=SCORE):
    return parse_expression(text, ctx)


def _proved_and_confirmed(lhs, rel, rhs, ctx, rule=None):
    res = prove(P(lhs, ctx), P(rhs, ctx), rel, ctx)
    assert res.holds is True, res.residual
    if rule is not None:
        assert rule in res.rewrites, res.rewrites
    v = check_step(P(lhs, ctx), P(rhs, ctx), rel, ctx, examples=20)
    assert v.status is Status.PROVED and v.method == "symbolic+numeric", v.message


# -- the true steps ----------------------------------------------------------------------
@pytest.mark.parametrize("lhs, rhs, rule", [
    (GRAD, REINFORCE, "score-function identity"),
    (f"E[z ~ q(z)]({SCORE_TERM})", "0", "score has mean zero"),
    (f"E[z ~ q(z)](3*{SCORE_TERM})", "0", "score has mean zero"),
    (f"E[z ~ q(z)]((f(z) - b)*{SCORE_TERM})", GRAD, "score has mean zero"),
    ("E[z ~ q(z)](d/dtheta(q(z))/q(z))", "0", "score has mean zero"),
    ("int(d/dtheta(q(z))*f(z), z)", REINFORCE, None),
    ("d/dtheta(int(q(z)*f(z), z))", GRAD, None),
    ("d/dtheta(E[z ~ q(z)](g(z, theta)))",
     f"E[z ~ q(z)](g(z, theta)*{SCORE_TERM}) + E[z ~ q(z)](d/dtheta(g(z, theta)))", "score-function identity"),
])
def test_score_function_steps_are_proved_and_confirmed(lhs, rhs, rule):
    _proved_and_confirmed(lhs, "=", rhs, SCORE, rule)


@pytest.mark.parametrize("lhs, rhs", [
    ("d/dmu(E[z ~ q(z)](f(z)))", "E[eps ~ N(0, 1)](d/dmu(f(mu + sigma*eps)))"),
    ("d/dsigma(E[z ~ q(z)](f(z)))", "E[eps ~ N(0, 1)](d/dsigma(f(mu + sigma*eps)))"),
    ("E[z ~ q(z)](f(z))", "E[eps ~ N(0, 1)](f(mu + sigma*eps))"),
    ("d/dmu(E[z ~ q(z)](z^2))", "2*mu"),
])
def test_pathwise_steps_are_proved_and_confirmed(lhs, rhs):
    _proved_and_confirmed(lhs, "=", rhs, PATHWISE)


# -- false gradient steps -----------------------------------------------------------------
WRONG_SCORE_STEPS = [
    (GRAD, f"-{REINFORCE}", "a sign"),
    (GRAD, "E[z ~ q(z)](f(z)*d/dtheta(q(z)))", "a missing log"),
    (GRAD, "E[z ~ q(z)](d/dtheta(f(z)))", "the derivative moved onto f alone"),
    (GRAD, "0", "the density's dependence on theta forgotten"),
    (GRAD, f"E[z ~ q(z)](f(z))*E[z ~ q(z)]({SCORE_TERM}) + 1", "a product of expectations"),
    (f"E[z ~ q(z)](f(z)*{SCORE_TERM})", "0", "the mean-zero rule applied with f inside"),
    (f"E[z ~ q(z)]({SCORE_TERM})", "1", "the score's mean"),
    (f"E[z ~ q(z)]({SCORE_TERM}^2)", "0", "the square of the score"),
    ("d/dtheta(E[z ~ q(z)](g(z, theta)))", f"E[z ~ q(z)](g(z, theta)*{SCORE_TERM})",
     "f depending on theta"),
    ("d/dtheta(E[z ~ q(z)](g(z)))", f"E[z ~ q(z)](g(z)*{SCORE_TERM})",
     "f declared with theta, written without it"),
    ("E[z ~ q(z)](d/dtheta(q(z)))", "0", "the derivative of the density under its own E"),
]


@pytest.mark.parametrize("lhs, rhs, what", WRONG_SCORE_STEPS, ids=[w for _, _, w in WRONG_SCORE_STEPS])
def test_false_score_function_steps_are_never_proved_and_are_refuted(lhs, rhs, what):
    assert prove(P(lhs), P(rhs), "=", SCORE).holds is not True
    v = check_step(P(lhs), P(rhs), "=", SCORE, examples=30)
    assert not v.contradiction, v.message
    assert v.status is Status.REFUTED, (what, v.status, v.message)
    ce = v.counterexample
    assert ce is not None and abs(ce.lhs - ce.rhs) > 1e-6


WRONG_PATHWISE_STEPS = [
    ("d/dmu(E[z ~ q(z)](f(z)))", "E[eps ~ N(0, 1)](d/dsigma(f(mu + sigma*eps)))", "the wrong parameter"),
    ("d/dsigma(E[z ~ q(z)](f(z)))", "E[eps ~ N(0, 1)](d/dmu(f(mu + sigma*eps)))", "the wrong parameter"),
    ("d/dmu(E[z ~ q(z)](f(z)))", "E[eps ~ N(0, 1)](d/dmu(f(mu + eps)))", "sigma dropped"),
    ("E[z ~ q(z)](f(z))", "E[eps ~ N(0, 1)](f(mu + sigma^2*eps))", "the variance for the standard deviation"),
    ("d/dmu(E[z ~ q(z)](f(z)))", "0", "the expectation treated as constant"),
]


@pytest.mark.parametrize("lhs, rhs, what", WRONG_PATHWISE_STEPS, ids=[w for _, _, w in WRONG_PATHWISE_STEPS])
def test_false_pathwise_steps_are_never_proved_and_are_refuted(lhs, rhs, what):
    assert prove(P(lhs, PATHWISE), P(rhs, PATHWISE), "=", PATHWISE).holds is not True
    v = check_step(P(lhs, PATHWISE), P(rhs, PATHWISE), "=", PATHWISE, examples=30)
    assert not v.contradiction, v.message
    assert v.status is Status.REFUTED, (what, v.status, v.message)


# -- the dependence comes from the declarations ---------------------------------------------
def test_without_a_declared_parameter_q_does_not_depend_on_theta():
    """Undeclared, q does not move with theta: its expectation's derivative is 0, proved and confirmed."""
    _proved_and_confirmed(GRAD, "=", "0", FIXED)
    assert prove(P(GRAD, FIXED), P(REINFORCE, FIXED), "=", FIXED).holds is True   # both sides are 0
    assert prove(P(GRAD), P("0"), "=", SCORE).holds is not True


def test_the_declaration_not_the_spelling_decides():
    """A density named r declared with a parameter called lam proves the same identity; q declared with
    another parameter than the one differentiated does not depend on it."""
    text = (ROOT / "derivations" / "score_function.yaml").read_text()
    renamed = re.sub(r"(?<![A-Za-z0-9])(d/d)?theta(?![A-Za-z0-9])", lambda m: (m.group(1) or "") + "lam", text)
    renamed = re.sub(r"(?<![A-Za-z0-9_])q\(", "r(", renamed).replace("q: [lam]", "r: [lam]")
    for d in parse_derivations(renamed):
        for prev, step in zip(d.steps, d.steps[1:]):
            assert prove(prev.expr, step.expr, step.relation, d.context).holds is True, step.text
    other = parse_derivation(SCORE_HEADER.replace("theta: real,", "theta: real, phi: real,")
                             .replace("q: [theta]", "q: [phi]") + 'steps: ["1", "1"]\n').context
    assert prove(P(GRAD, other), P("0", other), "=", other).holds is True
    assert prove(P("d/dphi(E[z ~ q(z)](f(z)))", other), P("0", other), "=", other).holds is not True


@pytest.mark.parametrize("decl, message", [
    ("parameters: {q: [nu]}", "not a declared symbol"),
    ("parameters: {f: [theta]}", "not a density name"),
    ("parameters: {q: [z]}", "variable of a density"),
    ("parameters: {q: 3}", "parameters"),
])
def test_bad_parameter_declarations_are_one_error_line(decl, message):
    text = ("title: t\nsymbols: {theta: real, z: real}\nfunctions: {f: z}\n"
            "distributions:\n  p(z): N(z; 0, 1)\n" + decl + '\nsteps: ["1", "1"]\n')
    with pytest.raises(InputError) as err:
        parse_derivation(text, "f.yaml")
    assert message in str(err.value)


# -- soundness over random combinations ------------------------------------------------------
ATOMS = [GRAD, REINFORCE, f"E[z ~ q(z)]({SCORE_TERM})", "E[z ~ q(z)](f(z))", "E[z ~ q(z)](f(z)*b)",
         "d/dtheta(E[z ~ q(z)](g(z, theta)))", f"E[z ~ q(z)](g(z, theta)*{SCORE_TERM})",
         "E[z ~ q(z)](d/dtheta(g(z, theta)))", "1"]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(-2, 2), min_size=len(ATOMS), max_size=len(ATOMS)),
       st.lists(st.integers(-2, 2), min_size=len(ATOMS), max_size=len(ATOMS)))
def test_whatever_is_proved_about_gradients_is_confirmed(a, b):
    lhs = sum(c * P(t) for c, t in zip(a, ATOMS))
    rhs = sum(c * P(t) for c, t in zip(b, ATOMS))
    if prove(lhs, rhs, "=", SCORE).holds:
        res = numeric_check(lhs, rhs, "=", SCORE, examples=10)
        assert res.status in ("agree", "unevaluable"), (lhs, rhs, res.counterexample)


# -- the term ----------------------------------------------------------------------------------
def test_the_score_atom_is_never_evaluated_by_sympy():
    s = Partial(P("log(q(z))"), P("theta"))
    assert s.doit() == s
    assert to_plain(s) and "theta" in to_plain(s)
    assert r"\nabla_{\theta}" in to_latex(s)


# -- the model's densities with a declared parameter move with it in the numeric models ----------
MODEL = parse_derivation("""\
title: t
symbols: {theta: real, x: real, z: real}
functions: {f: x}
parameters: {p: [theta]}
steps: ["1", "1"]
""").context


@pytest.mark.parametrize("lhs, rhs, holds", [
    ("d/dtheta(E[x ~ p(x)](f(x)))", "E[x ~ p(x)](f(x)*d/dtheta(log(p(x))))", True),
    ("d/dtheta(E[x ~ p(x)](f(x)))", "-E[x ~ p(x)](f(x)*d/dtheta(log(p(x))))", False),
    ("d/dtheta(E[x ~ p(x)](f(x)))", "E[x ~ p(x)](f(x)*d/dtheta(p(x)))", False),
    ("E[z ~ p(z|x)](d/dtheta(log(p(x, z))))", "0", False),
])
def test_a_model_density_with_a_parameter_is_differentiated_and_checked(lhs, rhs, holds):
    v = check_step(P(lhs, MODEL), P(rhs, MODEL), "=", MODEL, examples=20)
    assert not v.contradiction, v.message
    assert v.status is (Status.PROVED if holds else Status.REFUTED), v.message
    if not holds:
        assert any("slope in theta" in k for k in v.counterexample.values), v.counterexample.values
