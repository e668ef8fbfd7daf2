"""Compile a proved ELBO (a SymPy expression) into a batched torch function.

The expression speaks of probabilities and standard deviations (x_hat_j,
sigma_k); the network produces logits and log-variances. Evaluating the
expression literally (sigmoid, then log) loses everything below ~1e-7 in
float32, so compilation goes in three steps:

1. substitute the network's parameters symbolically, by role:
   x_hat_j -> 1/(1 + exp(-l_j))   (l = logits)
   sigma_k -> exp(v_k / 2)        (v = log-variance)
2. rewrite the logs of those forms exactly: log(exp(a)) -> a,
   log(1/(1+exp(-a))) -> logsigmoid(a), log(1 - 1/(1+exp(-a))) -> logsigmoid(-a),
   and use logsigmoid(-a) = logsigmoid(a) - a so that the Bernoulli term
   becomes x*l + logsigmoid(-l) style expressions with a single logsigmoid;
3. print the result as Python source over torch tensors: an Indexed x[j]
   is the tensor x of shape [..., n], a Sum over j reduces the last dim.

A node the printer does not know (an unevaluated expectation, a KL, a density)
is an error that names the node: the derivation must end in a closed form.

torch is imported only when a compiled function is built.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

import sympy as sp

# How the tensor passed for a name encodes the quantity the name denotes.
VALUE = "value"  # the tensor is the quantity itself (data x, means mu)
LOGITS = "logits"  # the name is a probability; the tensor holds its logit
STD_LOGVAR = "std_logvar"  # the name is a standard deviation; the tensor is log(std^2)
VAR_LOGVAR = "var_logvar"  # the name is a variance; the tensor is its log
ROLES = (VALUE, LOGITS, STD_LOGVAR, VAR_LOGVAR)

DEFAULT_ROLES = {
    "x": VALUE,
    "x_hat": LOGITS,
    "xhat": LOGITS,
    "mu": VALUE,
    "sigma": STD_LOGVAR,
    "sigma2": VAR_LOGVAR,
    "sigma_sq": VAR_LOGVAR,
    "logvar": VALUE,
}


class CodegenError(ValueError):
    """The expression cannot be compiled; the message names the offending node."""


class LogSigmoid(sp.Function):
    """log(1 / (1 + exp(-a))), kept as one node so that it prints as F.logsigmoid."""

    nargs = 1


# ------------------------------------------------------------ step 1: roles


def _bases(expr: sp.Expr) -> dict[str, sp.IndexedBase]:
    return {str(ix.base.label): ix.base for ix in expr.atoms(sp.Indexed)}


def substitute_roles(expr: sp.Expr, roles: dict[str, str]) -> sp.Expr:
    """Replace each probability / std / variance by its form in the network's parameters."""
    mapping = {}
    for ix in expr.atoms(sp.Indexed):
        name = str(ix.base.label)
        role = roles.get(name, VALUE)
        if role not in ROLES:
            raise CodegenError(f"unknown role {role!r} for {name}; use one of {', '.join(ROLES)}")
        if role == VALUE:
            continue
        # The parameter keeps the same name: the caller passes the tensor under it.
        param = sp.Indexed(sp.IndexedBase(name, real=True), *ix.indices)
        if role == LOGITS:
            mapping[ix] = 1 / (1 + sp.exp(-param))
        elif role == STD_LOGVAR:
            mapping[ix] = sp.exp(param / 2)
        else:
            mapping[ix] = sp.exp(param)
    # xreplace: no evaluation surprises, indices are matched exactly.
    return expr.xreplace(mapping)


# ------------------------------------------------------------ step 2: logs


def _sigmoid_arg(e: sp.Expr):
    """a when e == 1/(1+exp(-a)), else None."""
    if isinstance(e, sp.Pow) and e.exp == -1 and isinstance(e.base, sp.Add):
        terms = e.base.args
        if len(terms) == 2 and sp.S.One in terms:
            other = terms[0] if terms[1] == sp.S.One else terms[1]
            if isinstance(other, sp.exp):
                return -other.args[0]
    return None


