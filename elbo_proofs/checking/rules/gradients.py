"""Derivatives and gradients of expectations.

d/dtheta of a term is the derivative of its canonical form.  SymPy differentiates what it
sees; what it cannot see is a dependence that only the declarations state:

* an abstract density declared with a parameter (``parameters: {q: [theta]}``): q_theta(z);
* an expectation under such a density, or under a closed form whose parameters include theta
  (N(z; mu, sigma^2) for d/dmu), or of an integrand that depends on theta;
* an opaque function declared with theta among its variables but written without it.

Those are differentiated here:

* d/dtheta q(z) = q(z) d/dtheta log q(z), the score d/dtheta log q(z) being the atom
  ``Partial(log(q(z)), theta)`` (SymPy never evaluates it);
* d/dtheta E_{z ~ q}[f] = E_q[f d/dtheta log q + d/dtheta f] (differentiation under the
  integral sign; for f free of theta it is the score-function identity, REINFORCE); under a
  closed form the score is the derivative of the closed-form log-density;
* anything else that depends on theta in a way no rule shows (a sum of such terms, an
  opaque function declared with theta) is the unevaluated ``Partial(term, theta)``: equal only
  to itself.

Two rules at the summands of an E complete the family:

* the score has mean zero: E_{z ~ q}[c d/dtheta log q(z)] = 0 for c free of z, q the density
  the E is over (q is normalized for every theta);
* an expectation under N(z; m, s^2) is the expectation over eps ~ N(0, 1) of the declared
  reparameterization z = m + s eps (``let:`` and ``random:``), so that the pathwise gradient
  d/dtheta E_q[f(z)] = E_eps[d/dtheta f(m + s eps)] follows by differentiating under E_eps.

Which density depends on which parameter comes from the declarations only (the Context's
``parameters`` and declared families), never from how a name is spelled.
"""
from __future__ import annotations

import sympy as sp

from ...terms import Density, Expectation, Normal, Partial, SampleExpectation, depends_on
from ...terms.families import family_of
from .engine import rule
from .expectation import split


def _name(v) -> str | None:
    if isinstance(v, sp.Symbol):
        return v.name
    if isinstance(v, sp.Indexed):
        return None
    return getattr(v, "name", None)


def declared_parameter(d, v, ctx) -> bool:
    """Whether the abstract density ``d`` is declared to depend on the parameter ``v``."""
    name = _name(v)
    if not isinstance(d, Density) or name is None:
        return False
    return any(getattr(s, "name", None) == name for s in ctx.parameters.get(d.name, ()))


def _function_hides(f, v, ctx) -> bool:
    """An opaque function declared with ``v`` among its variables, written without it."""
    name = _name(v)
    declared = ctx.functions.get(type(f).__name__, ())
    return (name is not None and any(getattr(s, "name", None) == name for s in declared)
            and not depends_on(f, v))


def _depends(e, v, ctx) -> bool:
    """Whether ``e`` depends on ``v``, as written or through the declarations."""
    if depends_on(e, v) if isinstance(v, sp.Symbol) else e.has(v):
        return True
    return bool(_hidden(e, v, ctx))


def _hidden(e, v, ctx) -> list:
    """The largest subterms of ``e`` through which it depends on ``v`` in a way SymPy's
    differentiation does not see (see the module's docstring)."""
    found = []
    stack = [e]
    while stack:
        node = stack.pop()
        if not isinstance(node, sp.Basic) or node.is_Atom:
            continue
        if isinstance(node, Expectation):
            if _name(node.var) is not None and _name(node.var) == _name(v):
                continue
            if _expectation_depends(node, v, ctx):
                found.append(node)
            continue
        if isinstance(node, Density):
            if declared_parameter(node, v, ctx):
                found.append(node)
            continue
        if family_of(node) is not None:
            if node.has(v):
                found.append(node)
            continue
        if isinstance(node, Partial):
            if node.theta == v or _hidden(node.expr, v, ctx) or node.expr.has(v):
                found.append(node)
            continue
        if isinstance(node, sp.core.function.AppliedUndef):
            if _function_hides(node, v, ctx) or _hidden(sp.Tuple(*node.args), v, ctx):
                found.append(node)
            continue
        if isinstance(node, (sp.Sum, sp.Product, sp.Integral, sp.Derivative, sp.Subs, SampleExpectation)):
            if _hidden(sp.Tuple(*node.args), v, ctx):
                found.append(node)
            continue
        stack.extend(node.args)
    return found


def _expectation_depends(node, v, ctx) -> bool:
    if _score(node.dist, v, ctx) != 0:
        return True
    f = node.function
    return f.has(v) or bool(_hidden(f, v, ctx))


