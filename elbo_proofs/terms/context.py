"""Declarations a derivation is checked under: symbols, indices, families, samples.

A Context is what the front ends (YAML, LaTeX) build from the declarations they
read, and what the checker and the numeric models consult.  It is plain data.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

# Assumption words accepted in declarations, mapped to SymPy assumptions.  The
# numeric models read `kind` to draw values of the right sort.
ASSUMPTIONS = {
    "real": dict(real=True),
    "positive": dict(positive=True),
    "nonnegative": dict(nonnegative=True),
    "integer": dict(integer=True),
    "positive integer": dict(integer=True, positive=True),
    "probability": dict(positive=True),  # in (0, 1)
    "binary": dict(nonnegative=True, integer=True),  # 0 or 1
}


@dataclass
class Context:
    symbols: dict[str, sp.Symbol] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    # vector name -> (IndexedBase, dimension expression)
    vectors: dict[str, tuple] = field(default_factory=dict)
    # index name -> (Symbol, lower, upper)
    indices: dict[str, tuple] = field(default_factory=dict)
    # abstract density (Density term) -> family term (Normal, Bernoulli, Product of them)
    families: dict = field(default_factory=dict)
    # random variable symbol -> density term it is drawn from (eps ~ N(0, 1))
    randoms: dict = field(default_factory=dict)
    # reparameterizations / definitions: symbol -> expression
    lets: dict = field(default_factory=dict)
    # sample base name -> (sample index symbol, variable, density): z_l ~ q(z) iid
    samples: dict = field(default_factory=dict)
    # opaque functions: name -> tuple of variables they depend on (x_hat depends on z)
    functions: dict[str, tuple] = field(default_factory=dict)
    # names that are densities when called: p(x|z), q(z)
    density_names: set[str] = field(default_factory=lambda: {"p", "q", "P", "Q", "r", "pi"})
    # the densities of the generative model: they factor by the chain rule and obey
    # Bayes' rule (the others, such as a variational q, are unrelated to them)
    model_densities: set[str] = field(default_factory=lambda: {"p", "P"})
    # parameters of abstract densities: density name -> the symbols it depends on (q_theta:
    # q -> (theta,)); a derivative with respect to one of them differentiates the density
    parameters: dict[str, tuple] = field(default_factory=dict)
    # assumptions on the parameters (beta >= 1, a > 0), in the order they were made; see conditions.py
    assumptions: list = field(default_factory=list)
    # declared factorizations: joint density -> its factors (p(x, z1, z2) -> (p(z2), p(z1|z2), p(x|z1))),
    # a Bayesian network whose local Markov property the rules use (see `factorization`)
    factorizations: dict = field(default_factory=dict)

    def symbol(self, name: str) -> sp.Symbol:
        if name not in self.symbols:
            self.symbols[name] = sp.Symbol(name, real=True)
            self.kinds.setdefault(name, "real")
        return self.symbols[name]

    def declare(self, name: str, kind: str = "real") -> sp.Symbol:
        if kind not in ASSUMPTIONS:
            raise ValueError(f"unknown assumption {kind!r} for {name} (known: {', '.join(ASSUMPTIONS)})")
        sym = sp.Symbol(name, **{"real": True, **ASSUMPTIONS[kind]})
        self.symbols[name] = sym
        self.kinds[name] = kind
        return sym

    def vector(self, name: str, dim) -> sp.IndexedBase:
        kind = self.kinds.get(name, "real")
        base = sp.IndexedBase(name, **{"real": True, **ASSUMPTIONS.get(kind, {})})
        self.vectors[name] = (base, dim)
        return base

    def index(self, name: str, lower, upper) -> sp.Symbol:
        sym = sp.Symbol(name, integer=True)
        self.indices[name] = (sym, lower, upper)
        return sym

    def is_vector(self, name: str) -> bool:
        return name in self.vectors

    def dimension(self, name: str):
        return self.vectors[name][1] if name in self.vectors else 1

    def family_of(self, density):
        """The declared family of an abstract density, or None (see `declared_family`)."""
        return declared_family(self, density)

    def assume(self, lhs, relation: str, rhs, *, text: str = "", line=None):
        """Add the assumption ``lhs relation rhs`` (relation ``>=``, ``>``, ``<=`` or ``<``, in any
        spelling ``relations.parse_condition`` reads) over declared parameters, and return it.

        Raises ``AssumptionError`` (a ValueError) for an unknown name, a variable of a density, a
        relation that is not an inequality, or an assumption that contradicts the declared kinds or
        the assumptions made before.  See ``conditions.py`` for how the checker and the numeric
        models use them.
        """
        from .conditions import make_assumption

        a = make_assumption(self, lhs, relation, rhs, text=text, line=line)
        self.assumptions.append(a)
        return a

    def is_nonnegative(self, e) -> bool:
        """Whether ``e >= 0`` follows from the declared kinds and the assumptions."""
        from .conditions import nonnegative

        return nonnegative(e, self)

    def is_positive(self, e) -> bool:
        """Whether ``e > 0`` follows from the declared kinds and the assumptions."""
        from .conditions import positive

        return positive(e, self)

    def copy(self) -> "Context":
        return Context(
            dict(self.symbols), dict(self.kinds), dict(self.vectors), dict(self.indices),
            dict(self.families), dict(self.randoms), dict(self.lets), dict(self.samples),
            dict(self.functions), set(self.density_names), set(self.model_densities),
            dict(self.parameters),
            list(self.assumptions), dict(self.factorizations),
        )

    def factorize(self, joint, factors) -> None:
        """Declare ``joint = prod(factors)`` (see `check_factorization`; ValueError when it is not one)."""
        check_factorization(joint, factors)
        if all(f.name == joint.name for f in factors) and self.network(joint.name) is not None:
            raise ValueError(f"the network of {joint.name} is already declared (one factorization of a "
                             f"joint into its own letter's factors per letter)")
        self.factorizations[joint] = tuple(factors)

    def network(self, name: str):
        """The declared network of the density letter ``name``: (variables in a topological order,
        the given variables, {variable: its parents}), from a declared factorization of a joint of
        ``name`` into factors of ``name`` alone; None where there is none."""
        for joint, factors in self.factorizations.items():
            if getattr(joint, "name", None) != name or any(f.name != name for f in factors):
                continue
            parents = {}
            for f in factors:
                for v in f.vars:
                    parents[v] = tuple(f.given)
            order = topological_order(tuple(joint.vars), parents)
            return order, tuple(joint.given), parents
        return None

    def sample_names(self, e) -> set[str]:
        """The declared samples (z for z_1 .. z_L) drawn in the term ``e``."""
        return {ix.base.label.name for ix in sp.sympify(e).atoms(sp.Indexed) if ix.base.label.name in self.samples}

    def over_samples(self, op) -> bool:
        """Whether an E or Var term is taken over declared samples: its body holds draws z_l, and
        every sample in it was declared as drawn for the operator's variable from its density
        (E[z ~ q(z)](1/L sum_l f(z_l)), Var[z ~ q(z)](...)): the law of the iid draws."""
        f, var, dist = op.args
        names = self.sample_names(f)
        if not names:
            return False
        return all(getattr(self.samples[n][1], "name", None) == getattr(var, "name", "")
                   and self.samples[n][2] == dist for n in names)

    def depends_on_parameter(self, density, theta) -> bool:
        """Whether a density term depends on the symbol ``theta``: through its declared family, or
        a declared parameter of its name (``parameters:``)."""
        fam = declared_family(self, density)
        if fam is not None and theta in sp.sympify(fam).free_symbols:
            return True
        name = getattr(density, "name", None)
        return name is not None and theta in self.parameters.get(name, ())


def declared_family(ctx: Context, d):
    """The declared family of the density term ``d``, adapted to its arguments, or None.

    This is the one place that decides which declaration a density refers to.  A
    declaration applies only when it is of the same density over the same
    variables with the same conditioning: p(x) never finds a declared p(x|z),
    p(z|x) never a declared p(z), p(x) never a declared p(z).  The only argument
    that may differ from the declaration is a draw of a declared sample (z_l for
    the samples z_1..z_L of q(z|x)), which stands for the variable it was drawn as.
    """
    fams = ctx.families
    if d in fams:
        return fams[d]
    name = getattr(d, "name", None)
    if name is None or not hasattr(d, "vars"):
        return None
    for key, fam in fams.items():
        if getattr(key, "name", None) != name:
            continue
        if len(key.vars) != len(d.vars) or len(key.given) != len(d.given):
            continue
        mapping = {}
        for k, v in zip(key.vars + key.given, d.vars + d.given):
            if k == v:
                continue
            if not _is_draw_of(v, k, ctx):
                mapping = None
                break
            mapping[k] = v
        if mapping is None:
            continue
        if mapping and fam.has(sp.Product):
            continue  # a product over coordinates is not re-indexed by a draw
        return fam.xreplace(mapping) if mapping else fam
    return None


def _is_draw_of(v, k, ctx: Context) -> bool:
    """Whether ``v`` is one draw (z_l) of the declared sample variable ``k`` (z)."""
    if not isinstance(k, sp.Symbol) or not isinstance(v, sp.Indexed):
        return False
    name = v.base.label.name
    return name == k.name and name in ctx.samples and len(v.indices) == 1


def topological_order(vars_, parents) -> tuple:
    """``vars_`` with every variable after its parents (ties by name); ValueError on a cycle."""
    done, order = set(), []
    pending = sorted(vars_, key=str)
    while pending:
        ready = [v for v in pending if all(u in done or u not in vars_ for u in parents.get(v, ()))]
        if not ready:
            raise ValueError("the factors form a cycle: " + ", ".join(str(v) for v in pending))
        v = ready[0]
        order.append(v)
        done.add(v)
        pending.remove(v)
    return tuple(order)


def check_factorization(joint, factors) -> None:
    """That ``joint`` = prod(``factors``) is a Bayesian network: a density of abstract densities, every
    variable of the joint the variable of exactly one factor, each factor conditioned on variables of
    the joint or on its given variables, and no cycle.  ValueError naming what is wrong."""
    from .densities import Density

    if not isinstance(joint, Density):
        raise ValueError(f"{joint} is not an abstract density")
    if len(factors) < 2:
        raise ValueError(f"{joint}: a factorization has at least two factors")
    seen = []
    allowed = set(joint.vars) | set(joint.given)
    for f in factors:
        if not isinstance(f, Density):
            raise ValueError(f"factor {f} of {joint} is not an abstract density")
        if len(f.vars) != 1:
            raise ValueError(f"factor {f} of {joint}: each factor is the density of one variable")
        for v in f.vars:
            if v in seen:
                raise ValueError(f"{v} is the variable of two factors of {joint}")
            seen.append(v)
        for g in f.given:
            if g not in allowed or g in f.vars:
                raise ValueError(f"factor {f} of {joint} is conditioned on {g}, not a variable of {joint}")
    if set(seen) != set(joint.vars) or len(seen) != len(joint.vars):
        missing = ", ".join(str(v) for v in joint.vars if v not in seen) or ", ".join(
            str(v) for v in seen if v not in joint.vars)
        raise ValueError(f"the factors of {joint} are not over its variables ({missing})")
    topological_order(tuple(joint.vars), {f.vars[0]: tuple(f.given) for f in factors})
