"""Concrete models drawn by Hypothesis for the numeric cross-check.

`make_plan` reads a step (both sides) and its Context and decides what must be
drawn: a value for every free symbol by its declared kind, an array for every
vector, and a concrete joint model for the abstract densities:

* p densities (p, P, p_theta: one role) form one generative model over an
  observed variable x and a latent z: prior p(z), likelihood p(x|z), evidence
  p(x), joint p(x, z) and posterior p(z|x), consistent with Bayes' rule.
  - "linear-Gaussian": p(z) = prod_i N(z_i; m0_i, v0_i),
    p(x|z) = prod_k N(x_k; a_k z_{c(k)} + b_k, s2_k) with c(k) = k mod dim z;
    evidence and posterior in closed form.
  - "Bernoulli decoder": same prior, p(x|z) = prod_k Bernoulli(x_k; sigmoid(w_k
    z_{c(k)} + c_k)) on binary x; evidence by Gauss-Hermite quadrature over the
    prior, posterior = p(x|z) p(z) / p(x).  Used when x is binary, a Bernoulli
    term appears, or an opaque decoder function of z (x_hat_j) is declared; the
    decoder function is then the model's own sigmoid(w_j z + c_j).
  - "declared likelihood": p(x|z) has a declared family; the prior is drawn
    (or declared) and evidence/posterior come from quadrature over the prior.
  A declared p(z) family is used as the prior of the model.
* q densities (q, Q, with any conditioning) are one Gaussian per variable:
  prod_i N(m_i, v_i).  Other abstract names (r, q_1, p_i, pi) each get their own
  Gaussian.
* opaque functions f_j(z) are sigmoid(w_j * z + c_j) with drawn w, c.

Assumptions of the Context (``beta >= 1``, ``a > b``, ``q_k > 0``) are respected:
a parameter an assumption ties to a drawn one is drawn too; each value is drawn
inside the range its kind and the assumptions' bounds leave (``conditions.interval``,
bounds on other parameters drawn first), and a model where some assumption fails
(``conditions.holds``) is rejected, so a counterexample never violates one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from hypothesis import assume as _hypothesis_assume
from hypothesis import strategies as st
from . import special

from ..terms import KL, Bernoulli, Context, Density, Entropy, Expectation, Normal, SampleExpectation, Variance
from ..terms import conditions
from ..terms.densities import density_vars
from .evaluate import NODE_BUDGET, Env, NumericFailure, Unevaluable, Vec, find_family, gaussian_nodes, normal_grid
from .networks import draw_network, plan_networks
from .quadrature import binary_grid, lead

# value ranges per declared kind
KIND_STRATEGIES = {
    "real": st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False),
    "positive": st.floats(0.3, 2.5, allow_nan=False, allow_infinity=False),
    "nonnegative": st.floats(0.0, 2.5, allow_nan=False, allow_infinity=False),
    "probability": st.floats(0.05, 0.95, allow_nan=False, allow_infinity=False),
    "binary": st.integers(0, 1),
    "positive integer": st.integers(1, 4),
    "integer": st.integers(-3, 3),
}
LATENT_INITIALS = set("zZhHwWuU")
LATENT_NAMES = {"theta", "t", "eps", "epsilon", "latent"}
OBSERVED_INITIALS = set("xXyY")
MAX_DIM = 16

LINEAR_GAUSSIAN = "linear-Gaussian"
BERNOULLI = "Bernoulli decoder"
DECLARED_LIKELIHOOD = "declared likelihood"
NO_MODEL = "declared"


def _kind_of(sym, ctx: Context) -> str:
    name = sym.name
    kind = ctx.kinds.get(name)
    if kind is None:
        if sym.is_integer and sym.is_positive:
            kind = "positive integer"
        elif sym.is_integer:
            kind = "integer"
        elif sym.is_positive:
            kind = "positive"
        else:
            kind = "real"
    return kind


# -- walking terms -----------------------------------------------------------------

def role_of(arg) -> str:
    """The variable a density argument stands for: z for z and for the sample z_l."""
    if isinstance(arg, sp.Symbol):
        return arg.name
    if isinstance(arg, sp.Indexed):
        return arg.base.label.name
    raise Unevaluable(f"density argument {arg} is not a variable")


class _Free:
    """Free names of terms: scalars (symbol use), vectors (indexed use), densities, functions."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.scalars: dict[str, sp.Symbol] = {}
        self.vectors: set[str] = set()
        self.densities: list = []
        self.functions: set[str] = set()
        self.bernoulli = False
        self.symbol_role_use: set[str] = set()   # roles used as whole symbols in densities

    def merge(self, other: "_Free") -> None:
        """Add the free names another walk found (densities excepted)."""
        for n, sym in other.scalars.items():
            self.scalars.setdefault(n, sym)
        self.vectors |= other.vectors
        self.functions |= other.functions
        self.bernoulli |= other.bernoulli

    def walk(self, e, bound=frozenset()):
        if isinstance(e, sp.Symbol):
            if e.name not in bound:
                if e.name in self.ctx.vectors and (e.name not in self.ctx.samples
                                                   or _declared_dim(e.name, self.ctx) is not None):
                    self.vectors.add(e.name)
                else:
                    self.scalars.setdefault(e.name, e)
            return
        if isinstance(e, sp.Indexed):
            if e.base.label.name not in bound:
                self.vectors.add(e.base.label.name)
            for i in e.indices:
                self.walk(i, bound)
            return
        if isinstance(e, sp.IndexedBase):
            return
        if isinstance(e, (Expectation, Variance)) and self.ctx.over_samples(e):
            # over the draws z_l of a declared sample: the draws are what is random
            self.walk(e.args[0], bound)
            self.walk(e.args[2], bound | {role_of(v) for v in density_vars(e.args[2])})
            return
        if isinstance(e, (Expectation, Variance)):
            f, var, dist = e.args
            names = {v.name for v in var} if isinstance(var, sp.Tuple) else {role_of(var)}
            names |= {role_of(v) for v in density_vars(dist)}
            self.walk(f, bound | names)
            self.walk(dist, bound | names)
            return
        if isinstance(e, SampleExpectation):
            names = {e.var.name} | {role_of(v) for v in density_vars(e.dist)}
            self.walk(e.function, bound | names)
            self.walk(e.dist, bound | names)
            self.walk(e.lower, bound)
            self.walk(e.upper, bound)
            return
        if isinstance(e, (KL, Entropy)):
            names = {role_of(v) for v in density_vars(e.args[0])}
            for a in e.args:
                self.walk(a, bound | names)
            return
        if isinstance(e, (sp.Sum, sp.Product, sp.Integral)):
            names = {lim[0].name for lim in e.limits}
            for lim in e.limits:
                for x in lim[1:]:
                    self.walk(x, bound)
            self.walk(e.function, bound | names)
            return
        if isinstance(e, Density):
            self.densities.append(e)
            for a in e.vars + e.given:
                if isinstance(a, sp.Symbol):
                    self.symbol_role_use.add(a.name)
                self.walk(a, bound)
            return
        if isinstance(e, Bernoulli):
            self.bernoulli = True
        if isinstance(e, sp.core.function.AppliedUndef):
            self.functions.add(type(e).__name__)
        for a in e.args:
            if isinstance(a, sp.Basic):
                self.walk(a, bound)


