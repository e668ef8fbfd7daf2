"""Term -> number: a recursive numpy evaluator over the term language.

Values are numpy arrays.  A variable bound by an expectation, an integral or a
set of estimator repetitions is an array of nodes on its own axis (see
quadrature.py), so the body of an E[...] is evaluated once for all nodes and
reduced with the quadrature weights.  Vectors (mu with components mu_j) are
`Vec`s: a tuple of component arrays, indexed from 1.

Abstract densities (p(x|z) with no declared family) are delegated to the
concrete model drawn for the example (models.py).  Anything the evaluator does
not know raises `Unevaluable` with the node's class name; a numeric failure on
one model (log of a negative number, overflow) raises `NumericFailure`, and the
check skips that model.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp
from . import special

from ..terms import (KL, Bernoulli, Context, Density, Entropy, Expectation, Normal, SampleExpectation, Variance,
                     free_draws, is_density, over_draws)
from ..terms.densities import density_vars
from ..terms.families import family_of
from .quadrature import (GRID_NODES, MAX_GRID_DIM, binary_grid, gauss_legendre, lead, real_line,
                         reduce_leading, standard_normal_grid)

MAX_TERMS = 10_000        # longest Sum/Product that is looped over
MAX_ELEMENTS = 30_000_000  # largest intermediate array
MAX_JOINT_DRAWS = 3        # draws integrated together on one product grid (36^3 nodes for 3)


class Unevaluable(Exception):
    """The term (or this combination of term and context) cannot be evaluated at all."""


class NumericFailure(ArithmeticError):
    """Evaluation on this particular model failed numerically; the model is skipped."""


class Vec:
    """A vector value: components 1..n, each a scalar or an array of nodes."""

    __slots__ = ("comps",)

    def __init__(self, comps):
        self.comps = tuple(comps)

    def __len__(self):
        return len(self.comps)

    def __getitem__(self, i: int):
        if not 1 <= i <= len(self.comps):
            raise NumericFailure(f"index {i} outside 1..{len(self.comps)}")
        return self.comps[i - 1]

    def replace(self, i: int, value) -> "Vec":
        comps = list(self.comps)
        comps[i - 1] = value
        return Vec(comps)

    def __repr__(self):
        return f"Vec({list(self.comps)!r})"


class Env:
    """Values of names while evaluating.

    ``bound``: names bound by E, integrals, sums, derivative perturbations and
    estimator samples; ``drawn``: the example's symbol values.  Scalars and
    vectors live in separate namespaces because a sample name (z with samples
    z_l) is both a scalar variable and a vector of samples.  ``depth`` is the
    number of node axes in use.
    """

    __slots__ = ("bound_s", "bound_v", "drawn_s", "drawn_v", "depth", "size", "fine")

    def __init__(self, drawn_s, drawn_v, depth=0, bound_s=None, bound_v=None, size=1, fine=False):
        self.fine = fine          # the integrand has kinks: 1-D grids ten times finer
        self.drawn_s = drawn_s
        self.drawn_v = drawn_v
        self.depth = depth
        self.size = size          # product of the lengths of the node axes in use
        self.bound_s = bound_s or {}
        self.bound_v = bound_v or {}

    def push(self, binds: dict, n: int) -> "Env":
        """Bind variables whose nodes occupy a new leading axis of length n."""
        env = self.bind(binds, self.depth + 1)
        env.size = self.size * max(int(n), 1)
        return env

    def bind(self, binds: dict, depth: int | None = None) -> "Env":
        bs, bv = dict(self.bound_s), dict(self.bound_v)
        for name, value in binds.items():
            if isinstance(value, Vec):
                bv[name] = value
                bs.pop(name, None)
            else:
                bs[name] = value
                bv.pop(name, None)
        return Env(self.drawn_s, self.drawn_v, self.depth if depth is None else depth, bs, bv, self.size, self.fine)

    def refined(self, fine: bool) -> "Env":
        env = self.bind({})
        env.fine = fine
        return env


def _name(v) -> str | None:
    if isinstance(v, sp.Symbol):
        return v.name
    if isinstance(v, sp.Indexed):
        return v.base.label.name
    return None


def _is_number(x) -> bool:
    return np.ndim(x) == 0


_FUNCS = {
    sp.exp: np.exp, sp.Abs: np.abs, sp.sin: np.sin, sp.cos: np.cos, sp.tan: np.tan,
    sp.tanh: np.tanh, sp.sinh: np.sinh, sp.cosh: np.cosh, sp.atan: np.arctan,
    sp.erf: special.erf, sp.erfc: special.erfc, sp.gamma: special.gamma, sp.loggamma: special.gammaln,
    sp.sign: np.sign, sp.floor: np.floor, sp.ceiling: np.ceil,
}


class Evaluator:
    """Evaluates terms under a Context on one concrete model."""

    def __init__(self, context: Context, model):
        self.ctx = context
        self.model = model
        self._let_names = {s.name: v for s, v in context.lets.items()}
        self._lets_active: set[str] = set()

    # -- entry point -----------------------------------------------------------
    def evaluate(self, expr, env: Env):
        with np.errstate(all="ignore"):
            return np.asarray(self.value(sp.sympify(expr), env), dtype=float)

    # -- names -----------------------------------------------------------------
    def lookup(self, name: str, env: Env):
        if name in env.bound_s:
            return env.bound_s[name]
        if name in env.bound_v:
            return env.bound_v[name]
        if name in self._let_names and name not in self._lets_active:
            self._lets_active.add(name)
            try:
                return self.value(self._let_names[name], env)
            finally:
                self._lets_active.discard(name)
        if name in env.drawn_s:
            return env.drawn_s[name]
        if name in env.drawn_v:
            return env.drawn_v[name]
        raise Unevaluable(f"no value for symbol {name}")

    def lookup_vector(self, name: str, env: Env) -> Vec:
        if name in env.bound_v:
            return env.bound_v[name]
        if name in env.drawn_v:
            return env.drawn_v[name]
        raise Unevaluable(f"{name} is used with an index but is not a vector")

    def var_value(self, v, env: Env):
        """Value of a density argument: a variable (scalar or Vec) or a component."""
        if isinstance(v, sp.Symbol):
            return self.lookup(v.name, env)
        if isinstance(v, sp.Indexed):
            return self.value(v, env)
        return self.value(v, env)

    def integer(self, e, env: Env) -> int:
        v = self.value(e, env)
        if not _is_number(v):
            raise Unevaluable(f"range bound {e} depends on an integration variable")
        v = float(v)
        if not math.isfinite(v) or abs(v - round(v)) > 1e-9:
            raise NumericFailure(f"range bound {e} = {v} is not an integer")
        return int(round(v))

    # -- the recursion ---------------------------------------------------------
    def value(self, e, env: Env):
        if isinstance(e, (Density, Normal, Bernoulli)):
            return np.exp(self.log_density(e, env))
        if e.is_Number:
            if e is sp.nan or e in (sp.oo, -sp.oo, sp.zoo):
                raise NumericFailure(f"{e} in the expression")
            return float(e)
        if isinstance(e, sp.NumberSymbol):
            return float(e)
        if isinstance(e, sp.Symbol):
            return self.lookup(e.name, env)
        if isinstance(e, sp.Add):
            total = 0.0
            for a in e.args:
                total = total + self.scalar(a, env)
            return total
        if isinstance(e, sp.Mul):
            if any(_is_density_term(a) for a in e.args) and all(a.is_positive for a in e.args):
                # ratios and products of densities in the log domain: no underflow to 0/0
                return np.exp(self.log_value(e, env))
            total = 1.0
            for a in e.args:
                total = total * self.scalar(a, env)
            return total
        if isinstance(e, sp.Pow):
            return self._pow(e, env)
        if isinstance(e, sp.log):
            if len(e.args) != 1:
                return self.log_value(e.args[0], env) / np.log(self.scalar(e.args[1], env))
            return self.log_value(e.args[0], env)
        if isinstance(e, sp.Indexed):
            return self._indexed(e, env)
        if isinstance(e, sp.Sum):
            return self._sum(e, env, product=False)
        if isinstance(e, sp.Product):
            if is_density(e):
                return np.exp(self.log_density(e, env))
            return self._sum(e, env, product=True)
        if isinstance(e, (Expectation, Variance)) and self.ctx.over_samples(e):
            return self._over_samples(e, env)
        if isinstance(e, Expectation):
            return self._expectation(e.function, e.var, e.dist, env)
        if isinstance(e, SampleExpectation):
            return self._sample_expectation(e, env)
        if isinstance(e, KL):
            return self._kl(e, env)
        if isinstance(e, Entropy):
            return self._entropy(e, env)
        if isinstance(e, Variance):
            f, var, dist = e.args
            m = self._expectation(f, var, dist, env)
            m2 = self._expectation(f ** 2, var, dist, env)
            return m2 - m ** 2
        if isinstance(e, sp.Derivative):
            return self._derivative(e, env)
        if isinstance(e, sp.Integral):
            return self._integral(e, env)
        if isinstance(e, (sp.Max, sp.Min)):
            vals = [self.scalar(a, env) for a in e.args]
            op = np.maximum if isinstance(e, sp.Max) else np.minimum
            out = vals[0]
            for v in vals[1:]:
                out = op(out, v)
            return out
        if isinstance(e, sp.core.function.AppliedUndef):
            return self._function(e, env)
        if isinstance(e, sp.Function) and e.func in _FUNCS:
            return _FUNCS[e.func](*[self.scalar(a, env) for a in e.args])
        raise Unevaluable(f"cannot evaluate {type(e).__name__}")

    def scalar(self, e, env: Env):
        v = self.value(e, env)
        if isinstance(v, Vec):
            raise Unevaluable(f"vector {e} used as a number")
        if np.size(v) > MAX_ELEMENTS:
            raise NumericFailure("intermediate array too large")
        return v

    def _pow(self, e, env):
        base = self.scalar(e.base, env)
        if e.exp.is_Integer:
            n = int(e.exp)
            b = np.asarray(base, dtype=float)
            if n < 0 and np.any(b == 0):
                raise NumericFailure("division by zero")
            return b ** n
        ex = self.scalar(e.exp, env)
        return np.power(np.asarray(base, dtype=float), ex)

    def log_value(self, arg, env: Env):
        """log(arg), computed from log-densities and sums of logs where that avoids underflow."""
        if isinstance(arg, (Density, Normal, Bernoulli)) or (isinstance(arg, sp.Product) and is_density(arg)):
            return self.log_density(arg, env)
        if isinstance(arg, sp.exp):
            return self.scalar(arg.args[0], env)
        if isinstance(arg, sp.Mul) and all(f.is_positive for f in arg.args):
            total = 0.0
            for f in arg.args:
                total = total + self.log_value(f, env)
            return total
        if isinstance(arg, sp.Pow) and arg.base.is_positive and not arg.base.is_Number:
            return self.scalar(arg.exp, env) * self.log_value(arg.base, env)
        return np.log(self.scalar(arg, env))

    def _indexed(self, e, env):
        if len(e.indices) != 1:
            raise Unevaluable(f"{e}: only one index per vector is supported")
        vec = self.lookup_vector(e.base.label.name, env)
        return vec[self.integer(e.indices[0], env)]

    def _sum(self, e, env, product: bool):
        body = e.function
        limits = list(e.limits)
        return self._loop(body, limits, env, product)

    def _loop(self, body, limits, env, product):
        if not limits:
            return self.log_density(body, env) if product == "log" else self.scalar(body, env)
        (i, lo, hi), rest = limits[0], limits[1:]
        a, b = self.integer(lo, env), self.integer(hi, env)
        if b - a + 1 > MAX_TERMS:
            raise Unevaluable(f"sum over {b - a + 1} terms is too long to evaluate")
        total = 1.0 if product is True else 0.0
        for k in range(a, b + 1):
            v = self._loop(body, rest, env.bind({i.name: float(k)}), product)
            total = total * v if product is True else total + v
        return total

    # -- densities -------------------------------------------------------------
    def family(self, d: Density):
        return find_family(self.ctx, d)

    def log_density(self, d, env: Env):
        fam = family_of(d) if not isinstance(d, sp.Product) else None
        if fam is not None:
            # one coordinate of a registered family: its own numpy log-density
            try:
                return fam.np_log_density(*(self.scalar(a, env) for a in d.args))
            except ValueError as exc:
                raise NumericFailure(str(exc)) from None
        if isinstance(d, sp.Product) and is_density(d):
            return self._loop(d.function, list(d.limits), env, "log")
        if isinstance(d, Density):
            fam = self.family(d)
            if fam is not None:
                return self.log_density(fam, env)
            return self.model.log_density(self, d, env)
        if is_density(d):
            raise Unevaluable(f"cannot evaluate density {type(d).__name__}")
        # a non-density term in log-density position (inside a product of densities)
        return np.log(self.scalar(d, env))

    # -- expectations ----------------------------------------------------------
    def measure(self, dist, env: Env):
        """Quadrature for a density term: ({variable name: nodes}, weights), nodes on a new leading axis."""
        depth = env.depth
        if isinstance(dist, Normal):
            m, v = self.scalar(dist.mean, env), self.scalar(dist.var, env)
            nodes, w = gaussian_nodes([m], [v], env)
            return {_name(dist.x): self.at_variable(dist.x, nodes[0], env)}, w
        if isinstance(dist, Bernoulli):
            m = self.scalar(dist.args[1], env)
            x = lead(np.array([0.0, 1.0]), depth)
            w = np.where(x > 0.5, m, 1 - m)
            return {_name(dist.args[0]): self.at_variable(dist.args[0], x, env)}, w
        if isinstance(dist, sp.Product) and is_density(dist):
            if isinstance(dist.function, Density) and self.family(dist.function) is None:
                return self._abstract_product_measure(dist, env)
            return self._product_measure(dist, env)
        if isinstance(dist, Density):
            fam = self.family(dist)
            if fam is not None:
                return self.measure(fam, env)
            return self.model.measure(self, dist, env)
        raise Unevaluable(f"cannot take an expectation under {type(dist).__name__}")

    def gaussian_params(self, dist, env: Env):
        """(means, variances) of a Gaussian density term (per coordinate), or None."""
        if isinstance(dist, Normal):
            return [self.scalar(dist.mean, env)], [self.scalar(dist.var, env)]
        if isinstance(dist, sp.Product) and isinstance(dist.function, Normal):
            (j, lo, hi), = dist.limits
            means, variances = [], []
            for k in range(self.integer(lo, env), self.integer(hi, env) + 1):
                e2 = env.bind({j.name: float(k)})
                means.append(self.scalar(dist.function.mean, e2))
                variances.append(self.scalar(dist.function.var, e2))
            return means, variances
        if isinstance(dist, Density):
            fam = self.family(dist)
            if fam is not None:
                return self.gaussian_params(fam, env)
            return self.model.gaussian_params(self, dist, env)
        return None

    def at_variable(self, var, nodes, env: Env):
        """The value to bind for a density's variable: the nodes, or for a component z_j
        (a density of one coordinate) the vector z with that component replaced by the nodes."""
        if isinstance(var, sp.Symbol):
            return nodes
        if isinstance(var, sp.Indexed) and len(var.indices) == 1:
            name = var.base.label.name
            i = self.integer(var.indices[0], env)
            try:
                vec = self.lookup_vector(name, env)
            except Unevaluable:
                vec = Vec([])
            if len(vec) < i:
                vec = Vec(list(vec.comps) + [np.nan] * (i - len(vec)))
            return vec.replace(i, nodes)
        raise Unevaluable(f"expectation over {var}: its variable is not a symbol")

    def _abstract_product_measure(self, dist, env):
        """prod_i q_i(z_i) of abstract one-coordinate densities: independent coordinates."""
        f = dist.function
        (j, lo, hi), = dist.limits
        if len(f.vars) != 1 or not isinstance(f.vars[0], sp.Indexed) or f.vars[0].indices != (j,):
            raise Unevaluable(f"cannot take an expectation under {dist}")
        name = f.vars[0].base.label.name
        a, b = self.integer(lo, env), self.integer(hi, env)
        if a != 1:
            raise Unevaluable(f"{dist}: vector densities must run from 1")
        means, variances = [], []
        for k in range(a, b + 1):
            gp = self.gaussian_params(f, env.bind({j.name: float(k)}))
            if gp is None or len(gp[0]) != 1:
                raise Unevaluable(f"cannot take an expectation under {dist}")
            means.append(gp[0][0])
            variances.append(gp[1][0])
        nodes, w = gaussian_nodes(means, variances, env)
        return {name: Vec(nodes)}, w

    def _product_measure(self, dist, env):
        f = dist.function
        (j, lo, hi), = dist.limits
        if not isinstance(f, (Normal, Bernoulli)) or not isinstance(f.args[0], sp.Indexed) \
                or f.args[0].indices != (j,):
            raise Unevaluable(f"cannot take an expectation under {dist}")
        name = f.args[0].base.label.name
        a, b = self.integer(lo, env), self.integer(hi, env)
        if a != 1:
            raise Unevaluable(f"{dist}: vector densities must run from 1")
        params = []
        for k in range(a, b + 1):
            e2 = env.bind({j.name: float(k)})
            params.append([self.scalar(p, e2) for p in f.args[1:]])
        if isinstance(f, Normal):
            nodes, w = gaussian_nodes([p[0] for p in params], [p[1] for p in params], env)
            return {name: Vec(nodes)}, w
        grid = binary_grid(len(params))
        comps = [lead(grid[:, i], env.depth) for i in range(len(params))]
        w = 1.0
        for c, (m,) in zip(comps, params):
            w = w * np.where(c > 0.5, m, 1 - m)
        return {name: Vec(comps)}, w

    def _expectation(self, f, var, dist, env: Env):
        binds, w = self.measure(dist, env.refined(not callable(f) and _has_kinks(f)))
        binds = dict(binds)
        names = [v.name for v in var] if isinstance(var, sp.Tuple) else [_name(var)]
        if len(names) == 1 and names[0] not in binds and len(binds) == 1:
            binds[names[0]] = next(iter(binds.values()))
        missing = [n for n in names if n not in binds]
        if missing:
            raise Unevaluable(f"E[{var} ~ {dist}]: {dist} is not a density of {', '.join(missing)}")
        inner = env.push(binds, np.shape(w)[0] if np.ndim(w) else 1).refined(False)
        if callable(f):
            val = f(inner)
        else:
            val = self.scalar(f, inner)
        return reduce_leading(val, w, env.depth)

    def _over_samples(self, e, env: Env):
        """E or Var over the iid draws z_1..z_L, on repeated draws of the samples.

        Each repetition gives an unbiased value: for E the term itself; for Var, with a second,
        independent set of draws (the sample's name primed), (S - S')^2 / 2.  The check averages
        the repetitions and judges the mean by its standard error (check.py)."""
        names = self.ctx.sample_names(e.args[0])
        draws = over_draws(e, self.ctx)
        if draws is not None and any(n + SHADOW not in env.drawn_v for n in names):
            # not on repeated draws (an inequality, or a step of a chain): the E itself, by quadrature
            return self._sample_expectation(draws, env)
        if any(n not in env.drawn_v or n + SHADOW not in env.drawn_v for n in names):
            raise Unevaluable("an expectation or variance over the samples is checked on repeated draws of them")
        value = self.scalar(e.args[0], env)
        if isinstance(e, Expectation):
            return value
        other = Env(env.drawn_s, {**env.drawn_v, **{n: env.drawn_v[n + SHADOW] for n in names}},
                    env.depth, env.bound_s, env.bound_v, env.size, env.fine)
        return (value - self.scalar(e.args[0], other)) ** 2 / 2

    def _sample_expectation(self, e, env: Env):
        """E over the draws z_lo .. z_hi, independent, each from e.dist.

        Summand by summand: a summand free of the draws is itself; c * sum_k f(z_k) over the
        drawn range, and f(z_i) of one draw, are sums of expectations over one draw at a time
        (the accurate one-dimensional quadrature); any other summand (a log of a sum over the
        draws) is integrated over all the draws together on a product Gauss-Hermite grid, for at
        most MAX_JOINT_DRAWS draws of a scalar (more is a NumericFailure: the model is skipped).
        """
        f, var, name = e.function, e.var, e.var.name
        lo, hi = self.integer(e.lower, env), self.integer(e.upper, env)
        if lo < 1 or hi < lo:
            raise NumericFailure(f"draws {name}_{lo} .. {name}_{hi}: an empty or invalid range")
        total = 0.0
        for term in sp.Add.make_args(f):
            if not free_draws(term, {name}):
                total = total + self.scalar(term, env)
                continue
            const, dep = sp.Integer(1), sp.Integer(1)
            for a in sp.Mul.make_args(term):
                if free_draws(a, {name}):
                    dep *= a
                else:
                    const *= a
            value = self._one_draw_at_a_time(dep, e, lo, hi, env)
            if value is None:
                value = self._all_draws(dep, e, lo, hi, env)
            total = total + self.scalar(const, env) * value
        return total

    def _draw_env(self, e, i: int, hi: int, env: Env):
        """The measure of draw z_i alone: (env with z bound to a vector whose i-th component holds the
        nodes, the others NaN, weights)."""
        binds, w = self.measure(e.dist, env)
        nodes = binds.get(e.var.name, next(iter(binds.values())) if len(binds) == 1 else None)
        if nodes is None:
            raise Unevaluable(f"{e.dist} is not a density of {e.var}")
        comps = [np.nan] * hi
        comps[i - 1] = nodes
        return env.push({e.var.name: Vec(comps)}, np.shape(w)[0] if np.ndim(w) else 1), w

    def _one_draw_at_a_time(self, dep, e, lo: int, hi: int, env: Env):
        name = e.var.name
        if isinstance(dep, sp.Sum) and len(dep.limits) == 1:
            k, a, b = dep.limits[0]
            draws = free_draws(dep.function, {name})
            if {d.indices[0] for d in draws} != {k}:
                return None
            a, b = self.integer(a, env), self.integer(b, env)
            if a < lo or b > hi:
                return None
            total = 0.0
            for i in range(a, b + 1):
                inner, w = self._draw_env(e, i, hi, env.bind({k.name: float(i)}))
                total = total + reduce_leading(self.scalar(dep.function, inner), w, env.depth)
            return total
        draws = free_draws(dep, {name})
        if len(draws) != 1:
            return None
        (d,) = draws
        if not d.indices[0].free_symbols <= dep.free_symbols:
            return None                   # its index is bound inside (a sum over the draws)
        i = self.integer(d.indices[0], env)
        if not lo <= i <= hi:
            raise NumericFailure(f"{d} is not one of the draws {name}_{lo} .. {name}_{hi}")
        inner, w = self._draw_env(e, i, hi, env)
        return reduce_leading(self.scalar(dep, inner), w, env.depth)

    def _all_draws(self, dep, e, lo: int, hi: int, env: Env):
        n = hi - lo + 1
        if n > MAX_JOINT_DRAWS:
            raise NumericFailure(f"{n} draws: a joint quadrature is done for at most {MAX_JOINT_DRAWS}")
        gp = self.gaussian_params(e.dist, env)
        if gp is None or len(gp[0]) != 1:
            raise Unevaluable(f"an expectation over several draws from {e.dist} (a scalar Gaussian is needed)")
        (m,), (v,) = gp
        nodes, w = gaussian_nodes([m] * n, [v] * n, env)
        comps = [np.nan] * (lo - 1) + list(nodes)
        inner = env.push({e.var.name: Vec(comps)}, np.shape(w)[0] if np.ndim(w) else 1)
        return reduce_leading(self.scalar(dep, inner), w, env.depth)

    def _kl(self, e, env):
        a, b = e.args
        return self._expectation(lambda inner: self.log_density(a, inner) - self.log_density(b, inner),
                                 _kl_var(a), a, env)

    def _entropy(self, e, env):
        (a,) = e.args
        return self._expectation(lambda inner: -self.log_density(a, inner), _kl_var(a), a, env)

    # -- calculus --------------------------------------------------------------
    def _derivative(self, e, env):
        expr = e.expr
        for var, count in reversed(e.variable_count):
            expr = (expr, var, int(count))
        return self._diff(expr, env)

    def _diff(self, spec, env):
        if not isinstance(spec, tuple):
            return self.scalar(spec, env)
        inner, var, count = spec
        if count > 2:
            raise Unevaluable("derivatives of order above 2 are not evaluated")
        if isinstance(var, sp.Symbol):
            x0 = self.lookup(var.name, env)
            if isinstance(x0, Vec):
                raise Unevaluable(f"derivative with respect to the vector {var.name}")

            def at(x):
                return self._diff(inner, env.bind({var.name: x}))
        elif isinstance(var, sp.Indexed) and len(var.indices) == 1:
            name = var.base.label.name
            vec = self.lookup_vector(name, env)
            i = self.integer(var.indices[0], env)
            x0 = vec[i]

            def at(x):
                return self._diff(inner, env.bind({name: vec.replace(i, x)}))
        else:
            raise Unevaluable(f"derivative with respect to {var}")
        x0 = np.asarray(x0, dtype=float)
        if count == 1:
            h = 1e-4 * (1 + np.abs(x0))
            return (at(x0 + h) - at(x0 - h)) / (2 * h)
        h = 1e-3 * (1 + np.abs(x0))
        return (at(x0 + h) - 2 * at(x0) + at(x0 - h)) / h ** 2

    def _integral(self, e, env):
        f = e.function
        limits = list(e.limits)

        def integrate(f_or_fn, lims, env):
            if not lims:
                return f_or_fn(env) if callable(f_or_fn) else self.scalar(f_or_fn, env)
            lim, rest = lims[0], lims[1:]
            var = lim[0]
            depth = env.depth
            k = self._vector_dim(var.name, env)
            if k is not None:
                return self._vector_integral(f_or_fn, rest, env, var.name, k, integrate)
            if len(lim) == 3:
                lo, hi = self.scalar(lim[1], env), self.scalar(lim[2], env)
                if not (_is_number(lo) and _is_number(hi)):
                    raise Unevaluable("integration limits depend on an integration variable")
                lo, hi = max(float(lo), -30.0), min(float(hi), 30.0)
                t, w = gauss_legendre()
                x = (hi - lo) / 2 * t + (hi + lo) / 2
                w = w * (hi - lo) / 2
                finite_range = True
            else:
                x, w = real_line(not callable(f_or_fn) and _has_kinks(f_or_fn))
                finite_range = False
            inner = env.push({var.name: lead(x, depth)}, len(x))
            val = np.asarray(integrate(f_or_fn, rest, inner), dtype=float)
            if val.ndim <= depth:
                if finite_range:
                    return val * float(np.sum(w))
                if np.all(val == 0):
                    return val
                raise NumericFailure("integrand does not decay: the integral diverges")
            if not finite_range:
                ends = np.abs(np.concatenate([val[:1].ravel(), val[-1:].ravel()]))
                scale = np.max(np.abs(val)) if val.size else 0.0
                if np.any(ends > 1e-10 * max(scale, 1.0)):
                    raise NumericFailure("integrand is not negligible at +-30: the integral may diverge")
            return np.sum(lead(w, depth) * val, axis=0)

        return integrate(f, limits, env)

    def _vector_dim(self, name: str, env: Env):
        """The number of components of a vector variable, None for a scalar."""
        model = self.model
        vector = name in self.ctx.vectors and name not in self.ctx.samples
        if model is not None and hasattr(model, "role_dim"):
            dim = model.role_dim(name)
            if dim is not None:
                return dim if dim > 0 else None
        if not vector:
            return None
        if name in env.bound_v or name in env.drawn_v:
            return len(self.lookup_vector(name, env))
        return self.integer(self.ctx.vectors[name][1], env)

    def _vector_integral(self, f_or_fn, rest, env, name, k, integrate):
        """Integral over R^k (k <= 2): the trapezoid rule on [-30, 30], or its product on [-20, 20]^2."""
        if k > 2:
            raise Unevaluable(f"integral over the vector {name} with {k} components (at most 2)")
        n = LINE_POINTS_2D if k == 2 else None
        if n is None:
            x, w = real_line()
            grids, weights = [x], w
        else:
            x = np.linspace(-20.0, 20.0, n)
            h = x[1] - x[0]
            w1 = np.full(n, h)
            w1[0] = w1[-1] = h / 2
            g1, g2 = np.meshgrid(x, x, indexing="ij")
            grids = [g1.ravel(), g2.ravel()]
            weights = np.outer(w1, w1).ravel()
        if len(weights) * env.size > 4 * NODE_BUDGET:
            raise NumericFailure("integral over a vector inside nested integrals is too large")
        comps = [lead(g, env.depth) for g in grids]
        inner = env.push({name: Vec(comps)}, len(weights))
        val = np.asarray(integrate(f_or_fn, rest, inner), dtype=float)
        if val.ndim <= env.depth:
            if np.all(val == 0):
                return val
            raise NumericFailure("integrand does not decay: the integral diverges")
        edge = np.zeros(len(weights), dtype=bool)
        for g in grids:
            edge |= np.abs(g) >= np.max(np.abs(g)) - 1e-9
        scale = float(np.max(np.abs(val))) if val.size else 0.0
        if np.any(np.abs(val[edge]) > 1e-10 * max(scale, 1.0)):
            raise NumericFailure("integrand is not negligible at the edge of the grid: the integral may diverge")
        return np.sum(lead(weights, env.depth) * val, axis=0)

    # -- opaque functions ------------------------------------------------------
    def _function(self, e, env):
        name = type(e).__name__
        declared = self.ctx.functions.get(name)
        args = list(e.args)
        index = None
        if declared is not None and len(args) == len(declared) + 1:
            index = self.integer(args[0], env)
            args = args[1:]
        inputs = [self.var_value(a, env) for a in args]
        if declared is not None and index is None and len(args) < len(declared):
            # f declared as a function of (z, theta) and written f(z): it still depends on theta
            inputs += [self.var_value(a, env) for a in declared[len(args):]]
        return self.model.function(name, index, inputs)


def find_family(ctx: Context, d: Density):
    """The declared family of a density term (the one lookup: `Context.family_of`)."""
    return ctx.family_of(d)


_KINKS = (sp.Abs, sp.Max, sp.Min, sp.sign, sp.floor, sp.ceiling, sp.Heaviside)


def _has_kinks(e) -> bool:
    """Whether an integrand has kinks or jumps (abs, max, sign...): it needs a finer grid."""
    return isinstance(e, sp.Basic) and e.has(*_KINKS)


def _is_density_term(a) -> bool:
    if isinstance(a, sp.Pow):
        a = a.base
    return isinstance(a, (Density, Normal, Bernoulli)) or (isinstance(a, sp.Product) and is_density(a))


def _kl_var(a):
    vs = density_vars(a)
    return vs[0] if len(vs) == 1 else sp.Tuple(*vs)


SHADOW = "'"   # suffix of the second, independent set of draws of a sample (Var over samples)
NODE_BUDGET = 400_000   # nodes of a new grid times the nodes already in use


def normal_grid(k: int, env: Env):
    """Standard-normal product grid for k coordinates, sized to the nodes already in use.

    Inside nested expectations (or estimator repetitions) the grid per
    coordinate shrinks so that the arrays stay below NODE_BUDGET elements; the
    rule stays exact for polynomials of degree 2n-1 per coordinate.
    """
    if k < 1 or k > MAX_GRID_DIM:
        raise Unevaluable(f"no quadrature grid for {k} dimensions (at most {MAX_GRID_DIM})")
    n = GRID_NODES[k]
    while n > 3 and n ** k * env.size > NODE_BUDGET:
        n -= 1
    if n ** k * env.size > 4 * NODE_BUDGET:
        raise NumericFailure("too many quadrature nodes for nested expectations")
    t, w = standard_normal_grid(k, n)
    return [lead(ti, env.depth) for ti in t], lead(w, env.depth)


LINE_POINTS_2D = 801   # trapezoid points per coordinate (spacing 0.05 on [-20, 20]) for integrals over R^2
LINE_NODES = 3001   # trapezoid nodes on [-30, 30] (spacing 0.02) for 1-D Gaussian expectations


def gaussian_nodes(means, variances, env: Env):
    """Quadrature for independent N(means[i], variances[i]).

    One coordinate: the trapezoid rule on [-30, 30] (widened to m +- 12 sd)
    with spacing h = min(0.02, sd / 2.5) and weights h * N(z; m, v), when it
    fits the node budget.  Unlike Gauss-Hermite
    under N(m, v), it stays exact when the integrand carries other densities
    (E_q[p(z|x) / q(z|x)], a posterior much narrower than q, or mass where q
    has little): its error for a Gaussian feature of width s is about
    exp(-2 pi^2 s^2 / h^2), negligible for s >= 0.05.  Otherwise (vectors,
    nested expectations) the product Gauss-Hermite grid.
    """
    if len(means) == 1 and LINE_NODES * env.size <= NODE_BUDGET:
        m = np.asarray(means[0], dtype=float)
        v = np.asarray(variances[0], dtype=float)
        if np.any(v <= 0) or not np.all(np.isfinite(m)) or not np.all(np.isfinite(v)):
            raise NumericFailure("non-positive or non-finite variance")
        sd = np.sqrt(v)
        lo = min(-30.0, float(np.min(m - 12 * sd)))
        hi = max(30.0, float(np.max(m + 12 * sd)))
        h = min(0.002 if env.fine else 0.02, float(np.min(sd)) / 2.5)
        n = int(np.ceil((hi - lo) / h)) + 1
        if n * env.size <= NODE_BUDGET:
            z = np.linspace(lo, hi, n)
            h = z[1] - z[0]
            zz = lead(z, env.depth)
            w = h * np.exp(-(zz - m) ** 2 / (2 * v)) / np.sqrt(2 * np.pi * v)
            return [zz], w
    t, w = normal_grid(len(means), env)
    nodes = []
    for i in range(len(means)):
        v = np.asarray(variances[i], dtype=float)
        if np.any(v <= 0):
            raise NumericFailure("non-positive variance")
        nodes.append(means[i] + np.sqrt(v) * t[i])
    return nodes, w


_SUPPORTED = (sp.Symbol, sp.Add, sp.Mul, sp.Pow, sp.log, sp.Indexed, sp.IndexedBase, sp.Sum, sp.Product,
              sp.Integral, sp.Derivative, sp.Tuple, sp.Max, sp.Min, Expectation, SampleExpectation, KL, Entropy, Variance,
              Density, Normal, Bernoulli, sp.core.function.AppliedUndef)


def check_supported(e) -> None:
    """Raise Unevaluable naming the first node the evaluator has no rule for."""
    if e.is_Number or isinstance(e, sp.NumberSymbol):
        if e is sp.nan or e in (sp.oo, -sp.oo, sp.zoo):
            raise Unevaluable(f"cannot evaluate {e}")
        return
    if isinstance(e, sp.Function) and e.func in _FUNCS:
        pass
    elif not isinstance(e, _SUPPORTED):
        raise Unevaluable(f"cannot evaluate {type(e).__name__}")
    if isinstance(e, sp.Derivative):
        check_supported(e.expr)
        return
    for a in e.args:
        if isinstance(a, sp.Basic):
            check_supported(a)
