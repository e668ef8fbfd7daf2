"""The engine of canonical rewriting that decides identities (docs/checker.md lists every rule).

`Canonicalizer(context).canon(e)` rewrites a term bottom-up into a sum of
products of canonical atoms by applying the registered rules
(`checking.rules`, one module per family of rules):

* definitions unfold: KL(a||b) = E_a[log a - log b], H[a] = -E_a[log a],
  Var = E[f^2] - E[f]^2, an integral against a normalized density is an E;
* logs of products, quotients and powers split; log exp cancels;
* the model's densities (declared in the Context) factor by the chain rule in a
  fixed variable order, so p(z|x) = p(x|z) p(z) / p(x) and p(x, z) = p(x|z) p(z)
  (Bayes' rule); other densities (q) are atoms;
* declared families unfold to their closed forms (terms/families); a diagonal
  Gaussian factors over coordinates;
* E is linear, factors free of the variable leave it, E[1] = 1, and polynomial
  moments of a coordinate of a registered family are evaluated; declared
  reparameterizations z = mu + sigma*eps are substituted under E over eps;
* finite sums are linear and constant summands count terms; bound indices are
  renamed to the declared index of their range.

At each node the engine tries the rules registered for that position in order and
applies the first that matches; every application is recorded in the trace (the
`check --rules` report).  A node no rule takes is rebuilt from its canonical
arguments.  Two terms are equal when the expanded difference of their canonical
forms is 0.
"""
from __future__ import annotations

import sympy as sp

from ..terms import Context, Expectation, density_vars, is_density
from .rules import engine as _engine
from .rules.expectation import split
from .trace import Trace


class Canonicalizer:
    def __init__(self, context: Context, trace: Trace | None = None):
        self.ctx = context
        self.trace = trace or Trace()

    # -- entry ----------------------------------------------------------------
    def __call__(self, e):
        return sp.expand(self.canon(e))

    def rewrite(self, position: str, node, *site):
        """Apply the first registered rule of ``position`` that matches ``node``; None if none does."""
        for r in _engine.candidates(position, node):
            before = dict(self.trace.rules)
            out = r.apply(node, self, *site)
            if out is not None:
                if r.report:
                    self.trace.use(r.shown_as(node, self, *site), at=len(before))
                return out
            self.trace.rules = before  # what a rule tried while its side conditions failed is not used
        return None

    def note(self, name: str) -> None:
        """Record a named step a rule took inside its own application."""
        self.trace.use(name)

    # -- positions --------------------------------------------------------------
    def canon(self, e):
        """Canonical form of a term."""
        if isinstance(e, (sp.Symbol, sp.Number, sp.NumberSymbol, sp.Indexed)) or e.is_Atom:
            return e
        if isinstance(e, sp.log):
            return self.log(e.args[0])
        out = self.rewrite("term", e)
        if out is not None:
            return out
        return e.func(*[self.canon(a) for a in e.args])

    def log(self, u):
        """Canonical form of log(u)."""
        out = self.rewrite("log", u)
        if out is not None:
            return out
        cu = self.canon(u)
        if cu != u and not isinstance(cu, (sp.Add, sp.Sum)):
            return self.log(cu)
        return sp.expand_log(sp.log(cu))

    def dist(self, d):
        """The density an E or KL is taken under: its declared closed form where there is one."""
        out = self.rewrite("dist", d)
        return d if out is None else out

    def expect(self, dist, var, f, raw_dist=None):
        """Canonical E_{var ~ dist}[f].

        Only a density of exactly the variable of the E is normalized over it: under
        p(x, z) or p(x|z) an "E over z" is no expectation, and no rule applies to it."""
        if not _density_of(dist, var):
            return Expectation(self.canon(f), var, dist)
        out = self.rewrite("integrand", f, dist, var, raw_dist)
        if out is not None:
            return out
        body = sp.expand(self.canon(f))
        if body == 0:
            return sp.Integer(0)
        total = sp.Integer(0)
        for term in sp.Add.make_args(body):
            out = self.rewrite("expectation", term, dist, var)
            if out is None:
                const, dep = split(term, var)
                out = const * Expectation(dep, var, dist)
            total += out
        return total


def _names(vs) -> list:
    return sorted(getattr(v, "name", str(v)) for v in vs)


def _density_of(dist, var) -> bool:
    """Whether ``dist`` is a density of exactly ``var`` (a variable or a tuple of them)."""
    if not is_density(dist):
        return False
    wanted = tuple(var) if isinstance(var, (tuple, sp.Tuple)) else (var,)
    return _names(density_vars(dist)) == _names(wanted)