@dataclass
class Plan:
    context: Context
    scalars: list = field(default_factory=list)      # (name, kind)
    vectors: list = field(default_factory=list)      # (name, dim expr, kind)
    indices: list = field(default_factory=list)      # (name, lo expr, hi expr) free index symbols
    kind: str = NO_MODEL
    latent: str | None = None
    observed: str | None = None
    latent_dim: sp.Expr = sp.Integer(1)
    observed_dim: sp.Expr = sp.Integer(1)
    latent_is_vector: bool = False
    observed_is_vector: bool = False
    prior_family: object = None
    likelihood_family: object = None
    gaussians: list = field(default_factory=list)    # (key, label, dim expr, is_vector)
    functions: list = field(default_factory=list)
    decoder_functions: set = field(default_factory=set)
    sample_names: set = field(default_factory=set)
    indexed_keys: dict = field(default_factory=dict)  # Gaussian key -> index symbol (q_i)
    networks: dict = field(default_factory=dict)      # density letter -> NetworkPlan (networks.py)
    posterior_letter: str | None = None               # a model letter with a network: q may be its posterior
    # Gaussian key -> the declared parameters of its density (parameters: {q: [theta]}): its mean and
    # variance move with them
    parameter_keys: dict = field(default_factory=dict)
    # the declared parameters of the model's p densities that the step differentiates with respect to:
    # the prior's mean and variance and the likelihood's offset move with them
    model_parameters: tuple = ()


def _declared_dim(name: str, ctx: Context):
    """Dimension of a variable that a declared product family (prod over j of N(z_j; ...)) is over."""
    for key, fam in ctx.families.items():
        if isinstance(fam, sp.Product) and any(isinstance(v, sp.Symbol) and v.name == name for v in key.vars):
            f = fam.function
            if isinstance(f, (Normal, Bernoulli)) and isinstance(f.args[0], sp.Indexed) \
                    and f.args[0].base.label.name == name:
                (_, lo, hi), = fam.limits
                return sp.sympify(hi) - sp.sympify(lo) + 1
    return None


def _vector_dim(name: str, ctx: Context, estimator: bool):
    """Dimension a drawn vector gets: a sample name over a declared vector density (z_l ~ q(z|x)
    with z in R^K) is drawn as that vector outside estimator steps; other vectors as declared."""
    if name in ctx.samples and not estimator:
        declared = _declared_dim(name, ctx)
        if declared is not None:
            return declared
    return ctx.vectors[name][1]


def _role_dim(name: str, free: _Free, ctx: Context):
    declared = _declared_dim(name, ctx)
    if declared is not None:
        return declared, True
    if name in ctx.samples:
        return sp.Integer(1), False
    if name in ctx.vectors and name in free.symbol_role_use:
        return ctx.vectors[name][1], True
    return sp.Integer(1), False


def _arg_role(a, ctx: Context) -> str:
    """Role of a density argument in a Gaussian's key: z, or z[] for one component z_j of z
    (a sample z_l is the variable z itself)."""
    if isinstance(a, sp.Indexed) and a.base.label.name not in ctx.samples:
        return a.base.label.name + "[]"
    return role_of(a)


def _gaussian_key(d: Density, ctx: Context):
    vars_ = tuple(_arg_role(v, ctx) for v in d.vars)
    if d.name.lower() == "q":
        return ("q",) + vars_
    return (d.name,) + vars_ + ("|",) + tuple(_arg_role(v, ctx) for v in d.given)


def _index_of_name(name: str, ctx: Context):
    """The index symbol a density name is subscripted with (q_i: i), or None."""
    if "_" not in name:
        return None
    sub = name.rsplit("_", 1)[1]
    return sub if sub in ctx.indices else None


PER_INDEX = 4   # q_i, p_i: one Gaussian for each index value 1..4 (repeating beyond)


def _is_latent_name(n: str) -> bool:
    return n[0] in LATENT_INITIALS or n in LATENT_NAMES


