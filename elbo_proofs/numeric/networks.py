"""Linear-Gaussian Bayesian networks: concrete models for densities over several variables.

A density letter gets a network when the Context declares a factorization of one of its joints into
factors of the same letter (``p(x, z1, z2): p(z2) p(z1|z2) p(x|z1)``, ``Context.network``); only a
declaration makes a network (p(x, z_1) next to p(x, z) may be the same density written with a
draw of z, so variables are never guessed from names).  Each variable v of the network is

    v = sum_u w_vu u + b_v + e_v,   e_v ~ N(0, s2_v),

over its parents u (variables of the network or given variables of the joint, the inputs), so the
joint of the variables given the inputs is Gaussian: mean T (b + W_g g) and covariance T S T^T with
T = (I - W)^-1.  Every density of the letter over these variables, name(A | B), is the exact
Gaussian conditional of A given B (and the inputs): its log-density in closed form, and
expectations under it on a quadrature grid of the conditional (the trapezoid rule for one
variable, a Gauss-Hermite product grid through the Cholesky factor for several), so marginals,
conditionals, posteriors, entropies and KL divergences are exact Gaussian algebra.  A density that
leaves out an input must not depend on it in the network (q(z2|z1) declared in q(z1, z2|x) = q(z1|x)
q(z2|z1) does not); one that would is not evaluable.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from ..terms import Context, Density
from .evaluate import NumericFailure, Unevaluable, Vec, gaussian_nodes, normal_grid

# a weight or an offset is exactly 0 in about half the models (sparser networks: independences
# beyond the declared ones, and densities concentrated where the drawn values are)
_WEIGHT = st.one_of(st.just(0.0), st.floats(-1.5, 1.5, allow_nan=False, allow_infinity=False))
_OFFSET = st.one_of(st.just(0.0), st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False))
# noise variances from 0.01, in about half the models below 0.1, so that densities above 1 (positive
# log-densities) are common
_NOISE = st.one_of(st.floats(0.01, 0.1, allow_nan=False, allow_infinity=False),
                   st.floats(0.01, 2.25, allow_nan=False, allow_infinity=False))
MAX_NETWORK = 8          # variables of one network


@dataclass(frozen=True)
class NetworkPlan:
    name: str                 # the density letter
    order: tuple              # variable names, parents first
    given: tuple              # input names
    parents: tuple            # ((variable, (parent names...)), ...) in order

    def parents_of(self, v: str) -> tuple:
        return dict(self.parents)[v]


def _names(vs) -> tuple:
    out = []
    for v in vs:
        if not isinstance(v, sp.Symbol):
            raise Unevaluable(f"a network variable must be a scalar variable, not {v}")
        out.append(v.name)
    return tuple(out)


def plan_networks(densities, ctx: Context) -> dict:
    """{letter: NetworkPlan} for the letters of ``densities`` that get a network (see above)."""
    plans = {}
    letters = sorted({d.name for d in densities if isinstance(d, Density)})
    for name in letters:
        net = ctx.network(name)
        if net is None:
            continue
        order, given, parents = net
        plan = NetworkPlan(name, _names(order), _names(given),
                           tuple((v.name, _names(parents.get(v, ()))) for v in order))
        if len(plan.order) > MAX_NETWORK:
            raise Unevaluable(f"a network of {len(plan.order)} variables (at most {MAX_NETWORK})")
        for v in plan.order + plan.given:
            if ctx.is_vector(v):
                raise Unevaluable(f"{v} is a vector; network variables are scalars")
        for d in ctx.families:
            if getattr(d, "name", None) == name:
                raise Unevaluable(f"{d} has a declared family inside the network of {name}")
        plans[name] = plan
    return plans


def draw_network(draw, plan: NetworkPlan) -> "Network":
    """Hypothesis: the coefficients of a network (weights shrink to 0, noise variances to 1)."""
    weights = {}
    for v, pa in plan.parents:
        for u in pa:
            weights[(v, u)] = draw(_WEIGHT)
    offsets = {v: draw(_OFFSET) for v in plan.order}
    noise = {v: draw(_NOISE) for v in plan.order}
    return Network(plan, weights, offsets, noise)


class Network:
    """A drawn linear-Gaussian network (see the module's docstring)."""

    def __init__(self, plan: NetworkPlan, weights: dict, offsets: dict, noise: dict):
        self.plan = plan
        self.weights = weights
        self.offsets = offsets
        self.noise = noise
        n, order = len(plan.order), plan.order
        self.index = {v: i for i, v in enumerate(order)}
        self.inputs = {g: k for k, g in enumerate(plan.given)}
        W = np.zeros((n, n))
        Wg = np.zeros((n, len(plan.given)))
        for (v, u), w in weights.items():
            if u in self.index:
                W[self.index[v], self.index[u]] = w
            else:
                Wg[self.index[v], self.inputs[u]] = w
        T = np.linalg.inv(np.eye(n) - W)
        self.T = T
        self.mean0 = T @ np.array([offsets[v] for v in order])      # mean at inputs 0
        self.gain = T @ Wg                                           # d mean / d inputs
        self.cov = T @ np.diag([noise[v] for v in order]) @ T.T

    # -- presentation ------------------------------------------------------------
    def values(self) -> dict:
        out = {}
        name = self.plan.name
        for v, pa in self.plan.parents:
            label = f"{name}({v}|{', '.join(pa)})" if pa else f"{name}({v})"
            for u in pa:
                out[f"{label} weight of {u}"] = float(self.weights[(v, u)])
            out[f"{label} offset"] = float(self.offsets[v])
            out[f"{label} variance"] = float(self.noise[v])
        return out

    def describe(self) -> str:
        parts = []
        for v, pa in self.plan.parents:
            mean = " + ".join([f"w {u}" for u in pa] + ["b"])
            parts.append(f"{self.plan.name}({v}{'|' + ', '.join(pa) if pa else ''}) = N({v}; {mean}, s2)")
        return "linear-Gaussian network " + ", ".join(parts)

    def _depends_on_input(self, A, B, k) -> bool:
        """Whether the mean of A given B depends on input k in the network's structure: in a copy with
        generic weights (drawn once, none 0), not in this draw (whose weights may be 0)."""
        generic = getattr(self, "_generic", None)
        if generic is None:
            rng = np.random.default_rng(0)
            weights = {key: float(rng.uniform(0.5, 1.5)) for key in self.weights}
            generic = Network(self.plan, weights, {v: 0.0 for v in self.plan.order},
                              {v: float(rng.uniform(0.5, 1.5)) for v in self.plan.order})
            generic._generic = generic
            self._generic = generic
        a = [generic.index[v] for v in A]
        b = [generic.index[v] for v in B]
        coef = generic.gain[a, k]
        if b:
            S = generic.cov
            K = S[np.ix_(a, b)] @ np.linalg.inv(S[np.ix_(b, b)])
            coef = coef - K @ generic.gain[b, k]
        return bool(np.any(np.abs(coef) > 1e-9))

    # -- Gaussian algebra ----------------------------------------------------------
    def conditional(self, A, B, inputs: dict):
        """(means of A as arrays, covariance of A) given B (names of variables with values) and the
        inputs (name -> value; an input left out must not matter)."""
        a = [self.index[v] for v in A]
        b = [self.index[v] for v in B]
        S = self.cov
        if b:
            Sbb = S[np.ix_(b, b)]
            K = S[np.ix_(a, b)] @ np.linalg.inv(Sbb)
            C = S[np.ix_(a, a)] - K @ S[np.ix_(b, a)]
        else:
            K = np.zeros((len(a), 0))
            C = S[np.ix_(a, a)]
        coef = self.gain[a, :] - K @ self.gain[b, :] if b else self.gain[a, :]
        base = self.mean0[a] - (K @ self.mean0[b] if b else 0.0)
        means = []
        for i in range(len(a)):
            m = float(base[i])
            for g, k in self.inputs.items():
                c = float(coef[i, k])
                if g in inputs:
                    m = m + c * inputs[g]
                elif self._depends_on_input(A, B, k):
                    raise Unevaluable(f"{self.plan.name}({', '.join(A)}|{', '.join(B)}) leaves out {g}, "
                                      f"on which it depends in the network")
            for j in range(len(b)):
                m = m + K[i, j] * inputs["\0" + B[j]]
            means.append(m)
        return means, C

    def _split(self, ev, d: Density, env):
        A = _names(d.vars)
        B_all = _names(d.given)
        for v in A:
            if v not in self.index:
                raise Unevaluable(f"{d}: {v} is not a variable of the network of {self.plan.name}")
        B = tuple(v for v in B_all if v in self.index)
        values = {}
        for g in B_all:
            if g not in self.index and g not in self.inputs:
                raise Unevaluable(f"{d}: {g} is not a variable of the network of {self.plan.name}")
        for s, n in zip(d.given, B_all):
            val = ev.var_value(s, env)
            if isinstance(val, Vec):
                raise Unevaluable(f"{d}: {n} is a vector; network variables are scalars")
            values[n if n in self.inputs else "\0" + n] = val
        if set(A) & set(B):
            raise Unevaluable(f"{d} is conditioned on its own variable")
        return A, B, values

    def log_density(self, ev, d: Density, env):
        A, B, values = self._split(ev, d, env)
        means, C = self.conditional(A, B, values)
        xs = [np.asarray(ev.var_value(v, env), dtype=float) for v in d.vars]
        try:
            P = np.linalg.inv(C)
            sign, logdet = np.linalg.slogdet(2 * np.pi * C)
        except np.linalg.LinAlgError as exc:
            raise NumericFailure(f"singular covariance of {d}") from exc
        if sign <= 0:
            raise NumericFailure(f"covariance of {d} is not positive definite")
        r = [x - m for x, m in zip(xs, means)]
        quad = 0.0
        for i in range(len(r)):
            for j in range(len(r)):
                quad = quad + P[i, j] * r[i] * r[j]
        return -0.5 * logdet - 0.5 * quad

    def gaussian_params(self, ev, d: Density, env):
        """(means, variances) of a density of one variable; None for several (they are correlated)."""
        if len(d.vars) != 1:
            return None
        A, B, values = self._split(ev, d, env)
        means, C = self.conditional(A, B, values)
        return [means[0]], [float(C[0, 0])]

    def measure(self, ev, d: Density, env):
        A, B, values = self._split(ev, d, env)
        means, C = self.conditional(A, B, values)
        if len(A) == 1:
            nodes, w = gaussian_nodes([means[0]], [float(C[0, 0])], env)
            return {A[0]: nodes[0]}, w
        try:
            L = np.linalg.cholesky(C)
        except np.linalg.LinAlgError as exc:
            raise NumericFailure(f"covariance of {d} is not positive definite") from exc
        t, w = normal_grid(len(A), env)
        binds = {}
        for i, v in enumerate(A):
            node = means[i]
            for j in range(i + 1):
                node = node + L[i, j] * t[j]
            binds[v] = node
        return binds, w
