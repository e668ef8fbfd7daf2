"""Certificates of non-negativity for inequality steps.

A gap D >= 0 is certified when D, in canonical form, is a non-negative
combination of known non-negative terms plus a remainder that is itself
certified: a KL divergence, Jensen's gap log E[f] - E[log f], the tangent-line
gap t - 1 - log t (t > 0), a square, or anything SymPy's assumptions call
non-negative.  Sums over coordinates of certified summands are certified.

Signs are decided under the Context's assumptions (``beta >= 1`` makes the
coefficient beta - 1 of a KL divergence non-negative); a certificate that used
one names it.
"""
from __future__ import annotations

import itertools

import sympy as sp

from ...terms import KL, Context, Density, Expectation, density_vars, is_density
from ...terms.conditions import sign_reason
from . import engine

MAX_DEPTH = 3


class Certifier:
    def __init__(self, canon, candidates_from, context: Context | None = None):
        self.canon = canon               # term -> canonical expanded form
        self.candidates_from = candidates_from
        self.context = context if context is not None else Context()

    def _sign(self, e, strict: bool = False) -> str | None:
        """None when ``e >= 0`` (``> 0``) is not shown; else the assumptions used, as text ('' for none)."""
        used = sign_reason(e, self.context, strict=strict)
        if used is None:
            return None
        return ", ".join(str(a) for a in used)

    def certify(self, gap, terms_seen) -> str | None:
        """A human-readable certificate that gap >= 0, or None."""
        cands = list(self._candidates(gap, terms_seen))
        return self._certify(sp.expand(gap), cands, MAX_DEPTH)

    def _certify(self, d, cands, depth):
        if d == 0:
            return "0"
        why = self._sign(d)
        if why is not None:
            return f"{d} >= 0" + (f" (assumed {why})" if why else "")
        if isinstance(d, sp.Sum):
            inner = self._certify(sp.expand(d.function), cands, depth)
            if inner:
                return f"sum of non-negative terms ({inner})"
        if isinstance(d, sp.Mul):
            coeff, body = d.as_coeff_Mul()
            if coeff.is_positive and body != d:
                inner = self._certify(sp.expand(body), cands, depth)
                if inner:
                    return inner
        if depth == 0:
            return None
        for name, t in cands:
            c = _ratio(d, t)
            why = self._sign(c) if c is not None else None
            if why is None:
                continue
            rest = sp.expand(d - c * t)
            sub = self._certify(rest, cands, depth - 1)
            if sub is not None:
                if why:
                    name = f"{name}, times {c} >= 0 (assumed {why})"
                return name if sub == "0" else f"{name} + {sub}"
        # termwise: every summand certified on its own
        if isinstance(d, sp.Add):
            parts = [self._certify(a, cands, 0) for a in d.args]
            if all(parts):
                return " + ".join(parts)
        return None

    def _candidates(self, gap, terms_seen):
        seen = set()
        for name, term in self.candidates_from(gap, terms_seen):
            if name in seen:
                continue
            seen.add(name)
            try:
                t = sp.expand(self.canon(term))
            except Exception:  # a candidate the rules cannot rewrite is simply not used
                continue
            if t != 0:
                yield name, t


def _ratio(d, t):
    """c with d - c*t free of t's leading atom, or None."""
    for term in sp.Add.make_args(t):
        coeff, atom = term.as_coeff_Mul()
        if atom == 1 or not atom.free_symbols and not atom.atoms(Expectation, sp.Sum, sp.log):
            continue
        dc = sp.expand(d).coeff(atom) if not isinstance(atom, sp.Number) else None
        if dc is None or dc == 0:
            continue
        c = sp.simplify(dc / coeff)
        if c.free_symbols and any(c.has(a) for a in (atom,)):
            continue
        return c
    return None


def _positive_product(f, context) -> bool:
    """A product of positive factors (densities, their ratios): Jensen's gap applies to it."""
    return isinstance(f, sp.Mul) and all(context.is_positive(a) or is_density(a) or (
        isinstance(a, sp.Pow) and (context.is_positive(a.base) or is_density(a.base)) and a.exp.is_real)
        for a in f.args)


def densities_in(*exprs):
    found = []
    for e in exprs:
        for d in sp.preorder_traversal(e):
            if isinstance(d, Density) and d not in found:
                found.append(d)
    return found


def candidate_terms(context):
    """Generator of (name, term) non-negative candidates for a gap."""

    def gen(gap, terms_seen):
        dens = densities_in(*terms_seen)
        # posterior of the model for every conditional that appears
        for d in list(dens):
            if d.given and d.name in context.model_densities:
                post = Density(d.name, d.given, d.vars)
                if post not in dens:
                    dens.append(post)
        for a, b in itertools.permutations(dens, 2):
            if density_vars(a) == density_vars(b) and a.name != b.name or (
                density_vars(a) == density_vars(b) and a != b
            ):
                yield f"KL({a} || {b}) >= 0", KL(a, b)
        for e in [gap, *terms_seen]:
            for lg in e.atoms(sp.log):
                arg = lg.args[0]
                if isinstance(arg, Expectation):
                    f, v, dist = arg.args
                    if context.is_positive(f) or is_density(f) or _positive_product(f, context):
                        yield f"Jensen: log E[{f}] >= E[log {f}]", lg - Expectation(sp.log(f), v, dist)
                elif context.is_positive(arg):
                    yield f"tangent line: {arg} - 1 - log({arg}) >= 0", arg - 1 - lg
        for e in terms_seen:
            for ex in e.atoms(Expectation):
                f, v, dist = ex.args
                for lg in f.atoms(sp.log):
                    u = lg.args[0]
                    yield f"tangent line under E: E[{u} - 1 - log({u})] >= 0", Expectation(u - 1 - lg, v, dist)
        for s in gap.free_symbols | set(gap.atoms(sp.Indexed)):
            if context.is_positive(s):
                yield f"tangent line: {s}^2 - 1 - log({s}^2) >= 0", s**2 - 1 - 2 * sp.log(s)
                yield f"tangent line: {s} - 1 - log({s}) >= 0", s - 1 - sp.log(s)
        # the candidates of the families of rules (position "certificate")
        for e in [gap, *terms_seen]:
            for node in sp.preorder_traversal(e):
                for r in engine.candidates("certificate", node):
                    yield from r.apply(node, context) or ()
    return gen