def make_plan(exprs, context: Context, estimator: bool = False) -> Plan:
    """What must be drawn to evaluate ``exprs`` under ``context``."""
    ctx = context
    plan = Plan(ctx)
    free = _Free(ctx)
    differentiated = set()
    for e in exprs:
        e = sp.sympify(e)
        free.walk(e)
        differentiated |= {getattr(v, "name", None) for d in e.atoms(sp.Derivative) for v in d.variables}
    # densities with declared families bring the symbols of their families
    seen = set()
    frontier = list(free.densities)
    extra_roots = []
    while frontier:
        d = frontier.pop()
        if d in seen:
            continue
        seen.add(d)
        fam = find_family(ctx, d)
        if fam is not None:
            sub = _Free(ctx)
            sub.walk(fam, frozenset(role_of(v) for v in d.vars + d.given if isinstance(v, sp.Symbol)))
            extra_roots.append(sub)
            frontier.extend(sub.densities)
    for sub in extra_roots:
        free.merge(sub)
    # samples (for estimators), lets and randoms bring theirs
    if estimator:
        for name in list(free.vectors):
            if name in ctx.samples:
                plan.sample_names.add(name)
                _, _, dist = ctx.samples[name]
                sub = _Free(ctx)
                sub.walk(dist, frozenset(role_of(v) for v in density_vars(dist)))
                free.merge(sub)
                free.densities.extend(sub.densities)
                for dd in sub.densities:
                    fam = find_family(ctx, dd)
                    if fam is not None:
                        sub2 = _Free(ctx)
                        sub2.walk(fam, frozenset(role_of(v) for v in dd.vars + dd.given if isinstance(v, sp.Symbol)))
                        free.merge(sub2)
        free.vectors -= plan.sample_names
    lets = {s.name: v for s, v in ctx.lets.items()}
    changed = True
    done = set()
    while changed:
        changed = False
        for name in list(free.scalars):
            if name in lets and name not in done:
                done.add(name)
                sub = _Free(ctx)
                sub.walk(lets[name])
                for n, s in sub.scalars.items():
                    if n not in free.scalars:
                        free.scalars[n] = s
                        changed = True
                free.vectors |= sub.vectors
                free.functions |= sub.functions
    for name in done:
        free.scalars.pop(name, None)
    _assumption_parameters(free, ctx)
    # dimensions of vectors and bounds of free index symbols
    index_names = {s.name: (lo, hi) for s, lo, hi in ctx.indices.values()}
    for name in sorted(free.vectors):
        if name not in ctx.vectors:
            raise Unevaluable(f"{name} is used with an index but is not declared as a vector")
        dim = _vector_dim(name, ctx, estimator)
        for s in sp.sympify(dim).free_symbols:
            free.scalars.setdefault(s.name, s)

    # letters with a network (a declared factorization into factors of the same letter)
    plan.networks = plan_networks([d for d in free.densities if find_family(ctx, d) is None], ctx)
    plan.posterior_letter = next((n for n in sorted(plan.networks) if n in ctx.model_densities), None)
    # the generative model for abstract p densities
    p_abstract, p_declared, others = [], [], []
    for d in free.densities:
        if d.name in plan.networks:
            continue
        fam = find_family(ctx, d)
        if d.name.lower() == "p":
            (p_declared if fam is not None else p_abstract).append(d)
        elif fam is None:
            others.append(d)
    if p_abstract:
        roles = []
        for d in p_abstract:
            for v in d.vars + d.given:
                r = role_of(v)
                if r not in roles:
                    roles.append(r)
        # declared p densities over the same variables (used in the step or not) are part of the model
        candidates = list(dict.fromkeys(p_declared + [k for k in ctx.families if k.name.lower() == "p"]))
        p_declared = []
        changed = True
        while changed:
            changed = False
            for d in candidates:
                d_roles = [role_of(v) for v in d.vars + d.given]
                if d not in p_declared and set(d_roles) & set(roles):
                    p_declared.append(d)
                    roles.extend(r for r in d_roles if r not in roles)
                    changed = True
                    sub = _Free(ctx)
                    fam = find_family(ctx, d)
                    sub.walk(fam, frozenset(r for r in d_roles))
                    free.merge(sub)
        if len(roles) > 2:
            raise Unevaluable(f"p densities over {len(roles)} variables ({', '.join(roles)}); the model has x and z")
        latent = [r for r in roles if _is_latent_name(r)]
        observed = [r for r in roles if r[0] in OBSERVED_INITIALS]
        if len(roles) == 2:
            if len(latent) == 1:
                z = latent[0]
            elif len(observed) == 1:
                z = [r for r in roles if r != observed[0]][0]
            else:
                z = sorted(roles)[1]
            x = [r for r in roles if r != z][0]
        elif latent:
            z, x = roles[0], ("x" if roles[0] != "x" else "__x")
        else:
            # the latent of a decoder declared as a function of it (x_hat depends on z), else z
            declared = [role_of(a) for args in ctx.functions.values() for a in args
                        if isinstance(a, (sp.Symbol, sp.Indexed))]
            z = next((r for r in declared if r != roles[0]), "z" if roles[0] != "z" else "__z")
            x = roles[0]
        plan.latent, plan.observed = z, x
        plan.latent_dim, plan.latent_is_vector = _role_dim(z, free, ctx)
        plan.observed_dim, plan.observed_is_vector = _role_dim(x, free, ctx)
        for d in p_declared:
            vs = tuple(role_of(v) for v in d.vars)
            gs = tuple(role_of(v) for v in d.given)
            fam = find_family(ctx, d)
            if vs == (z,) and not gs:
                plan.prior_family = fam
            elif vs == (x,) and gs == (z,):
                plan.likelihood_family = fam
            else:
                raise Unevaluable(f"declared {d} together with abstract p densities is not supported")
        # an opaque function of the latent alone (x_hat_j(z)) is the decoder of a Bernoulli model
        decoders = {f for f, args in ctx.functions.items()
                    if tuple(role_of(v) for v in args if isinstance(v, (sp.Symbol, sp.Indexed))) == (z,)}
        x_kind = ctx.kinds.get(x)
        if plan.likelihood_family is not None:
            plan.kind = DECLARED_LIKELIHOOD
        elif free.bernoulli or decoders or x_kind == "binary":
            plan.kind = BERNOULLI
            plan.decoder_functions = decoders
        else:
            plan.kind = LINEAR_GAUSSIAN
    keys = {}
    for d in others:
        key = _gaussian_key(d, ctx)
        if key in keys:
            continue
        role = role_of(d.vars[0]) if len(d.vars) == 1 else None
        if role is None:
            raise Unevaluable(f"abstract density {d} over several variables")
        if key[1].endswith("[]"):
            dim, is_vec = sp.Integer(1), False
        else:
            dim, is_vec = _role_dim(role, free, ctx)
        label = str(d) if key[0] != "q" else f"q({role})"
        index = _index_of_name(d.name, ctx)
        if index is not None:
            plan.indexed_keys[key] = index
            label = f"{d} with {index}="
        keys[key] = (key, label, dim, is_vec)
        # a declared parameter moves the density only where the step differentiates with respect
        # to it (elsewhere q_theta is just some Gaussian, and theta need not be drawn)
        params = tuple(getattr(t, "name", str(t)) for t in ctx.parameters.get(d.name, ())
                       if getattr(t, "name", None) in differentiated)
        if params:
            plan.parameter_keys[key] = tuple(dict.fromkeys(plan.parameter_keys.get(key, ()) + params))
            for t in ctx.parameters.get(d.name, ()):
                if t.name in params:
                    free.scalars.setdefault(t.name, t)
    plan.gaussians = list(keys.values())
    if plan.kind != NO_MODEL:
        moving = [t for name in ctx.model_densities for t in ctx.parameters.get(name, ())
                  if t.name in differentiated]
        plan.model_parameters = tuple(dict.fromkeys(t.name for t in moving))
        for t in moving:
            free.scalars.setdefault(t.name, t)
    plan.functions = sorted(free.functions)

    # dimensions the model needs are drawn too
    for dim in [plan.latent_dim, plan.observed_dim] + [g[2] for g in plan.gaussians]:
        for s in sp.sympify(dim).free_symbols:
            free.scalars.setdefault(s.name, s)

    # what to draw
    for name in sorted(free.scalars):
        sym = free.scalars[name]
        if name in index_names:
            plan.indices.append((name,) + index_names[name])
            continue
        kind = _kind_of(sym, ctx)
        if plan.kind == BERNOULLI and name == plan.observed:
            kind = "binary"
        plan.scalars.append((name, kind))
    for name in sorted(free.vectors):
        kind = _kind_of(sp.Symbol(name, real=True), ctx)
        if plan.kind == BERNOULLI and name == plan.observed:
            kind = "binary"
        plan.vectors.append((name, _vector_dim(name, ctx, estimator), kind))
    return plan