def _score(dist, v, ctx):
    """d/dv log dist: the atom for an abstract density declared with v, the derivative of the
    closed-form log-density for a registered family, 0 for a density that does not depend on v."""
    if isinstance(dist, Density):
        return Partial(sp.log(dist), v) if declared_parameter(dist, v, ctx) else sp.Integer(0)
    fam = family_of(dist)
    if fam is not None and dist.has(v):
        return sp.diff(fam.log_density(dist), v)
    if fam is None and dist.has(v):
        return None   # a density whose dependence on v no rule shows
    return sp.Integer(0)


def differentiate(e, v, eng):
    """d/dv of the canonical term ``e`` with every dependence the declarations state."""
    atoms = _hidden(e, v, eng.ctx)
    if not atoms:
        return sp.diff(e, v)
    stand_in = {a: sp.Function(f"_dependence_{i}", real=True)(v) for i, a in enumerate(atoms)}
    d = sp.diff(e.xreplace(stand_in), v)
    back = {}
    for a, h in stand_in.items():
        back[sp.Derivative(h, v)] = _derivative_of_atom(a, v, eng)
    d = d.xreplace(back)
    return d.xreplace({h: a for a, h in stand_in.items()})


def _derivative_of_atom(a, v, eng):
    ctx = eng.ctx
    if isinstance(a, Expectation):
        score = _score(a.dist, v, ctx)
        if score is None:
            return Partial(a, v)
        inner = differentiate(a.function, v, eng)
        if score != 0:
            eng.note("score-function identity")
        eng.note("differentiation under the integral sign")
        return eng.expect(a.dist, a.var, a.function * score + inner)
    if isinstance(a, Density) and declared_parameter(a, v, ctx) and not a.has(v):
        return a * Partial(sp.log(a), v)
    fam = family_of(a)
    if fam is not None:
        return a * sp.diff(fam.log_density(a), v)
    return Partial(a, v)


@rule("differentiation", "term", sp.Derivative)
def differentiation(e, eng):
    """d/dv of a term is the derivative of its canonical form, with the dependence on v that the
    declarations state (parameters of densities, closed forms, integrands under E); left as is
    where SymPy cannot differentiate."""
    result = eng.canon(e.expr)
    for v, n in e.variable_count:
        for _ in range(int(n)):
            result = differentiate(result, v, eng)
    return result if result.has(sp.Derivative) else eng.canon(result)


@rule("score has mean zero", "expectation", priority=15)
def score_mean_zero(term, eng, dist, var):
    """E_{z ~ q}[c d/dtheta log q(z)] = 0 for c free of z: q is normalized for every theta."""
    const, dep = split(term, var)
    if not isinstance(dep, Partial) or not isinstance(dist, Density):
        return None
    if dep.expr != sp.log(dist) or depends_on(const, var):
        return None
    if any(_name(x) == _name(dep.theta) for x in dist.vars):
        return None
    return sp.Integer(0)


@rule("reparameterized expectation", "expectation", priority=40)
def reparameterized_expectation(term, eng, dist, var):
    """E_{z ~ N(m, s^2)}[f(z)] = E_{eps ~ N(0, 1)}[f(m + s eps)] for a declared z = m + s eps with
    eps ~ N(0, 1) (the law of m + s eps is N(m, s^2)); for the summands no other rule takes."""
    if not isinstance(dist, Normal) or _name(var) is None:
        return None
    x, m, s2 = dist.args
    if x != var:
        return None
    for s, value in eng.ctx.lets.items():
        if _name(s) != _name(var):
            continue
        for eps, law in eng.ctx.randoms.items():
            if not isinstance(law, Normal) or tuple(law.args) != (eps, 0, 1) or not depends_on(value, eps):
                continue
            b = sp.diff(value, eps)
            a = value.xreplace({eps: sp.Integer(0)})
            if depends_on(b, eps) or sp.expand(value - a - b * eps) != 0:
                continue
            if depends_on(m, var) or depends_on(s2, var):
                continue
            if sp.expand(a - m) != 0 or sp.expand(b ** 2 - s2) != 0:
                continue
            return eng.expect(eng.dist(law), eps, term.xreplace({var: value}))
    return None


@rule("derivative under an integral", "term", sp.Integral, priority=25, report=False)
def derivative_under_integral(e, eng):
    """An integrand holding a derivative (int d/dtheta q(z) f(z) dz) is taken in its canonical form
    (q(z) d/dtheta log q(z) f(z)), which the rules for integrals against a density then read."""
    if not e.function.has(sp.Derivative):
        return None
    body = sp.expand(eng.canon(e.function))
    if body.has(sp.Derivative) or body == e.function:
        return None
    return eng.canon(sp.Integral(body, *e.limits))