def _one_minus_sigmoid_arg(e: sp.Expr):
    """a when e == 1 - 1/(1+exp(-a)) == sigmoid(-a) ... returned as -a, else None."""
    if isinstance(e, sp.Add) and len(e.args) == 2 and sp.S.One in e.args:
        other = e.args[0] if e.args[1] == sp.S.One else e.args[1]
        a = _sigmoid_arg(-other)
        if a is not None:
            return -a
    return None


def _is_positive_form(e: sp.Expr) -> bool:
    if e.is_number:
        return bool(e.is_positive)
    if isinstance(e, sp.exp):
        return True
    if _sigmoid_arg(e) is not None or _one_minus_sigmoid_arg(e) is not None:
        return True
    if isinstance(e, sp.Pow):
        return _is_positive_form(e.base) or (e.exp.is_even is True)
    if isinstance(e, sp.Add):
        return all(_is_positive_form(t) for t in e.args)
    if isinstance(e, sp.Mul):
        return all(_is_positive_form(t) for t in e.args)
    return False


def _rewrite_log(arg: sp.Expr) -> sp.Expr:
    if isinstance(arg, sp.exp):
        return arg.args[0]  # the parameters are real, so log(exp(a)) = a exactly
    a = _sigmoid_arg(arg)
    if a is not None:
        return LogSigmoid(a)
    a = _one_minus_sigmoid_arg(arg)
    if a is not None:
        return LogSigmoid(a)
    if isinstance(arg, sp.Pow) and _is_positive_form(arg.base):
        return arg.exp * _rewrite_log(arg.base)
    if isinstance(arg, sp.Pow) and arg.exp.is_even:
        # log(s^2) with s of unknown sign: 2 log|s|.
        return arg.exp * sp.log(sp.Abs(arg.base))
    if isinstance(arg, sp.Mul) and all(_is_positive_form(t) for t in arg.args):
        return sp.Add(*[_rewrite_log(t) for t in arg.args])
    if isinstance(arg, sp.Add) and len(arg.args) == 2 and sp.S.One in arg.args:
        other = arg.args[0] if arg.args[1] == sp.S.One else arg.args[1]
        if isinstance(other, sp.exp):  # log(1 + exp(a)) = softplus(a) = -logsigmoid(-a)
            return -LogSigmoid(-other.args[0])
    return sp.log(arg)


def _stabilize(e: sp.Expr) -> sp.Expr:
    if e.is_Atom or isinstance(e, (sp.Indexed, sp.IndexedBase)):
        return e
    if isinstance(e, sp.Sum):
        return sp.Sum(_stabilize(e.function), *e.limits)
    args = [_stabilize(a) for a in e.args]
    if isinstance(e, sp.log):
        return _rewrite_log(args[0])
    return e.func(*args)


def _canonical_logsigmoid(e: sp.Expr) -> sp.Expr:
    # logsigmoid(-a) = logsigmoid(a) - a: after expansion, x*ls(l) + (1-x)*ls(-l)
    # collapses to ls(-l) + x*l ... with one logsigmoid per component.
    def fix(node):
        a = node.args[0]
        if a.could_extract_minus_sign():
            return LogSigmoid(-a) + a
        return node

    return e.replace(lambda n: isinstance(n, LogSigmoid), fix)


def _expand_sums(e: sp.Expr) -> sp.Expr:
    return e.replace(lambda n: isinstance(n, sp.Sum),
                     lambda n: sp.Sum(sp.expand(n.function), *n.limits))


def stabilize(expr: sp.Expr, roles: dict[str, str] | None = None) -> sp.Expr:
    """Steps 1 and 2: the expression over network parameters, logs rewritten."""
    roles = {**DEFAULT_ROLES, **(roles or {})}
    e = substitute_roles(sp.sympify(expr), roles)
    e = _stabilize(e)
    e = _canonical_logsigmoid(e)
    return _expand_sums(e)


# ------------------------------------------------------------ step 3: printer

_CONST, _EXAMPLE, _COMPONENT = 0, 1, 2  # shape kinds: scalar, [...], [..., n]


