"""Compile an objective that is an expectation over K declared draws (the importance-weighted
bound) into a per-image torch function.

The objective is ``E[z_1, ..., z_K ~ q(z|x)](f)`` (a `SampleExpectation`): its unbiased
estimate is f at one draw of the K samples, and with z_k = mu + sigma * eps_k the draw
is reparameterized, so the gradient of the estimate is an unbiased gradient of the
objective.  f speaks of densities at the draws; they become the model's log-densities,
[K, B] tensors, by their declared roles:

* the density the draws come from (the E's own ``q(z|x)``): the encoder, a diagonal
  Gaussian N(mu, exp(logvar)) (the family registry's Gaussian log-density);
* the model's densities (``Context.model_densities``) of the observed variable given a
  draw, p(x|z_k): the Bernoulli decoder, written through its logits
  (x * logsigmoid(l) + (1 - x) * logsigmoid(-l), exact in float32 where a literal
  log(sigmoid(l)) is not); of a draw alone, p(z_k): the prior N(0, I); the joint
  p(x, z_k): the two added (the model's joint is likelihood times prior).

The log of an average over the draws of a product of densities, log(c * sum_k w_k),
compiles to ``torch.logsumexp`` of the log-weights over the draw axis plus log c, so the
weights (about exp(-100) on MNIST) never underflow.  A node this compiler does not
know is a CodegenError that names it.
"""

from __future__ import annotations

import math

import sympy as sp

from ..terms import Density, SampleExpectation, free_draws
from .codegen import CodegenError

LOG_2PI = math.log(2 * math.pi)
ROLES = ("likelihood", "prior", "encoder")


def is_draw_objective(expr) -> bool:
    """Whether the objective is an expectation over declared draws (compiled here, not by codegen)."""
    return isinstance(expr, SampleExpectation)


