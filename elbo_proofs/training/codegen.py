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
3. print the result as Python source over torch tensors: a vector x[j] is a
   tensor [..., n], a function of a sample x_hat(j, z[l]) a tensor [L, ..., n];
   a Sum over its indices reduces the corresponding trailing dims.

A node the printer does not know (an unevaluated expectation, a KL, a density)
is an error that names the node: the derivation must end in a closed form.

torch is imported only when a compiled function is built.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

import sympy as sp
from sympy.core.function import AppliedUndef

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


def substitute_roles(expr: sp.Expr, roles: dict[str, str]) -> sp.Expr:
    """Replace each probability / std / variance by its form in the network's parameters."""
    mapping = {}
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Indexed):
            name = str(node.base.label)
            # The parameter keeps the name: the caller passes the tensor under it.
            param = sp.Indexed(sp.IndexedBase(name, real=True), *node.indices)
        elif isinstance(node, AppliedUndef):
            name, param = node.func.__name__, node
        else:
            continue
        role = roles.get(name, VALUE)
        if role not in ROLES:
            raise CodegenError(f"unknown role {role!r} for {name}; use one of {', '.join(ROLES)}")
        if role == LOGITS:
            mapping[node] = 1 / (1 + sp.exp(-param))
        elif role == STD_LOGVAR:
            mapping[node] = sp.exp(param / 2)
        elif role == VAR_LOGVAR:
            mapping[node] = sp.exp(param)
    # xreplace: exact matches, no re-evaluation of the replacements.
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


def _as_term(expr) -> sp.Expr:
    """A term as given; text is never parsed here (it would go through SymPy's eval-based parser)."""
    if isinstance(expr, (int, float)):
        return sp.Float(expr) if isinstance(expr, float) else sp.Integer(expr)
    if not isinstance(expr, sp.Basic):
        raise CodegenError(f"expected a term, got a {type(expr).__name__}")
    return expr


def stabilize(expr: sp.Expr, roles: dict[str, str] | None = None) -> sp.Expr:
    """Steps 1 and 2: the expression over network parameters, logs rewritten."""
    roles = {**DEFAULT_ROLES, **(roles or {})}
    e = substitute_roles(_as_term(expr), roles)
    e = _stabilize(e)
    e = _canonical_logsigmoid(e)
    return _expand_sums(e)


# ------------------------------------------------------------ step 3: printer
#
# Layout. A vector x[j] is passed as a tensor [..., n]; a function of a sample,
# x_hat(j, z[l]) (component j of the decoder output at the l-th sample of z),
# as [L, ..., n], samples first. Inside sums over indices (i1, ..., im), every
# tensor expression has shape [..., s1, ..., sm], s = the index's length or 1,
# so arithmetic broadcasts; a sum over its own indices reduces the last dims.

_CONST, _TENSOR = 0, 1


def _arrange(t, have: tuple, want: tuple):
    """t: [..., *dims labelled `have`] -> [..., *dims labelled `want`], size 1 where absent."""
    k = len(have)
    lead = t.dim() - k
    order = sorted(range(k), key=lambda i: want.index(have[i]))
    if order != list(range(k)):
        t = t.permute(*range(lead), *[lead + i for i in order])
    sizes = iter(t.shape[lead:])
    present = set(have)
    return t.reshape(*t.shape[:lead], *[next(sizes) if w in present else 1 for w in want])


def _leaf_name(e) -> str | None:
    if isinstance(e, sp.Indexed):
        return str(e.base.label)
    if isinstance(e, AppliedUndef):
        return e.func.__name__
    return None


def _leaves(expr: sp.Expr) -> dict[str, object]:
    """Name -> one occurrence of each tensor leaf; the z[l] inside x_hat(j, z[l]) is not one."""
    found = {}

    def visit(node):
        name = _leaf_name(node)
        if name is not None:
            found.setdefault(name, node)
        elif not node.is_Atom:
            for arg in (node.function,) if isinstance(node, sp.Sum) else node.args:
                visit(arg)

    visit(expr)
    return found


