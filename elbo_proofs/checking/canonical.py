"""The canonical rewriting that decides identities (docs/checker.md lists every rule).

`Canonicalizer(context).canon(e)` rewrites a term bottom-up into a sum of
products of canonical atoms:

* definitions unfold: KL(a||b) = E_a[log a - log b], H[a] = -E_a[log a],
  Var = E[f^2] - E[f]^2, an integral against a normalized density is an E;
* logs of products, quotients and powers split; log exp cancels;
* abstract densities of the model (p, P) factor by the chain rule in a fixed
  variable order, so p(z|x) = p(x|z) p(z) / p(x) and p(x, z) = p(x|z) p(z)
  (Bayes' rule); other densities (q) are atoms;
* declared families unfold to their closed forms (Gaussian, Bernoulli); a
  diagonal Gaussian factors over coordinates;
* E is linear, z-free factors leave it, E[1] = 1, and polynomial moments of a
  Gaussian coordinate are evaluated; declared reparameterizations z = mu + sigma*eps
  are substituted under E over eps;
* finite sums are linear and constant summands count terms; bound indices are
  renamed to the declared index of their range.

Two terms are equal when the expanded difference of their canonical forms is 0.
"""
from __future__ import annotations

import sympy as sp

from ..terms import KL, Bernoulli, Context, Density, Entropy, Expectation, Normal, Variance, depends_on, density_vars, is_density
from .rules.gaussian import gaussian_expectation
from .trace import Trace

MODEL_FAMILIES = {"p", "P"}