def _assumption_parameters(free: _Free, ctx: Context) -> None:
    """Add the parameters that an assumption ties to a drawn parameter (a >= b with a drawn: b too)."""
    changed = bool(ctx.assumptions)
    while changed:
        changed = False
        for a in ctx.assumptions:
            names = conditions.parameter_names(a.gap)
            present = {n for n in names if n in free.scalars or n in free.vectors}
            if not present:
                continue
            for n in sorted(names - present):
                if n in ctx.vectors:
                    free.vectors.add(n)
                elif n in ctx.symbols:
                    free.scalars[n] = ctx.symbols[n]
                else:
                    continue
                changed = True


# -- the concrete model -------------------------------------------------------------

def _dim_value(expr, scalars) -> int:
    expr = sp.sympify(expr)
    v = expr.xreplace({s: sp.Float(scalars[s.name]) for s in expr.free_symbols if s.name in scalars})
    if v.free_symbols:
        raise Unevaluable(f"dimension {expr} has no value")
    n = float(v)
    if abs(n - round(n)) > 1e-9 or not 1 <= round(n) <= MAX_DIM:
        raise Unevaluable(f"dimension {expr} = {n:g} is not an integer in 1..{MAX_DIM}")
    return int(round(n))


def _is_fixed(v) -> bool:
    """A value without node axes (a number, or a vector of numbers)."""
    if isinstance(v, Vec):
        return all(_is_fixed(c) for c in v.comps)
    return np.ndim(v) == 0


_EDGE = 2.0 ** -50


def _unit(u):
    """sigmoid(u), kept inside (0, 1) so that log(1 - f) stays finite at far quadrature nodes."""
    return np.clip(special.expit(u), _EDGE, 1 - _EDGE)


def _softplus(u):
    return np.logaddexp(0.0, u)