@dataclass
class _Printer:
    arg_names: dict[str, str]  # IndexedBase label -> Python argument name
    size_of: dict[sp.Symbol, str] = field(default_factory=dict)  # size symbol -> tensor arg
    index: sp.Symbol | None = None  # the summation index in scope

    def fail(self, node, why: str):
        raise CodegenError(f"cannot compile {type(node).__name__} node {sp.sstr(node)}: {why}")

    def lift(self, code: str, kind: int, to: int) -> str:
        # A per-example value inside a sum must broadcast against [..., n].
        if kind == _EXAMPLE and to == _COMPONENT:
            return f"({code}).unsqueeze(-1)"
        return code

    def emit(self, e) -> tuple[str, int]:
        if isinstance(e, sp.Integer) or isinstance(e, sp.Rational):
            return repr(float(e)), _CONST
        if e.is_number:
            value = complex(sp.N(e, 17))
            if value.imag != 0:
                self.fail(e, "complex constant")
            return repr(value.real), _CONST
        if isinstance(e, sp.Indexed):
            if len(e.indices) != 1:
                self.fail(e, "only vectors (one index) are supported")
            if self.index is None or e.indices[0] != self.index:
                self.fail(e, f"index {e.indices[0]} is not bound by an enclosing sum")
            return self.arg_names[str(e.base.label)], _COMPONENT
        if isinstance(e, sp.Symbol):
            if e in self.size_of:
                return f"float({self.size_of[e]}.shape[-1])", _CONST
            self.fail(e, "free symbol: bind it to a tensor (as an indexed vector) or a summation bound")
        if isinstance(e, sp.Sum):
            return self.emit_sum(e)
        if isinstance(e, sp.Add):
            parts = [self.emit(a) for a in e.args]
            kind = max(k for _, k in parts)
            return "(" + " + ".join(self.lift(c, k, kind) for c, k in parts) + ")", kind
        if isinstance(e, sp.Mul):
            coeff, rest = e.as_coeff_Mul()
            if coeff == -1:
                code, kind = self.emit(rest)
                return f"(-{code})", kind
            parts = [self.emit(a) for a in e.args]
            kind = max(k for _, k in parts)
            return "(" + " * ".join(self.lift(c, k, kind) for c, k in parts) + ")", kind
        if isinstance(e, sp.Pow):
            base, kind = self.emit(e.base)
            if kind == _CONST:
                exp_code, ek = self.emit(e.exp)
                if ek != _CONST:
                    return f"torch.pow({base}, {exp_code})", ek
                return f"({base} ** {exp_code})", _CONST
            if e.exp == 2:
                return f"torch.square({base})", kind
            if e.exp == sp.S.Half:
                return f"torch.sqrt({base})", kind
            if e.exp == -1:
                return f"torch.reciprocal({base})", kind
            if e.exp.is_number:
                return f"torch.pow({base}, {float(e.exp)!r})", kind
            self.fail(e, "exponent depends on the data")
        if isinstance(e, LogSigmoid):
            code, kind = self.emit(e.args[0])
            return f"F.logsigmoid({code})", kind
        unary = {sp.exp: "torch.exp", sp.log: "torch.log", sp.Abs: "torch.abs"}
        if type(e) in unary:
            code, kind = self.emit(e.args[0])
            if kind == _CONST:
                return f"math.{type(e).__name__.replace('Abs', 'fabs')}({code})", _CONST
            return f"{unary[type(e)]}({code})", kind
        if _sigmoid_arg(e) is not None:
            code, kind = self.emit(_sigmoid_arg(e))
            return f"torch.sigmoid({code})", kind
        self.fail(e, "no torch translation for this node (the derivation must end in a closed form)")

    def bind_sizes(self, e: sp.Sum) -> None:
        """Record that the upper bound of a sum (D in j = 1..D) is the length of its vectors."""
        if len(e.limits) != 1:
            self.fail(e, "only single sums over one index are supported (no nested or multiple limits)")
        index, lower, upper = e.limits[0]
        bases = sorted({str(ix.base.label) for ix in e.function.atoms(sp.Indexed) if index in ix.indices})
        if bases and isinstance(upper, sp.Symbol) and lower == 1:
            self.size_of.setdefault(upper, self.arg_names[bases[0]])

    def emit_sum(self, e: sp.Sum) -> tuple[str, int]:
        self.bind_sizes(e)
        if self.index is not None:
            self.fail(e, "nested sums are not supported")
        index, lower, upper = e.limits[0]
        if not (lower == 1 and isinstance(upper, sp.Symbol)) and not (lower.is_Integer and upper.is_Integer):
            self.fail(e, "bounds must be numbers or run from 1 to a size symbol such as D")
        saved, self.index = self.index, index
        try:
            code, kind = self.emit(e.function)
        finally:
            self.index = saved
        if kind == _COMPONENT:
            return f"({code}).sum(-1)", _EXAMPLE
        # A summand constant in the index contributes (number of terms) times itself.
        if lower.is_Integer and upper.is_Integer:
            count = repr(float(upper - lower + 1))
        elif upper in self.size_of:
            count = f"float({self.size_of[upper]}.shape[-1])"
        else:
            self.fail(e, f"the summand does not use {index} and no vector has length {upper}")
        return f"({self.lift(code, kind, _EXAMPLE)} * {count})", max(kind, _CONST)