class Canonicalizer:
    def __init__(self, context: Context, trace: Trace | None = None):
        self.ctx = context
        self.trace = trace or Trace()

    # -- entry ----------------------------------------------------------------
    def __call__(self, e):
        return sp.expand(self.canon(e))

    def canon(self, e):
        if isinstance(e, (sp.Symbol, sp.Number, sp.NumberSymbol, sp.Indexed)) or e.is_Atom:
            return e
        if isinstance(e, KL):
            return self._kl(e)
        if isinstance(e, Entropy):
            self.trace.use("definition of entropy")
            a = e.args[0]
            return self.canon(-Expectation(sp.log(a), _var_of(a), a))
        if isinstance(e, Variance):
            self.trace.use("variance as E[f^2] - E[f]^2")
            f, v, d = e.args
            return self.canon(Expectation(f**2, v, d) - Expectation(f, v, d) ** 2)
        if isinstance(e, Expectation):
            return self.expect(self.canon_dist(e.dist), e.var, e.function, raw_dist=e.dist)
        if isinstance(e, (Density, Normal, Bernoulli)):
            # a density value is exp of its canonical log, so products of densities compare
            return sp.exp(self.log(e))
        if isinstance(e, sp.Integral):
            return self._integral(e)
        if isinstance(e, sp.Sum):
            return self._sum(e)
        if isinstance(e, sp.Product):
            if is_density(e):
                return sp.exp(self.log(e))
            return sp.Product(self.canon(e.function), *e.limits)
        if isinstance(e, sp.log):
            return self.log(e.args[0])
        if isinstance(e, sp.Derivative):
            return self._derivative(e)
        if isinstance(e, sp.Pow):
            return sp.Pow(self.canon(e.base), self.canon(e.exp))
        args = [self.canon(a) for a in e.args]
        return e.func(*args)

    # -- densities and logs ----------------------------------------------------
    def family(self, d):
        """The declared family of an abstract density, or None."""
        return self.ctx.family_of(d)

    def canon_dist(self, d):
        if isinstance(d, Density):
            fam = self.family(d)
            if fam is not None:
                self.trace.use(f"declared family of {d.name}")
                return fam
        return d

    def log(self, u):
        """Canonical form of log(u)."""
        if isinstance(u, sp.Mul):
            self.trace.use("log of a product")
            return sp.Add(*[self.log(f) for f in u.args])
        if isinstance(u, sp.Pow):
            base, ex = u.base, u.exp
            if base.is_positive or _positive_term(base) or self._probability_complement(base):
                self.trace.use("log of a power")
                return self.canon(ex) * self.log(base)
            if isinstance(base, sp.exp) or base == sp.E:
                return self.canon(ex) * self.log(base)
            if ex.is_even and base.is_real:
                return self.canon(ex) * self.log(sp.Abs(base))
            return sp.log(self.canon(u))
        if isinstance(u, sp.exp):
            self.trace.use("log of exp")
            return self.canon(u.args[0])
        if u == sp.E:
            return sp.Integer(1)
        if isinstance(u, Density):
            fam = self.family(u)
            if fam is not None:
                self.trace.use(f"declared family of {u.name}")
                return self.log(fam)
            return self._chain_rule(u)
        if isinstance(u, (Normal, Bernoulli)):
            self.trace.use("Gaussian log-density" if isinstance(u, Normal) else "Bernoulli log-mass")
            return self.canon(u.log_density())
        if isinstance(u, sp.Product):
            self.trace.use("log of a product over coordinates")
            return self._sum(sp.Sum(sp.log(u.function), *u.limits))
        if isinstance(u, sp.Number) and u.is_positive:
            return sp.expand_log(sp.log(u), force=True)
        cu = self.canon(u)
        if cu != u and not isinstance(cu, (sp.Add, sp.Sum)):
            return self.log(cu)
        return sp.expand_log(sp.log(cu))

    def _probability_complement(self, e) -> bool:
        """1 - m for a declared probability m is positive, though SymPy cannot tell."""
        rest = sp.expand(1 - e)
        name = rest.base.label.name if isinstance(rest, sp.Indexed) else getattr(rest, "name", None)
        return name is not None and self.ctx.kinds.get(name) == "probability"

    def _chain_rule(self, d: Density):
        """Model densities factor in a fixed order: p(a, b | c) = p(a | b, c) p(b | c)."""
        if d.name not in MODEL_FAMILIES:
            return sp.log(d)
        vars_ = sorted(d.vars, key=str)
        given = sorted(d.given, key=str)
        if given:
            joint = vars_ + given
            result = sp.expand(self._joint(d.name, joint) - self._joint(d.name, given))
            if result != sp.log(d):
                self.trace.use("Bayes' rule")
            return result
        if len(vars_) > 1:
            self.trace.use("joint as conditional times marginal")
        return self._joint(d.name, vars_)

    def _joint(self, name, vars_):
        vars_ = sorted(vars_, key=str)
        total = sp.Integer(0)
        for i, v in enumerate(vars_):
            factor = Density(name, (v,), tuple(vars_[i + 1:]))
            fam = self.family(factor)
            if fam is not None:
                self.trace.use(f"declared family of {name}")
                total += self.log(fam)
            else:
                total += sp.log(factor)
        return total

    # -- operators --------------------------------------------------------------
    def _kl(self, e: KL):
        self.trace.use("definition of KL")
        a, b = e.args
        return self.expect(self.canon_dist(a), _var_of(a), sp.log(a) - sp.log(b))

    def expect(self, dist, var, f, raw_dist=None):
        """Canonical E_{var ~ dist}[f]: linearity, constants out, Gaussian moments."""
        f = self._reparameterize(var, f)
        raw_terms = sp.Add.make_args(sp.expand(f, deep=False, log=False, multinomial=False, power_base=False))
        if len(raw_terms) > 1 and any(self._is_weighted(t, dist, raw_dist) for t in raw_terms):
            self.trace.use("linearity of E")
            return sp.Add(*[self.expect(dist, var, t, raw_dist) for t in raw_terms])
        for d in {dist, raw_dist} - {None}:
            if self._is_weighted(f, d, None):
                # E_q[f / q] = int f dz (importance weights)
                self.trace.use("E of a ratio to its own density as an integral")
                return self._integral(sp.Integral(sp.expand(f * d), var))
        body = sp.expand(self.canon(f))
        total = sp.Integer(0)
        for term in sp.Add.make_args(body):
            total += self._expect_term(dist, var, term)
        return total

    @staticmethod
    def _is_weighted(f, dist, raw_dist) -> bool:
        return any(d is not None and sp.Pow(d, -1) in sp.Mul.make_args(f) for d in (dist, raw_dist))

    def _expect_term(self, dist, var, term):
        if not depends_on(term, var):
            if term != 0:
                self.trace.use("constant out of E")
            return term
        const, dep = _split(term, var)
        if isinstance(dep, sp.Sum) and not depends_on(dep.limits[0][2], var):
            self.trace.use("E of a finite sum")
            inner = self.expect(dist, var, dep.function)
            return const * self._sum(sp.Sum(inner, *dep.limits))
        closed = gaussian_expectation(dep, var, dist)
        if closed is not None:
            self.trace.use("Gaussian moments")
            return const * closed
        return const * Expectation(dep, var, dist)

    def _reparameterize(self, var, f):
        """Declared z = mu + sigma*eps is substituted under E over eps."""
        subs = {s: v for s, v in self.ctx.lets.items() if depends_on(v, var) and depends_on(f, s)}
        if subs:
            self.trace.use("reparameterization")
            f = f.xreplace(subs)
            for s, v in subs.items():
                f = _replace_components(f, s, v, self.ctx)
        return f

    def _integral(self, e: sp.Integral):
        f = e.function
        var = e.limits[0][0]
        factors = sp.Mul.make_args(f)
        marginal = self._marginalize(factors, var)
        if marginal is not None:
            return marginal
        for k, fac in enumerate(factors):
            # only a density of var alone integrates to 1 over var: p(x, z) does not
            if is_density(fac) and tuple(density_vars(fac)) == (var,):
                rest = sp.Mul(*(factors[:k] + factors[k + 1:]))
                self.trace.use("integral against a density as E")
                return self.expect(self.canon_dist(fac), var, rest)
        inner = self.canon(f)
        return sp.Integral(inner, *e.limits)

    def _marginalize(self, factors, var):
        """int p(x, z) dz = p(x), also for p(x|z) p(z) and for conditionals p(z|x)."""
        if not factors or not all(isinstance(f, Density) and f.name in MODEL_FAMILIES for f in factors):
            return None
        names = {f.name for f in factors}
        if len(names) != 1:
            return None
        name = names.pop()
        given_all = set().union(*[set(f.given) for f in factors])
        vars_all = set().union(*[set(f.vars) for f in factors])
        given = given_all - vars_all
        vars_ = vars_all
        if var not in vars_:
            return None
        product = sp.Add(*[self.log(f) for f in factors])
        joint = self.log(Density(name, tuple(sorted(vars_, key=str)), tuple(sorted(given, key=str))))
        if sp.expand(product - joint) != 0:
            return None
        self.trace.use("marginalization")
        rest = tuple(sorted(vars_ - {var}, key=str))
        if not rest:
            return sp.Integer(1)
        return sp.exp(self.log(Density(name, rest, tuple(sorted(given, key=str)))))

    def _sum(self, e: sp.Sum):
        """Finite sums are linear; summands free of the index count (hi - lo + 1) times.

        Limits are handled innermost first; SymPy merges nested sums, so the
        result may be one Sum with several limits.
        """
        renames = {}
        limits = []
        for j, lo, hi in e.limits:
            j2 = self._canonical_index(j, lo, hi)
            if j2 != j and not any(j2 == l[0] for l in e.limits):
                renames[j] = j2
            limits.append((renames.get(j, j), lo, hi))
        result = self.canon(e.function.xreplace(renames) if renames else e.function)
        for j, lo, hi in limits:
            total = sp.Integer(0)
            for term in sp.Add.make_args(sp.expand(result)):
                const, dep = _split_index(term, j)
                if dep == 1:
                    if const != 0:
                        self.trace.use("sum of a constant")
                    total += const * (hi - lo + 1)
                else:
                    total += const * sp.Sum(dep, (j, lo, hi))
            result = total
        return result

    def _canonical_index(self, j, lo, hi):
        for sym, l2, h2 in self.ctx.indices.values():
            if l2 == lo and h2 == hi:
                return sym
        return j

    def _derivative(self, e: sp.Derivative):
        inner = self.canon(e.expr)
        result = inner
        for v, n in e.variable_count:
            result = sp.diff(result, v, n)
        self.trace.use("differentiation")
        return result if result.has(sp.Derivative) else self.canon(result)