@dataclass
class ConcreteModel:
    plan: Plan
    scalars: dict
    vectors: dict
    params: dict = field(default_factory=dict)       # generative model: prior_mean, prior_var, a, b, s2, w, c
    gaussians: dict = field(default_factory=dict)    # key -> (means, variances)
    # key -> {parameter: (slopes of the means, slopes of the log-variances)} for densities declared
    # with parameters: mean = m + a theta, variance = v exp(b theta)
    slopes: dict = field(default_factory=dict)
    # parameter -> {"prior_mean" | "prior_var" | "b": slopes} for the model's declared parameters
    model_slopes: dict = field(default_factory=dict)
    functions: dict = field(default_factory=dict)    # name -> (w, c)
    d: int = 1
    D: int = 1
    used: set = field(default_factory=set)           # (key, row) / (function, slot) looked up
    networks: dict = field(default_factory=dict)     # density letter -> Network (networks.py)
    q_is_posterior: bool = False                     # q densities are the network's exact conditionals

    # -- presentation ----------------------------------------------------------
    @property
    def name(self) -> str:
        p = self.plan
        nets = "".join(f", {n}: {net.describe()}" for n, net in sorted(self.networks.items()))
        if self.q_is_posterior:
            nets += f", q is the exact posterior of {p.posterior_letter}"
        if p.kind == NO_MODEL:
            return "declared families" + (", Gaussian q" if p.gaussians else "") + nets
        prior = "declared p(z)" if p.prior_family is not None else "p(z) = N(m0, v0)"
        lik = {LINEAR_GAUSSIAN: "p(x|z) = N(x; a z + b, s2)",
               BERNOULLI: "p(x|z) = prod_k Bernoulli(x_k; sigmoid(w_k z + c_k))",
               DECLARED_LIKELIHOOD: "declared p(x|z)"}[p.kind]
        return f"{p.kind} model: {prior}, {lik}, p(x) and p(z|x) by Bayes' rule" + \
            (", Gaussian q" if p.gaussians else "") + nets

    def values(self, used_only: bool = False) -> dict[str, float]:
        """Every drawn number by name.  ``used_only``: of the per-index Gaussians (q_i) and the
        opaque functions, only the rows and slots the last evaluations looked up."""
        used = self.used if used_only else None
        out: dict[str, float] = {}
        for name, v in self.scalars.items():
            out[name] = float(v)
        for name, arr in self.vectors.items():
            for i, v in enumerate(arr, start=1):
                out[f"{name}_{i}"] = float(v)
        z, x = self.plan.latent, self.plan.observed
        labels = {"prior_mean": f"p({z}) mean", "prior_var": f"p({z}) variance",
                  "a": f"p({x}|{z}) weight a", "b": f"p({x}|{z}) offset b", "s2": f"p({x}|{z}) variance s2",
                  "w": f"p({x}|{z}) weight w", "c": f"p({x}|{z}) offset c"}
        for key, arr in self.params.items():
            for i, v in enumerate(arr, start=1):
                out[labels.get(key, key) + (f" {i}" if len(arr) > 1 else "")] = float(v)
        if self.plan.posterior_letter is not None and self.plan.gaussians:
            out[f"q is the posterior of {self.plan.posterior_letter}"] = float(self.q_is_posterior)
        for key, label, _, _ in self.plan.gaussians:
            if self.q_is_posterior and key[0] == "q":
                continue   # not used: q is the network's conditional
            m, v = self.gaussians[key]
            if key in self.plan.indexed_keys:
                for r in range(m.shape[0]):
                    if used is not None and (key, r) not in used:
                        continue
                    for i in range(m.shape[1]):
                        suffix = f" {i + 1}" if m.shape[1] > 1 else ""
                        out[f"{label}{r + 1} mean{suffix}"] = float(m[r, i])
                        out[f"{label}{r + 1} variance{suffix}"] = float(v[r, i])
                continue
            for i in range(len(m)):
                suffix = f" {i + 1}" if len(m) > 1 else ""
                out[f"{label} mean{suffix}"] = float(m[i])
                out[f"{label} variance{suffix}"] = float(v[i])
        for _, net in sorted(self.networks.items()):
            out.update(net.values())
        for key, label, _, _ in self.plan.gaussians:
            for name, (a, b) in self.slopes.get(key, {}).items():
                for i in range(len(a)):
                    suffix = f" {i + 1}" if len(a) > 1 else ""
                    out[f"{label} mean slope in {name}{suffix}"] = float(a[i])
                    out[f"{label} log-variance slope in {name}{suffix}"] = float(b[i])
        for name, per in self.model_slopes.items():
            for key, arr in per.items():
                for i, v in enumerate(arr, start=1):
                    out[f"{labels.get(key, key)} slope in {name}" + (f" {i}" if len(arr) > 1 else "")] = float(v)
        for name, (w, c) in self.functions.items():
            for i in range(len(w)):
                if used is not None and (name, i) not in used:
                    continue
                out[f"{name} weight {i + 1}"] = float(w[i])
                out[f"{name} offset {i + 1}"] = float(c[i])
        return out

    def env(self, extra_vectors=None, depth=0, size=1) -> Env:
        drawn_v = {name: Vec([float(x) for x in arr]) for name, arr in self.vectors.items()}
        if extra_vectors:
            drawn_v.update(extra_vectors)
        return Env(dict(self.scalars), drawn_v, depth, size=size)

    # -- helpers ---------------------------------------------------------------
    def _comps(self, value, dim: int, what: str):
        if isinstance(value, Vec):
            if len(value) != dim:
                raise NumericFailure(f"{what} has {len(value)} components, the model has {dim}")
            return list(value.comps)
        if dim != 1:
            raise Unevaluable(f"{what} is a scalar but the model's variable has {dim} components")
        return [value]

    def _pack(self, comps, is_vector: bool):
        return Vec(comps) if is_vector else comps[0]

    def _param(self, key, ev, env):
        """A parameter of the generative model, moved by the declared parameters of p (mean and offset
        by a theta, variance times exp(b theta)) where the step differentiates with respect to them."""
        value = self.params[key]
        if not self.model_slopes:
            return value
        out = [x for x in value]
        for name, per in self.model_slopes.items():
            if key not in per:
                continue
            t = ev.scalar(sp.Symbol(name, real=True), env)
            if key == "prior_var":
                out = [x * np.exp(s * t) for x, s in zip(out, per[key])]
            else:
                out = [x + s * t for x, s in zip(out, per[key])]
        return out

    def _prior(self, ev, env):
        fam = self.plan.prior_family
        if fam is None:
            return list(self._param("prior_mean", ev, env)), list(self._param("prior_var", ev, env))
        gp = ev.gaussian_params(fam, env)
        if gp is None:
            raise Unevaluable(f"declared prior {fam} is not Gaussian")
        m, v = gp
        if len(m) != self.d:
            raise NumericFailure("declared prior has the wrong dimension")
        return m, v

    def _log_prior(self, ev, env, zs):
        m, v = self._prior(ev, env)
        total = 0.0
        for zi, mi, vi in zip(zs, m, v):
            total = total + (-0.5 * np.log(2 * np.pi * vi) - (zi - mi) ** 2 / (2 * vi))
        return total

    def _log_lik(self, ev, env, xs, zs):
        p = self.plan
        if p.kind == LINEAR_GAUSSIAN:
            a, b, s2 = self.params["a"], self._param("b", ev, env), self.params["s2"]
            total = 0.0
            for k in range(self.D):
                mean = a[k] * zs[k % self.d] + b[k]
                total = total + (-0.5 * np.log(2 * np.pi * s2[k]) - (xs[k] - mean) ** 2 / (2 * s2[k]))
            return total
        if p.kind == BERNOULLI:
            w, c = self.params["w"], self.params["c"]
            total = 0.0
            for k in range(self.D):
                u = w[k] * zs[k % self.d] + c[k]
                total = total - xs[k] * _softplus(-u) - (1 - xs[k]) * _softplus(u)
            return total
        inner = env.bind({p.observed: self._pack(xs, p.observed_is_vector),
                          p.latent: self._pack(zs, p.latent_is_vector)})
        return ev.log_density(p.likelihood_family, inner)

    def _posterior_gaussian(self, ev, env, xs):
        """Closed-form posterior of the linear-Gaussian model: per coordinate (means, variances)."""
        m0, v0 = self._prior(ev, env)
        a, b, s2 = self.params["a"], self._param("b", ev, env), self.params["s2"]
        prec = [1.0 / v0[i] for i in range(self.d)]
        lin = [m0[i] / v0[i] for i in range(self.d)]
        for k in range(self.D):
            i = k % self.d
            prec[i] = prec[i] + a[k] ** 2 / s2[k]
            lin[i] = lin[i] + a[k] * (xs[k] - b[k]) / s2[k]
        return [lin[i] / prec[i] for i in range(self.d)], [1.0 / prec[i] for i in range(self.d)]

    def _prior_grid(self, ev, env):
        """Gauss-Hermite product grid under the prior (exact for polynomials in z)."""
        m0, v0 = self._prior(ev, env)
        t, w = normal_grid(self.d, env)
        if any(np.any(np.asarray(v) <= 0) for v in v0):
            raise NumericFailure("non-positive prior variance")
        return [m0[i] + np.sqrt(v0[i]) * t[i] for i in range(self.d)], w

    def _posterior_grid(self, ev, env):
        """Prior quadrature used for p(x) and p(z|x) where they have no closed form.

        A 1-D latent gets the trapezoid rule on m0 +- 12 sd (2001 nodes, spacing
        0.012 prior sd), accurate even when the likelihood makes the posterior
        several times narrower than the prior; more coordinates get the product
        Gauss-Hermite grid.
        """
        if self.d != 1 or 201 * env.size > NODE_BUDGET:
            return self._prior_grid(ev, env)
        m0, v0 = self._prior(ev, env)
        n = 2001
        while n > 201 and n * env.size > NODE_BUDGET:
            n = (n - 1) // 2 + 1
        t = np.linspace(-12.0, 12.0, n)
        w = np.exp(-t ** 2 / 2)
        w = w / w.sum()
        if np.any(np.asarray(v0[0]) <= 0):
            raise NumericFailure("non-positive prior variance")
        return [m0[0] + np.sqrt(v0[0]) * lead(t, env.depth)], lead(w, env.depth)

    def _log_evidence(self, ev, env, xs):
        if self.plan.kind == LINEAR_GAUSSIAN:
            mean, var = self._posterior_gaussian(ev, env, xs)
            log_post = sum(-0.5 * np.log(2 * np.pi * var[i]) for i in range(self.d))
            return self._log_lik(ev, env, xs, mean) + self._log_prior(ev, env, mean) - log_post
        m0, v0 = self._prior(ev, env)
        if all(_is_fixed(a) for a in list(xs) + list(m0) + list(v0)):
            # x does not vary with the nodes in use: integrate at the top level, with a full grid
            env = Env(env.drawn_s, env.drawn_v, 0,
                      {k: v for k, v in env.bound_s.items() if np.ndim(v) == 0},
                      {k: v for k, v in env.bound_v.items() if _is_fixed(v)})
        nodes, w = self._posterior_grid(ev, env)
        inner = env.push({}, w.shape[0])
        ll = np.asarray(self._log_lik(ev, inner, xs, nodes), dtype=float)
        return special.logsumexp(ll + np.log(w), axis=0)

    # -- the interface the evaluator uses --------------------------------------
    def _as_posterior(self, d: Density):
        """In a model where q is the posterior, the network's density of the same variables given
        the same ones (q(z|x, y) is p(z|x, y)); None otherwise."""
        letter = self.plan.posterior_letter
        if not self.q_is_posterior or letter is None or d.name.lower() != "q" or d.name in self.networks:
            return None
        net = self.networks[letter].plan
        names = [getattr(v, "name", None) for v in d.vars + d.given]
        if any(n is None for n in names) or not {getattr(v, "name", None) for v in d.vars} <= set(net.order) \
                or not set(names) <= set(net.order) | set(net.given):
            return None
        return Density(letter, d.vars, d.given)

    def log_density(self, ev, d: Density, env: Env):
        p = self.plan
        d = self._as_posterior(d) or d
        if d.name in self.networks:
            return self.networks[d.name].log_density(ev, d, env)
        vs = tuple(role_of(v) for v in d.vars)
        gs = tuple(role_of(v) for v in d.given)
        if d.name.lower() != "p":
            m, v = self._gaussian(ev, d, env)
            zs = self._comps(ev.var_value(d.vars[0], env), len(m), str(d.vars[0]))
            total = 0.0
            for zi, mi, vi in zip(zs, m, v):
                total = total + (-0.5 * np.log(2 * np.pi * vi) - (zi - mi) ** 2 / (2 * vi))
            return total
        if p.latent is None:
            raise Unevaluable(f"no model for {d}")
        z, x = p.latent, p.observed
        vals = {role_of(a): ev.var_value(a, env) for a in d.vars + d.given}

        def zs():
            return self._comps(vals[z], self.d, z)

        def xs():
            return self._comps(vals[x], self.D, x)

        if vs == (z,) and not gs:
            return self._log_prior(ev, env, zs())
        if vs == (x,) and gs == (z,):
            return self._log_lik(ev, env, xs(), zs())
        if vs == (x,) and not gs:
            return self._log_evidence(ev, env, xs())
        if set(vs) == {x, z} and len(vs) == 2 and not gs:
            return self._log_lik(ev, env, xs(), zs()) + self._log_prior(ev, env, zs())
        if vs == (z,) and gs == (x,):
            if p.kind == LINEAR_GAUSSIAN:
                mean, var = self._posterior_gaussian(ev, env, xs())
                total = 0.0
                for zi, mi, vi in zip(zs(), mean, var):
                    total = total + (-0.5 * np.log(2 * np.pi * vi) - (zi - mi) ** 2 / (2 * vi))
                return total
            return (self._log_lik(ev, env, xs(), zs()) + self._log_prior(ev, env, zs())
                    - self._log_evidence(ev, env, xs()))
        raise Unevaluable(f"{d} does not fit the model p({x}, {z})")

    def _gaussian(self, ev, d: Density, env: Env):
        """(means, variances) of an abstract q or other-named density; q_i picks the row of i."""
        key = _gaussian_key(d, self.plan.context)
        if key not in self.gaussians:
            raise Unevaluable(f"no model for {d}")
        m, v = self.gaussians[key]
        index = self.plan.indexed_keys.get(key)
        if index is not None:
            i = ev.integer(sp.Symbol(index, integer=True), env)
            self.used.add((key, (i - 1) % PER_INDEX))
            m, v = m[(i - 1) % PER_INDEX], v[(i - 1) % PER_INDEX]
        for name, (a, b) in self.slopes.get(key, {}).items():
            t = ev.scalar(sp.Symbol(name, real=True), env)
            m = [mi + ai * t for mi, ai in zip(m, a)]
            v = [vi * np.exp(bi * t) for vi, bi in zip(v, b)]
        return m, v

    def gaussian_params(self, ev, d: Density, env: Env):
        """(means, variances) when ``d`` is Gaussian in this model, else None."""
        p = self.plan
        d = self._as_posterior(d) or d
        if d.name in self.networks:
            return self.networks[d.name].gaussian_params(ev, d, env)
        if d.name.lower() != "p":
            m, v = self._gaussian(ev, d, env)
            return list(m), list(v)
        vs = tuple(role_of(v) for v in d.vars)
        gs = tuple(role_of(v) for v in d.given)
        if vs == (p.latent,) and not gs:
            return self._prior(ev, env)
        if vs == (p.latent,) and gs == (p.observed,) and p.kind == LINEAR_GAUSSIAN:
            xs = self._comps(ev.var_value(d.given[0], env), self.D, p.observed)
            return self._posterior_gaussian(ev, env, xs)
        return None

    def measure(self, ev, d: Density, env: Env):
        p = self.plan
        d = self._as_posterior(d) or d
        if d.name in self.networks:
            return self.networks[d.name].measure(ev, d, env)
        depth = env.depth
        gp = self.gaussian_params(ev, d, env)
        if gp is not None:
            m, v = gp
            nodes, w = gaussian_nodes(m, v, env)
            role = role_of(d.vars[0])
            if _arg_role(d.vars[0], self.plan.context).endswith("[]"):
                return {role: ev.at_variable(d.vars[0], nodes[0], env)}, w
            is_vec = self.is_vector_role(role, d)
            return {role: self._pack(nodes, is_vec)}, w
        z, x = p.latent, p.observed
        vs = tuple(role_of(v) for v in d.vars)
        gs = tuple(role_of(v) for v in d.given)
        if vs == (z,) and gs == (x,):
            xs = self._comps(ev.var_value(d.given[0], env), self.D, x)
            nodes, w = self._posterior_grid(ev, env)
            ll = np.asarray(self._log_lik(ev, env.push({}, w.shape[0]), xs, nodes), dtype=float)
            logw = ll + np.log(w)
            logw = logw - special.logsumexp(logw, axis=0, keepdims=True)
            return {z: self._pack(nodes, p.latent_is_vector)}, np.exp(logw)
        if vs == (x,) and gs == (z,):
            zs = self._comps(ev.var_value(d.given[0], env), self.d, z)
            nodes, w = self._likelihood_nodes(ev, env, zs)
            return {x: self._pack(nodes, p.observed_is_vector)}, w
        if vs == (x,) and not gs and p.kind == BERNOULLI:
            # binary x: enumerate its 2^D values, weighted by the evidence p(x)
            grid = binary_grid(self.D)
            nodes = [lead(grid[:, k], depth) for k in range(self.D)]
            env_x = env.push({x: self._pack(nodes, p.observed_is_vector)}, len(grid))
            return {x: self._pack(nodes, p.observed_is_vector)}, np.exp(self._log_evidence(ev, env_x, nodes))
        if (vs == (x,) and not gs) or (set(vs) == {x, z} and len(vs) == 2 and not gs):
            znodes, wz = self._prior_grid(ev, env)
            inner = env.push({z: self._pack(znodes, p.latent_is_vector)}, wz.shape[0])
            xnodes, wx = self._likelihood_nodes(ev, inner, znodes)
            arrays = [np.asarray(a, dtype=float) for a in xnodes + znodes + [wx * wz]]
            shape = np.broadcast_shapes(*[a.shape for a in arrays])
            flat = [np.broadcast_to(a, shape).reshape((shape[0] * shape[1],) + shape[2:]) for a in arrays]
            xs_flat, zs_flat, w_flat = flat[:self.D], flat[self.D:self.D + self.d], flat[-1]
            binds = {x: self._pack(xs_flat, p.observed_is_vector)}
            if len(vs) == 2:
                binds[z] = self._pack(zs_flat, p.latent_is_vector)
            return binds, w_flat
        raise Unevaluable(f"cannot take an expectation under {d}")

    def _likelihood_nodes(self, ev, env, zs):
        p = self.plan
        depth = env.depth
        if p.kind == LINEAR_GAUSSIAN:
            a, b, s2 = self.params["a"], self._param("b", ev, env), self.params["s2"]
            t, w = normal_grid(self.D, env)
            nodes = [a[k] * zs[k % self.d] + b[k] + np.sqrt(s2[k]) * t[k] for k in range(self.D)]
            return nodes, w
        if p.kind == BERNOULLI:
            grid = binary_grid(self.D)
            nodes = [lead(grid[:, k], depth) for k in range(self.D)]
            ll = self._log_lik(ev, env, nodes, zs)
            return nodes, np.exp(ll)
        inner = env.bind({p.latent: self._pack(zs, p.latent_is_vector)})
        binds, w = ev.measure(p.likelihood_family, inner)
        if p.observed not in binds:
            raise Unevaluable("declared likelihood is not a density of the observed variable")
        return self._comps(binds[p.observed], self.D, p.observed), w

    def role_dim(self, role):
        """Components of a model variable: k for a vector, 0 for a scalar, None if not a model variable."""
        if any(role in net.plan.order for net in self.networks.values()):
            return 0
        if role in (self.plan.latent, self.plan.observed):
            vec = self.plan.latent_is_vector if role == self.plan.latent else self.plan.observed_is_vector
            return (self.d if role == self.plan.latent else self.D) if vec else 0
        for key, _, _, is_vec in self.plan.gaussians:
            if role in key[1:2]:
                return self.gaussians[key][0].shape[-1] if is_vec else 0
        return None

    def is_vector_role(self, role, d=None):
        """Whether the model's variable ``role`` (of density ``d``, if given) is a vector."""
        if role == self.plan.latent:
            return self.plan.latent_is_vector
        if role == self.plan.observed:
            return self.plan.observed_is_vector
        for key, _, _, is_vec in self.plan.gaussians:
            if (d is not None and key == _gaussian_key(d, self.plan.context)) or (d is None and role in key[1:2]):
                return is_vec
        return False

    def function(self, name, index, inputs):
        k = (index - 1) if index is not None else 0
        if name in self.plan.decoder_functions and "w" in self.params:
            k %= self.D
            zs = self._comps(inputs[0], self.d, "decoder input")
            return _unit(self.params["w"][k] * zs[k % self.d] + self.params["c"][k])
        if name not in self.functions:
            raise Unevaluable(f"no model for the function {name}")
        w, c = self.functions[name]
        k %= len(w)
        self.used.add((name, k))
        s = 0.0
        for v in inputs:
            s = s + (v[(k % len(v)) + 1] if isinstance(v, Vec) else v)
        return _unit(w[k] * s + c[k])


