"""Nearest correct form: a short, concrete hint for a wrong step.

Each diagnosis is one small function that compares the wrong expression with
the expected one (the line it should follow from) and returns a sentence, or
None when it does not apply:

* ``sign_flip``          -- expected - wrong == 2*t for a term t of both:  "the sign of t is flipped"
* ``term_difference``    -- they differ by one term: "the term t is missing" / "... does not belong"
                            / "the coefficient of t should be a, not b"
* ``swapped_kl``         -- KL(b || a) written where KL(a || b) belongs
* ``swapped_condition``  -- p(z | x) written where p(x | z) belongs
* ``reversed_inequality``-- the inequality holds the other way (or only as an inequality)

The first two are pure algebra on a light normal form (expand, split logs of
positive densities, linearity of E), which keeps the student's own terms so the
hint reads in their notation.  The others try a repaired step and ask the
checker (a callable ``holds(lhs, relation, rhs) -> bool``) whether it holds.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable

import sympy as sp

from ..terms import KL, Density, Expectation, depends_on, relations
from ..terms.printing import MathText

Holds = Callable[[object, str, object], bool]

# -- a light normal form ---------------------------------------------------------
def _push(e):
    """Expand sums and logs of positive factors, and apply linearity of E."""
    if isinstance(e, Expectation):
        inner = sp.expand(_push(e.function))
        out = sp.Integer(0)
        for term in sp.Add.make_args(inner):
            const, rest = [], []
            for f in sp.Mul.make_args(term):
                (rest if depends_on(f, e.var) else const).append(f)
            c = sp.Mul(*const)
            out += c if not rest else c * Expectation(sp.Mul(*rest), e.var, e.dist)
        return out
    if isinstance(e, sp.log):
        arg = _push(e.args[0])
        return sp.expand_log(sp.log(arg), force=False)
    if isinstance(e, sp.Derivative):
        try:
            return _push(e.doit())
        except Exception:
            return e
    if isinstance(e, (sp.Add, sp.Mul)):
        return e.func(*[_push(a) for a in e.args])
    if isinstance(e, sp.Pow):
        return sp.Pow(_push(e.base), e.exp)
    return e


def linear_form(expr) -> dict:
    """expr as {term: numeric coefficient} after expansion and linearity of E."""
    try:
        e = sp.expand(_push(sp.sympify(expr)))
    except Exception:
        return {sp.sympify(expr): sp.Integer(1)}
    out: dict = defaultdict(lambda: sp.Integer(0))
    for term in sp.Add.make_args(e):
        coeff, rest = term.as_coeff_Mul()
        out[rest] += coeff
    return {t: c for t, c in out.items() if c != 0}


def _difference(expected, wrong) -> dict:
    a, b = linear_form(expected), linear_form(wrong)
    diff = {}
    for t in set(a) | set(b):
        d = a.get(t, 0) - b.get(t, 0)
        if d != 0:
            diff[t] = (a.get(t, sp.Integer(0)), b.get(t, sp.Integer(0)))
    return diff


def _show(t) -> MathText:
    """A term as the hint names it: a term inside an expectation is named by its integrand."""
    if isinstance(t, Expectation):
        return MathText(t.function, " inside the expectation over ", t.var, " ~ ", t.dist)
    return MathText(t)


# -- pure algebra ------------------------------------------------------------------
def sign_flip(expected, wrong) -> str | None:
    """expected - wrong == 2*c*t with t in both, with opposite signs."""
    diff = _difference(expected, wrong)
    if len(diff) != 1:
        return None
    (t, (ce, cw)), = diff.items()
    if t == 1 or ce == 0 or cw == 0:
        return None
    if sp.simplify(ce + cw) == 0:
        return MathText("the sign of ", _show(t), " is flipped")
    return None


def term_difference(expected, wrong) -> str | None:
    diff = _difference(expected, wrong)
    if len(diff) != 1:
        return None
    (t, (ce, cw)), = diff.items()
    if t == 1:
        return MathText("the constant term should be ", ce, ", not ", cw)
    if cw == 0:
        return MathText("the term ", _show(ce * t), " is missing")
    if ce == 0:
        return MathText("the term ", _show(cw * t), " does not belong here")
    if sp.simplify(ce + cw) == 0:
        return MathText("the sign of ", _show(t), " is flipped")
    return MathText("the coefficient of ", _show(t), " should be ", ce, ", not ", cw)


def _same(expected, candidate) -> bool:
    return not _difference(expected, candidate)


# -- repairs the checker confirms ---------------------------------------------------
def _atoms(expr, kind):
    try:
        return sorted(expr.atoms(kind), key=sp.default_sort_key)
    except Exception:
        return []


def swapped_kl(expected, wrong, relation: str = "=", holds: Holds | None = None) -> str | None:
    for k in _atoms(wrong, KL):
        a, b = k.args
        try:
            fixed = wrong.xreplace({k: KL(b, a)})
        except Exception:
            continue
        if (relation == "=" and _same(expected, fixed)) or (holds is not None and holds(expected, relation, fixed)):
            return MathText("the arguments of ", _show(k), " are swapped: KL is not symmetric, ", _show(KL(b, a)),
                            " belongs here")
    return None


def swapped_condition(expected, wrong, relation: str = "=", holds: Holds | None = None) -> str | None:
    for d in _atoms(wrong, Density):
        if not d.given:
            continue
        other = Density(d.name, d.given, d.vars)
        try:
            fixed = wrong.xreplace({d: other})
        except Exception:
            continue
        if (relation == "=" and _same(expected, fixed)) or (holds is not None and holds(expected, relation, fixed)):
            return MathText(_show(d), " is written where ", _show(other), " belongs")
    return None


def reversed_inequality(lhs, relation: str, rhs, holds: Holds | None) -> str | None:
    if holds is None:
        return None
    if relation in ("<=", ">="):
        other = relations.flip(relation)
        if holds(lhs, other, rhs):
            return MathText("the inequality points the other way: ", _relation(lhs, other, rhs))
        return None
    if relation == "=":
        for other in ("<=", ">="):
            if holds(lhs, other, rhs):
                return MathText("this holds only as an inequality: ", _relation(lhs, other, rhs))
    return None


def _relation(lhs, relation: str, rhs) -> MathText:
    """lhs <= rhs as one formula."""
    latex_rel = {"<=": r"\le", ">=": r"\ge", "=": "=", "~=": r"\approx"}.get(relation, relation)
    from ..terms.printing import to_latex, to_plain

    return MathText.of(f"{to_plain(lhs)} {relation} {to_plain(rhs)}",
                       f"${to_latex(lhs)} {latex_rel} {to_latex(rhs)}$")


def canonical_difference(expected, wrong, canon: Callable | None) -> str | None:
    """sign_flip / term_difference after the checker's canonical rewriting (moments evaluated,
    KL unfolded): finds "the term 2*mu*sigma does not belong here" where E[eps] was taken as 1."""
    if canon is None:
        return None
    try:
        a, b = canon(expected), canon(wrong)
    except Exception:
        return None
    return sign_flip(a, b) or term_difference(a, b)


def diagnose(expected, wrong, relation: str, holds: Holds | None = None, canon: Callable | None = None) -> str:
    """The first hint that applies, or "" when none does.

    ``canon`` (optional) rewrites a term to the checker's canonical form.
    """
    if expected is None or wrong is None:
        return ""
    tries = []
    if relation == "=":
        tries += [lambda: sign_flip(expected, wrong), lambda: term_difference(expected, wrong),
                  lambda: canonical_difference(expected, wrong, canon)]
    tries += [
        lambda: swapped_kl(expected, wrong, relation, holds),
        lambda: swapped_condition(expected, wrong, relation, holds),
        lambda: reversed_inequality(expected, relation, wrong, holds),
    ]
    for attempt in tries:
        try:
            hint = attempt()
        except Exception:
            hint = None
        if hint:
            return hint
    return ""