def _var_of(d):
    vs = density_vars(d)
    return vs[0] if len(vs) == 1 else sp.Tuple(*vs)


def _positive_term(e) -> bool:
    return isinstance(e, (Density, Normal, Bernoulli, sp.exp)) or (isinstance(e, sp.Product) and is_density(e))


def _split(term, var):
    """term = const * dep with const free of var."""
    const, dep = sp.Integer(1), sp.Integer(1)
    for f in sp.Mul.make_args(term):
        if depends_on(f, var):
            dep *= f
        else:
            const *= f
    return const, dep


def _split_index(term, j):
    const, dep = sp.Integer(1), sp.Integer(1)
    for f in sp.Mul.make_args(term):
        if f.has(j):
            dep *= f
        else:
            const *= f
    return const, dep


def _replace_components(f, s, v, ctx):
    """z_j -> mu_j + sigma_j*eps_j when the vector z is reparameterized."""
    name = s.name
    reps = {}
    for ix in f.atoms(sp.Indexed):
        if ix.base.label.name == name:
            k = ix.indices[0]
            comp = v
            for sym in list(v.free_symbols):
                if ctx.is_vector(sym.name):
                    comp = comp.xreplace({sym: ctx.vectors[sym.name][0][k]})
            reps[ix] = comp
    return f.xreplace(reps) if reps else f