# -- the Hypothesis strategy -------------------------------------------------------------

_REAL = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
_PRIOR_MEAN = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)
_PRIOR_VAR = st.floats(0.5, 2.0, allow_nan=False, allow_infinity=False)
_POS = st.floats(0.3, 2.5, allow_nan=False, allow_infinity=False)
_VAR = st.floats(0.1, 2.25, allow_nan=False, allow_infinity=False)
_NOISE = st.floats(0.01, 2.25, allow_nan=False, allow_infinity=False)
_SLOPE = st.floats(-0.5, 0.5, allow_nan=False, allow_infinity=False)


# the default ranges of KIND_STRATEGIES, to place a range that assumptions move elsewhere
KIND_DRAW_RANGES = {"real": (-2.0, 2.0), "positive": (0.3, 2.5), "nonnegative": (0.0, 2.5),
                    "probability": (0.05, 0.95), "binary": (0, 1), "positive integer": (1, 4), "integer": (-3, 3)}


def _draw_order(scalars, ctx: Context) -> list:
    """The scalars with every parameter that bounds another drawn before it (where there is no cycle)."""
    deps = {name: set() for name, _ in scalars}
    for b in conditions.all_bounds(ctx):
        key = b.atom.name if isinstance(b.atom, sp.Symbol) else None
        if key in deps:
            deps[key] |= conditions.parameter_names(b.value) & set(deps)
    order, done = [], set()
    pending = list(scalars)
    while pending:
        ready = [item for item in pending if deps[item[0]] <= done] or pending[:1]
        for item in ready:
            order.append(item)
            done.add(item[0])
            pending.remove(item)
    return order