def _identifier(name: str, taken: set[str]) -> str:
    ident = re.sub(r"\W", "_", name)
    if not ident or ident[0].isdigit() or keyword.iskeyword(ident) or ident in {"torch", "F", "math"}:
        ident = "v_" + ident
    while ident in taken:
        ident += "_"
    taken.add(ident)
    return ident


class CompiledExpression:
    """A per-example torch function of the tensors named after the expression's vectors.

    Call it with keyword tensors of shape [..., n] (any leading batch / sample
    dims that broadcast together); it returns shape [...].
    """

    def __init__(self, expr: sp.Expr, roles: dict[str, str] | None = None, name: str = "elbo"):
        import math

        import torch
        import torch.nn.functional as F

        self.expr = sp.sympify(expr)
        self.roles = {**DEFAULT_ROLES, **(roles or {})}
        self.stable = stabilize(self.expr, self.roles)
        taken: set[str] = set()
        labels = sorted(_bases(self.expr))
        self.arg_names = {label: _identifier(label, taken) for label in labels}
        # Size symbols (D in j = 1..D) are bound first, so a constant -D/2 log(2 pi) anywhere can use them.
        printer = _Printer(self.arg_names)
        for s in sorted(self.stable.atoms(sp.Sum), key=sp.default_sort_key):
            printer.bind_sizes(s)
        body, kind = printer.emit(self.stable)
        if kind == _CONST:
            raise CodegenError(f"cannot compile {sp.sstr(self.expr)}: it does not depend on any tensor")
        self.inputs = tuple(self.arg_names[label] for label in labels)
        self.source = f"def {name}({', '.join(self.inputs)}):\n    return {body}\n"
        namespace = {"torch": torch, "F": F, "math": math}
        exec(compile(self.source, f"<compiled {name}>", "exec"), namespace)
        self.fn = namespace[name]

    def __call__(self, **tensors):
        missing = [n for n in self.inputs if n not in tensors]
        if missing:
            raise CodegenError(f"missing tensors for {', '.join(missing)} (expects {', '.join(self.inputs)})")
        return self.fn(**{n: tensors[n] for n in self.inputs})

    def __repr__(self):
        return f"CompiledExpression({self.source.strip()!r})"


def compile_expression(expr, roles: dict[str, str] | None = None, name: str = "elbo") -> CompiledExpression:
    return CompiledExpression(expr, roles, name)


# ------------------------------------------------------------ reference forms
# Used by the tests and the docs; training compiles the derivation's own expression.

def vae_elbo_expression() -> sp.Expr:
    """Per-example ELBO of a Bernoulli decoder and a diagonal Gaussian encoder, prior N(0, I)."""
    x, xh, mu, sigma = (sp.IndexedBase(n) for n in ("x", "x_hat", "mu", "sigma"))
    j, k = sp.symbols("j k", integer=True)
    D, K = sp.symbols("D K", integer=True, positive=True)
    recon = sp.Sum(x[j] * sp.log(xh[j]) + (1 - x[j]) * sp.log(1 - xh[j]), (j, 1, D))
    neg_kl = sp.Sum(1 + sp.log(sigma[k] ** 2) - mu[k] ** 2 - sigma[k] ** 2, (k, 1, K)) / 2
    return recon + neg_kl