@dataclass
class _Printer:
    arg_names: dict[str, str]  # vector / function name -> Python argument name
    indices: set  # every summation index of the expression
    size_of: dict = field(default_factory=dict)  # size symbol (D) -> code for its length
    scope: tuple = ()  # the summation indices in scope, outermost first

    def fail(self, node, why: str):
        raise CodegenError(f"cannot compile {type(node).__name__} node {sp.sstr(node)}: {why}")

    def axes(self, e) -> tuple:
        """(component index, sample index) of a leaf; either may be None."""
        if isinstance(e, sp.Indexed):
            if len(e.indices) != 1 or not isinstance(e.indices[0], sp.Symbol):
                self.fail(e, "only vectors with one plain index are supported")
            return e.indices[0], None
        comp = sample = None
        for arg in e.args:
            if isinstance(arg, sp.Symbol) and arg in self.indices:
                if comp is not None:
                    self.fail(e, "a function may have only one component index")
                comp = arg
            elif isinstance(arg, sp.Indexed) and len(arg.indices) == 1 and arg.indices[0] in self.indices:
                if sample is not None:
                    self.fail(e, "a function may depend on only one sample")
                sample = arg.indices[0]
            elif arg.free_symbols & self.indices:
                self.fail(e, "arguments must be an index or a sample z[l]")
        if comp is not None and comp == sample:
            self.fail(e, "the same index cannot be both component and sample")
        return comp, sample

    def bind_sizes(self, e: sp.Sum) -> None:
        """Record that the upper bound of a sum (D in j = 1..D) is the length of an axis of some tensor."""
        for index, lower, upper in e.limits:
            if not isinstance(upper, sp.Symbol) or lower != 1 or upper in self.size_of:
                continue
            for name, leaf in sorted(_leaves(e.function).items()):
                comp, sample = self.axes(leaf)
                if index == comp:
                    self.size_of[upper] = f"{self.arg_names[name]}.shape[-1]"
                elif index == sample:
                    self.size_of[upper] = f"{self.arg_names[name]}.shape[0]"
                else:
                    continue
                break

    def emit_leaf(self, e) -> tuple[str, int]:
        comp, sample = self.axes(e)
        arg = self.arg_names[_leaf_name(e)]
        have = tuple(i for i in (sample, comp) if i is not None)
        for i in have:
            if i not in self.scope:
                self.fail(e, f"index {i} is not bound by an enclosing sum")
        if not have:
            self.fail(e, "a vector must be indexed by a summation index")
        code = f"{arg}.movedim(0, -{len(have)})" if sample is not None else arg
        want = tuple(str(i) for i in self.scope)
        if tuple(str(i) for i in have) != want:
            code = f"_arrange({code}, {tuple(str(i) for i in have)!r}, {want!r})"
        return code, _TENSOR

    def emit(self, e) -> tuple[str, int]:
        if isinstance(e, (sp.Integer, sp.Rational)):
            return repr(float(e)), _CONST
        if e.is_number:
            value = complex(sp.N(e, 17))
            if value.imag != 0:
                self.fail(e, "complex constant")
            return repr(value.real), _CONST
        if isinstance(e, sp.Indexed) or isinstance(e, AppliedUndef):
            return self.emit_leaf(e)
        if isinstance(e, sp.Symbol):
            if e in self.size_of:
                return f"float({self.size_of[e]})", _CONST
            self.fail(e, "free symbol: bind it to a tensor (as an indexed vector) or a summation bound")
        if isinstance(e, sp.Sum):
            return self.emit_sum(e)
        if isinstance(e, sp.Add):
            parts = [self.emit(a) for a in e.args]
            return "(" + " + ".join(c for c, _ in parts) + ")", max(k for _, k in parts)
        if isinstance(e, sp.Mul):
            coeff, rest = e.as_coeff_Mul()
            if coeff == -1:
                code, kind = self.emit(rest)
                return f"(-{code})", kind
            parts = [self.emit(a) for a in e.args]
            return "(" + " * ".join(c for c, _ in parts) + ")", max(k for _, k in parts)
        if isinstance(e, sp.Pow):
            base, kind = self.emit(e.base)
            exp_code, ek = self.emit(e.exp)
            if kind == _CONST:
                if ek != _CONST:
                    return f"torch.pow({base}, {exp_code})", ek
                return f"({base} ** {exp_code})", _CONST
            if e.exp == 2:
                return f"torch.square({base})", kind
            if e.exp == sp.S.Half:
                return f"torch.sqrt({base})", kind
            if e.exp == -1:
                return f"torch.reciprocal({base})", kind
            if ek == _CONST:
                return f"torch.pow({base}, {exp_code})", kind
            self.fail(e, "exponent depends on the data")
        if isinstance(e, LogSigmoid):
            code, kind = self.emit(e.args[0])
            return f"F.logsigmoid({code})", kind
        if _sigmoid_arg(e) is not None:
            code, kind = self.emit(_sigmoid_arg(e))
            return f"torch.sigmoid({code})", kind
        unary = {sp.exp: ("torch.exp", "math.exp"), sp.log: ("torch.log", "math.log"),
                 sp.Abs: ("torch.abs", "abs")}
        if type(e) in unary:
            code, kind = self.emit(e.args[0])
            return f"{unary[type(e)][kind == _CONST]}({code})", kind
        self.fail(e, "no torch translation for this node (the derivation must end in a closed form)")

    def emit_sum(self, e: sp.Sum) -> tuple[str, int]:
        self.bind_sizes(e)
        new = tuple(limit[0] for limit in e.limits)
        if len(set(new)) != len(new) or set(new) & set(self.scope):
            self.fail(e, "an index is summed twice")
        counts = []  # lengths of the indices the summand does not use
        for index, lower, upper in e.limits:
            if lower.is_Integer and upper.is_Integer:
                count = repr(float(upper - lower + 1))
            elif lower == 1 and isinstance(upper, sp.Symbol):
                count = f"float({self.size_of[upper]})" if upper in self.size_of else None
            else:
                self.fail(e, "bounds must be numbers or run from 1 to a size symbol such as D")
            if index not in e.function.free_symbols:
                if count is None:
                    self.fail(e, f"the summand does not use {index} and no tensor has length {upper}")
                counts.append(count)
        # Sample indices first: x_hat(j, z[l]) arrives as [L, ..., n], so (l, j) needs no permute.
        samples = {self.axes(leaf)[1] for leaf in _leaves(e.function).values()}
        saved, self.scope = self.scope, self.scope + tuple(sorted(new, key=lambda i: i not in samples))
        try:
            code, kind = self.emit(e.function)
        finally:
            self.scope = saved
        if kind == _TENSOR:
            code = f"({code}).sum(dim={tuple(range(-len(new), 0))!r})"
        return "(" + " * ".join([code, *counts]) + ")" if counts else code, kind


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

    Call it with keyword tensors: [..., n] for a vector x[j], [L, ..., n] for a
    function of a sample x_hat(j, z[l]); leading dims broadcast together and the
    result has shape [...].
    """

    def __init__(self, expr: sp.Expr, roles: dict[str, str] | None = None, name: str = "elbo"):
        import math

        import torch
        import torch.nn.functional as F

        self.expr = _as_term(expr)
        self.roles = {**DEFAULT_ROLES, **(roles or {})}
        self.stable = stabilize(self.expr, self.roles)
        taken: set[str] = set()
        labels = sorted(_leaves(self.expr))
        self.arg_names = {label: _identifier(label, taken) for label in labels}
        # Size symbols (D in j = 1..D) are bound first, so a constant -D/2 log(2 pi) anywhere can use them.
        sums = sorted(self.stable.atoms(sp.Sum), key=sp.default_sort_key)
        printer = _Printer(self.arg_names, {limit[0] for s in sums for limit in s.limits})
        for s in sums:
            printer.bind_sizes(s)
        body, kind = printer.emit(self.stable)
        if kind == _CONST:
            raise CodegenError(f"cannot compile {sp.sstr(self.expr)}: it does not depend on any tensor")
        self.inputs = tuple(self.arg_names[label] for label in labels)
        self.source = f"def {name}({', '.join(self.inputs)}):\n    return {body}\n"
        namespace = {"torch": torch, "F": F, "math": math, "_arrange": _arrange}
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