def _value_strategy(kind: str, ctx: Context, key, values: dict, component=None):
    """Values of kind ``kind`` inside the range the assumptions leave, given the values drawn so far."""
    rng = conditions.interval(key, ctx, values, component=component)
    if rng is None:
        return st.nothing()
    lo, lo_open, hi, hi_open, integer = rng
    dlo, dhi = KIND_DRAW_RANGES.get(kind, (-2.0, 2.0))
    span = dhi - dlo
    a, b = max(lo, dlo), min(hi, dhi)
    if a > b or a == b and (lo_open and a == lo or hi_open and b == hi):
        # the assumptions move the range outside the default one: a window at their bound
        a, b = (lo, min(hi, lo + span)) if lo >= dhi else (max(lo, hi - span), hi)
    if integer or kind in ("binary", "positive integer", "integer"):
        first = math.floor(a) + 1 if (a == lo and lo_open and float(a).is_integer()) else math.ceil(a)
        last = math.ceil(b) - 1 if (b == hi and hi_open and float(b).is_integer()) else math.floor(b)
        return st.integers(first, last) if first <= last else st.nothing()
    return st.floats(a, b, exclude_min=bool(lo_open and a == lo), exclude_max=bool(hi_open and b == hi),
                     allow_nan=False, allow_infinity=False)