class DrawObjective:
    """The compiled per-image objective: call with x [B, D], logits [K, B, D], mu and logvar [B, d],
    eps [K, B, d] (the standard normal noise of the K draws); returns [B]."""

    def __init__(self, expr, model_densities=("p", "P")):
        if not isinstance(expr, SampleExpectation):
            raise CodegenError(f"cannot compile {sp.sstr(expr)}: it is not an expectation over declared draws")
        self.expr = expr
        self.model = set(model_densities)
        self.var, self.q = expr.var, expr.dist
        if not isinstance(self.q, Density) or len(self.q.vars) != 1 or len(self.q.given) != 1 \
                or not isinstance(self.q.given[0], sp.Symbol):
            raise CodegenError(f"cannot compile draws from {self.q}: the draws must come from a density "
                               f"of the latent given the data, such as q(z|x)")
        self.observed = self.q.given[0]
        if expr.lower != 1:
            raise CodegenError(f"cannot compile {sp.sstr(expr)}: the draws must be numbered from 1")
        self.count = expr.upper          # K: a declared integer, bound to the number of draws
        if not (self.count.is_Integer or isinstance(self.count, sp.Symbol)):
            raise CodegenError(f"cannot compile {sp.sstr(expr)}: the number of draws must be a number or a symbol")
        self.fn = self._compile(expr.function, None)
        self.inputs = ("x", "logits", "mu", "logvar", "eps")

    # -- the per-image value --------------------------------------------------------------
    def __call__(self, x, logits, mu, logvar, eps):
        import torch.nn.functional as F

        from ..terms.families.gaussian import FAMILY as GAUSSIAN

        n = eps.shape[0]
        if self.count.is_Integer and int(self.count) != n:
            raise CodegenError(f"the objective has {self.count} draws; {n} were given")
        z = mu + (0.5 * logvar).exp() * eps
        leaves = {
            "likelihood": (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(-1),
            "prior": GAUSSIAN.torch_log_density(z, 0.0, 1.0).sum(-1),
            "encoder": GAUSSIAN.torch_log_density(z, mu, logvar.exp()).sum(-1),
        }
        return self.fn(leaves, n)

    # -- compilation ----------------------------------------------------------------------
    def fail(self, node, why):
        raise CodegenError(f"cannot compile {type(node).__name__} node {sp.sstr(node)}: {why}")

    def _compile(self, e, k):
        """A function (leaves, n) -> tensor [B] (or [K, B] inside the sum over the draws, index k)."""
        if e.is_Number:
            value = float(e)
            return lambda leaves, n: value
        if e == self.count:
            return lambda leaves, n: float(n)
        if isinstance(e, sp.Add):
            parts = [self._compile(a, k) for a in e.args]
            return lambda leaves, n: _total(p(leaves, n) for p in parts)
        if isinstance(e, sp.Mul):
            dens = [a for a in e.args if isinstance(a, Density) or isinstance(a, sp.Pow) and isinstance(a.base, Density)]
            weights = self._weights(sp.Mul(*dens), k) if dens else None
            rest = [a for a in e.args if a not in dens] if weights is not None else list(e.args)
            # a product of densities is the exp of its log-densities' sum: no underflow on the way
            parts = [self._compile(a, k) for a in rest] + ([self._exp_of(weights)] if weights is not None else [])
            return lambda leaves, n: _product(p(leaves, n) for p in parts)
        if isinstance(e, sp.Pow) and not free_draws(e.exp, {self.var.name}) and e.exp.is_Number:
            if self._weights(e, k) is not None:
                return self._exp_of(self._weights(e, k))
            base, power = self._compile(e.base, k), float(e.exp)
            return lambda leaves, n: base(leaves, n) ** power
        if isinstance(e, sp.log):
            return self._log(e.args[0], k)
        if isinstance(e, sp.Sum):
            return self._sum(e, k)
        if isinstance(e, Density):
            return self._exp_of(self._weights(e, k) or self.fail(e, "a density of an unknown role"))
        self.fail(e, "no torch translation for this node")

    def _sum(self, e, k):
        if len(e.limits) != 1:
            self.fail(e, "one index per sum")
        j, lo, hi = e.limits[0]
        if k is not None or lo != 1 or hi != self.count:
            self.fail(e, "a sum must run over the draws, from 1 to their number")
        body = self._compile(e.function, j)
        return lambda leaves, n: body(leaves, n).sum(0)

    def _log(self, u, k):
        weights = self._weights(u, k)
        if weights is not None:
            return _lincomb(weights)
        average = self._log_average(u, k)
        if average is not None:
            return average
        inner = self._compile(u, k)

        def log(leaves, n):
            import torch

            value = inner(leaves, n)
            return torch.log(value) if hasattr(value, "dim") else math.log(value)
        return log

    def _log_average(self, u, k):
        """log(c * sum_j w_j) over the draws, w a product of densities: logsumexp of the log-weights."""
        sums = [f for f in sp.Mul.make_args(u) if isinstance(f, sp.Sum)]
        if k is not None or len(sums) != 1 or len(sums[0].limits) != 1:
            return None
        (s,) = sums
        j, lo, hi = s.limits[0]
        weights = self._weights(s.function, j)
        if weights is None or lo != 1 or hi != self.count:
            return None
        const = sp.Mul(*[f for f in sp.Mul.make_args(u) if f is not s])
        if free_draws(const, {self.var.name}) or not const.is_positive:
            return None
        log_c = self._compile(sp.expand_log(sp.log(const), force=True), None)
        log_w = _lincomb(weights)

        def log_average(leaves, n):
            import torch

            return torch.logsumexp(log_w(leaves, n), dim=0) + log_c(leaves, n)
        return log_average

    def _weights(self, u, k):
        """{role: coefficient} with log u = sum of coefficient * log-density, for a product of powers of
        densities at the draw z_k; None for anything else."""
        if k is None:
            return None
        out: dict = {}
        for factor in sp.Mul.make_args(u):
            power = 1
            if isinstance(factor, sp.Pow) and factor.exp.is_Number:
                factor, power = factor.base, factor.exp
            roles = self._roles(factor, k) if isinstance(factor, Density) else None
            if roles is None:
                return None
            for role in roles:
                out[role] = out.get(role, 0) + float(power)
        return out

    def _roles(self, d: Density, k):
        draw = sp.IndexedBase(self.var.name)[k]

        def same(a, b):
            return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
        if d.name == self.q.name and same(d.vars, (draw,)) and same(d.given, self.q.given):
            return ["encoder"]
        if d.name not in self.model:
            return None
        x = self.observed
        if same(d.vars, (x,)) and same(d.given, (draw,)):
            return ["likelihood"]
        if same(d.vars, (draw,)) and not d.given:
            return ["prior"]
        if not d.given and (same(d.vars, (x, draw)) or same(d.vars, (draw, x))):
            return ["likelihood", "prior"]
        return None

    def _exp_of(self, weights):
        log_w = _lincomb(weights)

        def exp(leaves, n):
            return log_w(leaves, n).exp()
        return exp


def _same(a, b) -> bool:
    """Equal as variables: the same name, and for draws the same index (assumptions aside)."""
    if isinstance(a, sp.Indexed) and isinstance(b, sp.Indexed):
        return a.base.label.name == b.base.label.name and a.indices == b.indices
    return isinstance(a, sp.Symbol) and isinstance(b, sp.Symbol) and a.name == b.name


def _lincomb(weights):
    items = sorted(weights.items())

    def log_w(leaves, n):
        return _total(c * leaves[role] for role, c in items if c)
    return log_w


def _total(values):
    out = 0.0
    for v in values:
        out = out + v
    return out


def _product(values):
    out = 1.0
    for v in values:
        out = out * v
    return out