def _floats(draw, strategy, n):
    return np.array([draw(strategy) for _ in range(n)], dtype=float)


def model_strategy(plan: Plan):
    """A Hypothesis strategy for concrete models following ``plan``."""

    ctx = plan.context
    assumed = bool(getattr(ctx, "assumptions", None))

    @st.composite
    def build(draw):
        scalars = {}
        for name, kind in (_draw_order(plan.scalars, ctx) if assumed else plan.scalars):
            scalars[name] = draw(_value_strategy(kind, ctx, (name, None), scalars) if assumed
                                 else KIND_STRATEGIES[kind])
        for name, lo, hi in plan.indices:
            a, b = _dim_value(lo, scalars), _dim_value(hi, scalars)
            scalars[name] = draw(st.integers(a, max(a, b)))
        vectors = {}
        values = dict(scalars)
        for name, dim, kind in plan.vectors:
            n = _dim_value(dim, scalars)
            if assumed:
                comps = []
                for i in range(1, n + 1):
                    comps.append(draw(_value_strategy(kind, ctx, (name, None), values, component=i)))
                    values[f"{name}_{i}"] = comps[-1]
                vectors[name] = np.array(comps, dtype=float)
            else:
                vectors[name] = np.array([draw(KIND_STRATEGIES[kind]) for _ in range(n)], dtype=float)
        if assumed:
            _hypothesis_assume(conditions.holds(ctx, values, {k: len(v) for k, v in vectors.items()}))
        model = ConcreteModel(plan, scalars, vectors)
        if plan.kind != NO_MODEL:
            model.d = _dim_value(plan.latent_dim, scalars)
            model.D = _dim_value(plan.observed_dim, scalars)
            if plan.prior_family is None:
                model.params["prior_mean"] = _floats(draw, _PRIOR_MEAN, model.d)
                model.params["prior_var"] = _floats(draw, _PRIOR_VAR, model.d)
            if plan.kind == LINEAR_GAUSSIAN:
                model.params["a"] = _floats(draw, _REAL, model.D)
                model.params["b"] = _floats(draw, _REAL, model.D)
                model.params["s2"] = _floats(draw, _NOISE, model.D)
            elif plan.kind == BERNOULLI:
                model.params["w"] = _floats(draw, _REAL, model.D)
                model.params["c"] = _floats(draw, _REAL, model.D)
            for name in plan.model_parameters:
                per = {}
                if plan.prior_family is None:
                    per["prior_mean"] = _floats(draw, _SLOPE, model.d)
                    per["prior_var"] = _floats(draw, _SLOPE, model.d)
                if plan.kind == LINEAR_GAUSSIAN:
                    per["b"] = _floats(draw, _SLOPE, model.D)
                model.model_slopes[name] = per
        for key, _, dim, _ in plan.gaussians:
            n = _dim_value(dim, scalars)
            if key in plan.indexed_keys:
                model.gaussians[key] = (_floats(draw, _REAL, PER_INDEX * n).reshape(PER_INDEX, n),
                                        _floats(draw, _VAR, PER_INDEX * n).reshape(PER_INDEX, n))
            else:
                model.gaussians[key] = (_floats(draw, _REAL, n), _floats(draw, _VAR, n))
            for name in plan.parameter_keys.get(key, ()):
                model.slopes.setdefault(key, {})[name] = (_floats(draw, _SLOPE, n), _floats(draw, _SLOPE, n))
        for letter, net in sorted(plan.networks.items()):
            model.networks[letter] = draw_network(draw, net)
        if plan.posterior_letter is not None and plan.gaussians:
            # q is the model's exact posterior in some models: the equality cases of the bounds
            model.q_is_posterior = draw(st.booleans())
        for name in plan.functions:
            if name in plan.decoder_functions and plan.kind == BERNOULLI:
                continue
            model.functions[name] = (_floats(draw, _REAL, 4), _floats(draw, _REAL, 4))
        return model

    return build()
