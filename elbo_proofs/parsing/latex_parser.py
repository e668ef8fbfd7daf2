"""Student LaTeX math to terms: grammar in latex.lark, meaning here.

One expression at a time (relations are split off by submission.py).  Text is
never evaluated: a cleanup pass normalises spacing commands and rejects
constructs outside the notation (transposes, composition, O(.), nabla), the
grammar builds a tree, and one Transformer builds terms through a lenient
NameResolver that declares unknown names on first use.  docs/latex.md lists
the notation and the reading choices made here.
"""
from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path

import sympy as sp
from lark import Lark, Token, v_args
from lark.visitors import Transformer_NonRecursive
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from ..errors import InputError
from ..terms import (KL, Bernoulli, Context, Density, Entropy, Expectation, Normal, SampleExpectation, Variance,
                     density_vars, draws_as_variables, is_density)
from .expr_parser import MAX_EXPONENT, bind_distribution, check_bounds, safe_pow
from .latex_tokens import (drop_unmatched_closers, rewrite_angle_brackets, rewrite_divergence_letters,
                           rewrite_expectation_powers, rewrite_over, scope_end, tokenize, unwrap_braced_operators,
                           widen_logs, widen_sums)
from .names import PARAMETER_SUBSCRIPTS, NameResolver, PointlessNormal, parameter_names

MAX_LATEX_LENGTH = 4000

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
    "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "varsigma", "tau", "upsilon",
    "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma",
    "Phi", "Psi", "Omega",
}
# LaTeX spelling -> symbol name
GREEK_NAMES = {"epsilon": "eps", "varepsilon": "eps", "varphi": "phi", "vartheta": "theta", "varsigma": "sigma"}
DECORATION_SUFFIX = {"hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar", "tilde": "tilde",
                     "widetilde": "tilde", "dot": "dot"}
FONT_WRAPPERS = {"mathbf", "boldsymbol", "bm", "mathrm", "mathit", "mathbb", "vec"}
# Words that name the Bernoulli mass function: \mathrm{Bern}(x; m)
BERNOULLI_WORDS = {"Bern", "Bernoulli", "Ber"}
# Names followed by (...) that are read as (opaque) functions rather than products.
FUNCTION_LETTERS = {"f", "g", "h", "F", "G"}
# Commands the grammar knows (after cleanup); anything else is reported by name.
KNOWN_COMMANDS = GREEK | set(DECORATION_SUFFIX) | FONT_WRAPPERS | {
    "mathcal", "text", "operatorname", "log", "ln", "exp", "sqrt", "frac", "dfrac", "tfrac", "partial",
    "sum", "prod", "int", "iint", "cdot", "times", "odot", "ast", "sim", "mid", "vert", "Vert", "lVert",
    "rVert", "parallel", "infty",
}
REJECTED = {
    "circ": "function composition (\\circ) is outside the notation the grader reads",
    "nabla": "gradients written with \\nabla are outside the notation (write \\frac{\\partial}{\\partial x})",
    "top": "transposes are outside the notation (matrix calculus is not checked)",
    "intercal": "transposes are outside the notation (matrix calculus is not checked)",
    "dots": "an ellipsis (\\dots) is not an expression",
    "ldots": "an ellipsis (\\ldots) is not an expression",
    "cdots": "an ellipsis (\\cdots) is not an expression",
    "otimes": "Kronecker/tensor products are outside the notation",
    "det": "determinants are outside the notation",
    "lim": "limits are outside the notation",
    "max": "max/min are outside the notation",
    "min": "max/min are outside the notation",
    "pm": "\\pm is not an expression",
}
_SPACING = re.compile(
    r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg|displaystyle|textstyle|"
    r"limits|nolimits|quad|qquad|nonumber|notag)(?![A-Za-z])|\\[,;:! ]|~"
)
_COMMAND = re.compile(r"\\([A-Za-z]+)")


@lru_cache(maxsize=None)
def _lark() -> Lark:
    grammar = (Path(__file__).with_name("latex.lark")).read_text()
    return Lark(grammar, start="start", parser="lalr", maybe_placeholders=False)


class SymRef:
    """A symbol as written, before it is resolved: base name, subscripts, (i, l) label."""

    __slots__ = ("base", "subs", "label", "text", "draws")

    def __init__(self, base: str, subs: list, label: tuple | None, text: str, draws: tuple | None = None):
        self.base, self.subs, self.label, self.text = base, subs, label, text
        self.draws = draws   # z_{1:K}: ("1", "K"), several draws of z at once

    @property
    def name(self) -> str:
        return "_".join([self.base, *self.subs])

    def __repr__(self):
        return f"SymRef({self.name}, label={self.label})"


class _Draws:
    """The subscript of an expectation over several draws: z_1 .. z_K, each from dist."""

    __slots__ = ("var", "lo", "hi", "dist")

    def __init__(self, var, lo, hi, dist):
        self.var, self.lo, self.hi, self.dist = var, lo, hi, dist


class LatexEnv:
    """What a whole submission shares while its expressions are read.

    The Context collects declarations; ``seen`` remembers the densities used so far
    (so ``E_q`` and ``KL(q || p)`` know which q); ``cal_conflicts`` are letters used
    both as \\mathcal{X} and as a plain X (the plain one is renamed X_plain).
    """

    def __init__(self, context: Context | None = None):
        self.context = context or Context()
        self.resolver = NameResolver(self.context, strict=False)
        self.seen: dict[str, list] = {}
        self.cal_conflicts: set[str] = set()
        self.sample_indices: set[str] = {"l"}
        self.bounds: set[str] = set()  # names used as the upper limit of a sum or product
        self.parameters: set[str] = set()  # model parameters (mu, sigma): never defined by a chain head
        # alternative readings in force (READINGS): the reader parses a line once per reading
        self.switches: frozenset = frozenset()
        self.density_params: dict[str, set] = {}  # density name -> parameters it carries (q_phi, p(x; theta))
        self.notes: list[str] = []

    def density_variables(self) -> set:
        """The names of the variables densities are written at (z for q(z), q(z_k) and q(z_j)); the
        index k of a draw z_k is no variable (so K, the number of draws, is not read as k)."""
        names = set()
        for d in list(self.context.families) + [d for lst in self.seen.values() for d in lst]:
            for v in getattr(d, "vars", ()):
                v = sp.sympify(v)
                draws = {ix: ix.base.label for ix in v.atoms(sp.Indexed)}
                names |= {getattr(s, "name", "") for s in v.xreplace(draws).free_symbols
                          if not (isinstance(s, sp.Symbol) and s.is_integer)}
        return names

    # densities --------------------------------------------------------------
    def saw(self, d: Density) -> None:
        lst = self.seen.setdefault(d.name, [])
        if d not in lst:
            lst.append(d)

    def bare_density(self, name: str, vars_: tuple | None = None):
        """The density a bare letter (q in E_q or KL(q || p)) stands for.

        Declared densities first, then those met in the text; with ``vars_``, one over
        those variables (the p in KL(q || p) is the p over q's variable)."""
        dname = self.resolver.density_name(name)
        if dname is None:
            return None
        declared = [d for d in self.context.families if d.name == dname]
        seen = [d for d in self.seen.get(dname, []) if d not in declared]
        candidates = declared + seen
        if vars_ is not None:
            matching = [d for d in candidates if tuple(d.vars) == tuple(vars_)]
            unconditional = [d for d in matching if not d.given]
            candidates = unconditional or matching or candidates
        if candidates:
            return candidates[0]
        raise InputError(f"'{name}' is used as a density, but no {name}(...) appears in the text")

    def declare_draws(self, var: sp.Symbol, count, dist) -> None:
        """z_1 .. z_K drawn independently from dist (written E_{z_{1:K} \\sim q(z|x)}): the samples of z,
        numbered by the index that runs over 1..K (a new one, named after K, when none does)."""
        ctx = self.context
        name = var.name
        if name in ctx.samples:
            idx, _, declared = ctx.samples[name]
            if declared != dist:
                raise InputError(f"the draws of {name} are said to come from {dist} here and from {declared} "
                                 "elsewhere")
            if ctx.indices.get(idx.name, (None, None, None))[2] != count:
                raise InputError(f"the draws of {name} are numbered up to {count} here and up to "
                                 f"{ctx.indices[idx.name][2]} elsewhere")
            return
        idx = next((sym for sym, lo, hi in ctx.indices.values() if lo == 1 and hi == count), None)
        if idx is None:
            base = count.name.lower() if isinstance(count, sp.Symbol) and count.name.isalpha() else "k"
            idx_name = next(n for n in (base, f"{base}_draw", "k_draw") if n not in ctx.indices
                            and n not in ctx.symbols)
            idx = ctx.index(idx_name, sp.Integer(1), count)
        ctx.samples[name] = (idx, var, dist)
        self.sample_indices.add(idx.name)
        self.notes.append(f"{name}_{idx.name}, {idx.name} = 1..{count}, are independent draws of {dist}")

    def default_q(self):
        """E[...] without a subscript: the q (or Q) the derivation is about."""
        for name in ("q", "Q"):
            for d in list(self.context.families) + self.seen.get(name, []):
                if isinstance(d, Density) and d.name == name:
                    return d
        raise InputError("E[...] without a subscript, and no q(z) in the text to take it from")

    def distribution_of(self, var):
        """The distribution a variable is drawn from: declared, eps ~ N(0, 1), or a q over it."""
        ctx = self.context
        if var in ctx.randoms:
            return ctx.randoms[var]
        name = getattr(var, "name", "")
        if name.startswith("eps"):
            dist = Normal(var, 0, 1)
            ctx.randoms[var] = dist
            self.notes.append(f"{name} ~ N(0, 1) assumed (E or Var over {name} with no declaration)")
            return dist
        for dname in ("q", "Q"):
            for d in list(ctx.families) + self.seen.get(dname, []):
                if isinstance(d, Density) and d.name == dname and var in d.vars:
                    return d
        for lst in self.seen.values():
            for d in lst:
                if var in d.vars:
                    return d
        return None


@v_args(inline=True)
class LatexTermBuilder(Transformer_NonRecursive):
    def __init__(self, env: LatexEnv):
        super().__init__()
        self.env = env
        self.ctx = env.context
        self.r = env.resolver
        # density letters written in this expression with arguments but without a parameter (p(x, z)
        # where the text writes p_theta elsewhere): whether they depend on it is not said
        self.unsubscripted: set[str] = set()

    # -- symbols --------------------------------------------------------------
    def symbol(self, tok, scripts):
        base = _base_name(str(tok))
        subs, label, draws = [], None, None
        for s in scripts:
            if s.type == "SUBSCRIPT" and _DRAW_RANGE.fullmatch(str(s)) and not subs and draws is None:
                m = _DRAW_RANGE.fullmatch(str(s))
                draws = (m.group(1), m.group(2))
            elif s.type == "SUBSCRIPT":
                subs.extend(_subscript(str(s)))
            else:
                label = _label(str(s))
        if base in self.env.cal_conflicts:
            base = base + "_plain"
        return SymRef(base, subs, label, str(tok), draws)

    def scripts(self, *toks):
        return list(toks)

    def value(self, x):
        """Any child as a term: resolves symbols, rejects misplaced pieces."""
        if isinstance(x, SymRef):
            return self._resolve(x)
        if isinstance(x, PointlessNormal):
            raise InputError("N(mean, var) needs a point here: write \\mathcal{N}(z; \\mu, \\sigma^2)")
        if isinstance(x, (tuple, list)):
            raise InputError("a list of expressions cannot stand here")
        return x

    def _resolve(self, s: SymRef):
        if s.draws is not None:
            raise InputError(f"'{s.text}_{{{s.draws[0]}:{s.draws[1]}}}' (several draws at once) is read only under "
                             "an expectation over those draws")
        if s.base == "pi" and not s.subs:
            return sp.pi
        if s.base == "e" and not s.subs and s.label is None:
            return sp.E
        if "fold-case" in self.env.switches and len(s.base) == 1 and s.base.isupper() and not s.subs \
                and s.base.lower() in self.env.density_variables():
            s = SymRef(s.base.lower(), [], s.label, s.text)
        sample = None
        if s.label:
            if len(s.label) >= 2:
                sample = s.label[-1]
            elif s.label[0] in self.env.sample_indices or s.label[0].isdigit():
                sample = s.label[0]  # z^{(l)}, and z^{(1)} kept apart from z^{(2)}
        term = None
        if s.subs and s.name not in self.ctx.functions:
            # sigma_j with j an index is a component, even if a plain sigma_j was met before j
            base, sub = s.name.rsplit("_", 1)
            if sub in self.ctx.indices:
                term = self.r._component(base, sub)
        if term is None:
            term = self.r.name(s.name)
        if sample is None:
            return term
        if s.base in self.ctx.functions:
            # x_hat_j^{(i,l)}: the decoder output at the l-th sample of its variables
            repl = {v: self.r.name(f"{v.name}_{sample}") for v in self.ctx.functions[s.base] if hasattr(v, "name")}
            return term.xreplace(repl)
        return self.r.name(f"{s.name}_{sample}")

    # -- arithmetic ----------------------------------------------------------
    def number(self, tok):
        text = str(tok)
        if len(text) > 30:
            raise InputError(f"number {text[:20]}... is too long")
        return sp.Rational(text) if "." in text else sp.Integer(int(text))

    def group(self, e):
        return self.value(e)

    def infinity(self, tok):
        return sp.oo

    def add(self, a, b):
        return self.value(a) + self.value(b)

    def sub(self, a, b):
        return self.value(a) - self.value(b)

    def mul(self, a, op, b):
        return self.value(a) * self.value(b)

    def imul(self, a, b):
        return self.value(a) * self.value(b)

    def div(self, a, b):
        b = self.value(b)
        if b == 0:
            raise InputError("division by zero")
        return self.value(a) / b

    def neg(self, a):
        return -self.value(a)

    def frac(self, tok, a, b):
        return self.div(a, b)

    def pow(self, a, b):
        if isinstance(b, SymRef) and b.name in ("T",):
            raise InputError("transposes (^T) are outside the notation (matrix calculus is not checked)")
        base, exponent = self.value(a), self.value(b)
        if base == sp.E:
            return sp.exp(exponent)
        if base.is_Number and exponent.is_Number and base != 0 and \
                abs(float(exponent)) * math.log2(abs(float(base)) + 2) > 4096:
            raise InputError(f"power {base}^{exponent} is too large")
        return safe_pow(base, exponent)

    def paren_superscript(self, a, b):
        raise InputError("a superscript in parentheses is a label such as x^{(i)} or z^{(i,l)}; "
                         "expressions like ^{(i+1)} are not supported")

    def sqrt(self, tok, a):
        return sp.sqrt(self.value(a))

    def root(self, tok, n, a):
        n = self.value(n)
        if not (n.is_Integer and 1 < n <= MAX_EXPONENT):
            raise InputError("\\sqrt[n]{...} needs a small whole n")
        return sp.root(self.value(a), n)

    def log(self, tok, a):
        return sp.log(self.value(a))

    def log_pow_inside(self, tok, a, k):
        # \log(\sigma_j)^2 is read as log(sigma_j^2): students write it for log sigma^2
        return sp.log(safe_pow(self.value(a), self.value(k)))

    def exp(self, tok, a):
        return sp.exp(self.value(a))

    def logrun(self, *items):
        out = sp.Integer(1)
        for it in items:
            out = out * (self.number(it) if isinstance(it, Token) else self.value(it))
        return out

    def diag(self, tok, a):
        return self.value(a)

    # -- calls ---------------------------------------------------------------
    def callargs(self, *items):
        """Arguments split at their separators: (main, given, after_semicolon)."""
        groups, seps = [[]], []
        for it in items:
            if isinstance(it, Token) and it.type == "SEP":
                sep = {"\\mid": "|", "\\vert": "|"}.get(str(it), str(it))
                if sep != ",":
                    seps.append(sep)
                    groups.append([])
            else:
                groups[-1].append(it)
        return seps, groups

    def call(self, head: SymRef, args):
        seps, groups = args
        name = head.name
        r = self.r
        if seps and seps[0] == "|" and r.density_name(name) is None and _density_letter(head):
            # g_theta(x|z), r(z|x): a letter applied to a conditional is a density, whatever its letter
            self.ctx.density_names.add(head.base)
            self.env.notes.append(f"{head.base}(.|.) is read as a density (it is written with a conditional bar)")
        dname = r.density_name(name)
        sub = name.partition("_")[2]
        if dname is not None and (not sub or sub in PARAMETER_SUBSCRIPTS or sub.isdigit() or sub in self.ctx.indices
                                  or sub in parameter_names(self.ctx, dname)):
            if ";" in seps and seps.index(";") >= len(seps) - 1 and seps[:-1] in ([], ["|"]):
                # p(x; theta), p(x | z; theta): what follows the semicolon are parameters
                for g in groups[-1]:
                    if isinstance(g, SymRef):
                        self._carries(dname, g.name)
                seps, groups = seps[:-1], groups[:-1]
            else:
                if not sub:
                    self.unsubscripted.add(dname)
            if seps not in ([], ["|"]) or any(len(g) == 0 for g in groups):
                raise InputError(f"{name}(...): a density is written {name}(x) or {name}(x|z)")
            if sub in PARAMETER_SUBSCRIPTS:
                self._carries(dname, sub)
            vars_ = [self.value(a) for a in groups[0]]
            given = [self.value(a) for a in groups[1]] if len(groups) > 1 else []
            d = r.density(dname, vars_, given)
            self.env.saw(d)
            factor = self._declared_factor(d)
            return d if factor is None else factor
        # mu_phi(x): a network output; J(r) with r a density of the text: a functional of it
        is_function = dname is not None or self._function_like(head) or (
            len(head.base) == 1 and not seps and len(groups[0]) == 1 and self._is_bare_density(groups[0][0])
            and self.r.density_name(groups[0][0].name) in self.env.seen)
        if is_function:
            if any(self._is_bare_density(a) for g in groups for a in g):
                # F(q): a named functional of a density, kept opaque
                self.env.notes.append(f"{name}(...) of a density is read as an opaque quantity {name}")
                return self.ctx.symbols.get(name) or self.ctx.declare(name, "real")
            if seps:
                raise InputError(f"{name}(...): unexpected '{seps[0]}' in the arguments of a function")
            return sp.Function(name, real=True)(*[self.value(a) for a in groups[0]])
        if seps or len(groups[0]) != 1:
            raise InputError(f"'{name}(...)' is not a function the grader knows")
        if self._output_of(head, groups[0][0]) or ("apply" in self.env.switches and head.label is None):
            return sp.Function(name, real=True)(self.value(groups[0][0]))
        # epsilon(-eps/sigma + mu), x(1 - x): implicit multiplication
        return self.value(head) * self.value(groups[0][0])

    def _declared_factor(self, d: Density):
        """q(z_j|x) where q(z|x) is declared a product over the coordinates of z: the density of
        the coordinate z_j, which is its factor at j."""
        if len(d.vars) != 1 or not isinstance(d.vars[0], sp.Indexed) or len(d.vars[0].indices) != 1:
            return None
        comp = d.vars[0]
        for dens, fam in self.ctx.families.items():
            if not (isinstance(dens, Density) and dens.name == d.name and tuple(dens.given) == tuple(d.given)
                    and len(dens.vars) == 1 and dens.vars[0] == comp.base.label):
                continue
            if isinstance(fam, sp.Product) and len(fam.limits) == 1 and is_density(fam.function):
                self.env.notes.append(f"{d} is the factor at {comp.indices[0]} of {dens} ~ {fam}")
                return fam.function.xreplace({fam.limits[0][0]: comp.indices[0]})
        return None

    def call_pow(self, head: SymRef, exponent, args):
        """\\sigma^2_\\phi(x) is (sigma_phi(x))^2; x^2(1 - x) is x^2 (1 - x)."""
        seps, groups = args
        if self._function_like(head) or self.r.density_name(head.name) is not None or \
                (not seps and len(groups[0]) == 1 and self._output_of(head, groups[0][0])):
            return self.pow(self.call(head, args), exponent)
        if seps or len(groups[0]) != 1:
            raise InputError(f"'{head.name}^...(...)' is not a function the grader knows")
        return self.pow(head, exponent) * self.value(groups[0][0])

    def call_pow_pow(self, head: SymRef, exponent, args, exponent2):
        """\\hat{x}_j^{x_j}(1 - \\hat{x}_j)^{1 - x_j}: a power times a bracket raised to a power."""
        seps, groups = args
        if seps or len(groups[0]) != 1:
            raise InputError(f"'{head.name}^...(...)^...' is not an expression the grader knows")
        # a function raised to a power and then its value raised again (f^a(x)^b) is not written:
        # the bracket is a factor of its own, whatever the letter before it
        return self.pow(head, exponent) * self.pow(groups[0][0], exponent2)

    @staticmethod
    def _output_of(head: SymRef, arg) -> bool:
        """mu(x), sigma(x): a Greek letter applied to one plain symbol is a model output."""
        greek = head.base in GREEK_NAMES.values() or head.base in GREEK
        return greek and head.base not in ("pi", "eps") and isinstance(arg, SymRef) and head.label is None

    def _function_like(self, head: SymRef) -> bool:
        return (head.name in self.ctx.functions or head.base in FUNCTION_LETTERS or head.base in self.ctx.functions
                or bool(head.subs and head.subs[-1] in PARAMETER_SUBSCRIPTS))

    def _is_bare_density(self, a) -> bool:
        return (isinstance(a, SymRef) and self.r.density_name(a.name) is not None and a.label is None
                and (not a.subs or a.subs[-1] in PARAMETER_SUBSCRIPTS
                     or a.subs[-1] in parameter_names(self.ctx, a.base)))

    def _density_arg(self, a):
        if self._is_bare_density(a):
            return self.env.bare_density(a.name)
        if isinstance(a, PointlessNormal):
            return a
        return self.value(a)

    def normal(self, tok, args):
        seps, groups = args
        if seps == ["|"]:
            seps = [";"]  # \mathcal{N}(z \mid \mu, \sigma^2): the point before a bar, as before a semicolon
        if ";" in seps:
            if seps != [";"] or len(groups[0]) != 1 or len(groups[1]) != 2:
                raise InputError("write the normal density as \\mathcal{N}(z; \\mu, \\sigma^2)")
            point = self.value(groups[0][0])
            mean, var = groups[1]
        else:
            if seps or len(groups[0]) != 2:
                if str(tok) == "N" and not seps and len(groups[0]) == 1:
                    return self.r.name("N") * self.value(groups[0][0])
                raise InputError("a normal distribution needs a mean and a variance: \\mathcal{N}(\\mu, \\sigma^2)")
            point = None
            mean, var = groups[0]
        one = {sp.Symbol("I"): sp.Integer(1)}
        mean, var = self.value(mean), self.value(var).xreplace(one)
        if _is_standard_deviation(var):
            var = var ** 2
        if point is None:
            return PointlessNormal(mean, var)
        mean, var = (x.xreplace({sp.Symbol("I"): sp.Integer(1)}) for x in (mean, var))
        return PointlessNormal(mean, var).at(point, self.ctx)

    def word(self, tok, scripts, args=None):
        name = re.sub(r"^\\[A-Za-z]+\s*\{\s*|\s*\}$", "", str(tok))
        if name in BERNOULLI_WORDS and args is not None:
            # \mathrm{Bern}(x_j; p_j), \text{Bernoulli}(x; m): the Bernoulli mass of x with mean m
            seps, groups = args
            if len(groups) != 2 or any(len(g) != 1 for g in groups):
                raise InputError(f"write the Bernoulli mass as \\mathrm{{{name}}}(x; m)")
            return Bernoulli(self.value(groups[0][0]), self.value(groups[1][0]))
        if name in ("E", "Var", "KL", "diag"):
            raise InputError(f"{name} needs its argument")
        name = _with_subscripts(name, scripts)
        sym = self.ctx.symbols.get(name)
        if sym is None or self.ctx.kinds.get(name) != "real":
            sym = self.ctx.declare(name, "real")
        return sym

    def calligraphic(self, tok, scripts=None, args=None):
        letter = re.sub(r"[^A-Z]", "", str(tok).replace("\\mathcal", ""))
        if letter == "O":
            raise InputError("order symbols \\mathcal{O}(...) are outside the notation (Taylor expansions are not checked)")
        if letter == "N":
            raise InputError("\\mathcal{N} needs its arguments: \\mathcal{N}(\\mu, \\sigma^2)")
        # \mathcal{L}_\beta and \mathcal{L}_{ELBO} are two names: merging them would prove L_beta >= L_ELBO.
        name = _with_subscripts(letter, scripts)
        sym = self.ctx.symbols.get(name)
        if sym is None or self.ctx.kinds.get(name) != "real":
            sym = self.ctx.declare(name, "real")
        return sym

    # -- operators -------------------------------------------------------------
    def esub_sim(self, var, sim, dist):
        if isinstance(var, SymRef) and var.draws is not None:
            return self._draws(var, dist)
        var = self.value(var)
        dist = unit_identity(self._density_arg(dist), var, self.ctx)
        return bind_distribution(var, dist, self.ctx)

    def esub_plain(self, x):
        if self._is_bare_density(x):
            d = self.env.bare_density(x.name)
            vs = density_vars(d)
            return (vs[0] if len(vs) == 1 else sp.Tuple(*vs)), d
        if isinstance(x, PointlessNormal):
            raise InputError("E_{N(...)} needs its variable: write E_{\\epsilon \\sim N(0, 1)}")
        x = self.value(x)
        if is_density(x):
            vs = density_vars(x)
            return (vs[0] if len(vs) == 1 else sp.Tuple(*vs)), x
        dist = self.env.distribution_of(x)
        if dist is None:
            raise InputError(f"E_{{{x}}}: no distribution is known for {x}")
        return x, dist

    def _draws(self, ref: SymRef, dist) -> "_Draws":
        """E_{z_{1:K} \\sim q(z|x)}: the K independent draws z_1 .. z_K of q(z|x). The subscript
        declares them (as samples of z, numbered by the index running over 1..K) so that z_k in the body
        is the k-th draw."""
        lo_text, hi_text = ref.draws
        if lo_text != "1":
            raise InputError(f"draws {ref.base}_{lo_text} .. {ref.base}_{hi_text}: draws are read from the first one")
        hi = sp.Integer(int(hi_text)) if hi_text.isdigit() else self.r.name(hi_text)
        if not (isinstance(hi, sp.Integer) and hi >= 1) and not (isinstance(hi, sp.Symbol) and hi.is_integer):
            raise InputError(f"draws {ref.base}_1 .. {ref.base}_{hi_text}: the number of draws must be a count")
        var = self.r.name(ref.base)
        if not isinstance(var, sp.Symbol):
            raise InputError(f"draws of '{ref.text}': not a variable")
        dist = unit_identity(self._density_arg(dist), var, self.ctx)
        var, dist = bind_distribution(var, dist, self.ctx)
        if var not in density_vars(dist):
            raise InputError(f"draws of {var} from {dist}, which is not a density of {var}")
        self.env.declare_draws(var, hi, dist)
        return _Draws(var, sp.Integer(1), hi, dist)

    def vsub(self, spec):
        return spec

    def expectation(self, tok, *rest):
        if len(rest) == 2 and isinstance(rest[0], _Draws):
            d = rest[0]
            return SampleExpectation(self.value(rest[1]), d.var, d.lo, d.hi, d.dist)
        if len(rest) == 2:
            (var, dist), body = rest
            return draws_as_variables(Expectation(self.value(body), var, dist))
        else:
            body = self.value(rest[0])
            if "e-by-variable" in self.env.switches:
                owned = [s for s in body.free_symbols if self.env.distribution_of(s) is not None]
                if len(owned) == 1:
                    return Expectation(body, owned[0], self.env.distribution_of(owned[0]))
            randoms = self._randoms_in(body)
            if len(randoms) == 1 and not any(getattr(s, "name", "") == "z" and s not in self.ctx.lets
                                             for s in body.free_symbols):
                # E[eps^2], E[z] with z = mu + sigma*eps: over the one random variable in the body
                var = randoms[0]
                dist = self.env.distribution_of(var)
            else:
                try:
                    dist = self.env.default_q()
                except InputError:
                    if not randoms and not ({getattr(s, "name", "") for s in body.free_symbols}
                                            & self.env.density_variables()):
                        # E[mu]: no random variable in it, no distribution in the text: a constant
                        self.env.notes.append(f"E[{body}] has no random variable in it; read as {body}")
                        return body
                    raise
                vs = density_vars(dist)
                var = vs[0] if len(vs) == 1 else sp.Tuple(*vs)
        return Expectation(self.value(body), var, dist)

    def _randoms_in(self, body) -> list:
        """The random variables in a term: declared ones, eps, and those inside a let (z = mu + sigma*eps)."""
        out = []
        for s in body.free_symbols:
            if s in self.ctx.randoms or getattr(s, "name", "").startswith("eps"):
                out.append(s)
            elif s in self.ctx.lets:
                out.extend(r for r in sp.sympify(self.ctx.lets[s]).free_symbols
                           if r in self.ctx.randoms or getattr(r, "name", "").startswith("eps"))
        return list(dict.fromkeys(out))

    def variance(self, tok, *rest):
        if len(rest) == 2:
            (var, dist), body = rest
            return Variance(self.value(body), var, dist)
        body = self.value(rest[0])
        candidates = [s for s in body.free_symbols if self.env.distribution_of(s) is not None]
        if not candidates:
            candidates = self._randoms_in(body)
        if len(candidates) != 1:
            raise InputError(f"Var({body}): cannot tell which random variable it is taken over")
        var = candidates[0]
        return Variance(body, var, self.env.distribution_of(var))

    def kl(self, tok, a, sep, b):
        if self._is_bare_density(b) and not self._is_bare_density(a):
            a = self._density_arg(a)
            b = self.env.bare_density(b.name, density_vars(a) if is_density(a) else None)
        elif self._is_bare_density(a) and not self._is_bare_density(b):
            b = self._density_arg(b)
            a = self.env.bare_density(a.name, density_vars(b) if is_density(b) else None)
        else:
            a = self._density_arg(a)
            b = self._density_arg(b) if not self._is_bare_density(b) else \
                self.env.bare_density(b.name, density_vars(a) if is_density(a) else None)
        if isinstance(a, PointlessNormal) or isinstance(b, PointlessNormal):
            other = b if isinstance(a, PointlessNormal) else a
            if isinstance(other, PointlessNormal):
                var = self.r.name("z")
            else:
                var = density_vars(other)[0]
            a = unit_identity(a, var, self.ctx).at(var, self.ctx) if isinstance(a, PointlessNormal) else a
            b = unit_identity(b, var, self.ctx).at(var, self.ctx) if isinstance(b, PointlessNormal) else b
        for d in (a, b):
            if not is_density(d):
                raise InputError(f"KL( . || . ) takes densities, got {d}")
        if density_vars(a) != density_vars(b):
            raise InputError(f"KL({a} || {b}): the two densities are over different variables")
        return KL(a, b)

    def entropy(self, tok, a):
        d = self._density_arg(a)
        if isinstance(d, PointlessNormal):
            raise InputError("the entropy of N(mean, var) needs its variable: write H[\\mathcal{N}(z; \\mu, \\sigma^2)]")
        if not is_density(d):
            dist = self.env.distribution_of(d) if isinstance(d, sp.Symbol) else None
            if dist is None:
                raise InputError(f"H[{d}]: the entropy of a density, or of a variable with a known distribution")
            d = dist
        return Entropy(d)

    def kl_name(self, tok):
        # "KL = \frac{1}{2}(...)": the KL term as a named quantity
        return self.ctx.symbols.get("KL") or self.ctx.declare("KL", "real")

    # -- sums, products, integrals, derivatives --------------------------------
    def lim_range(self, tok, lo, hi):
        name = _base_name(str(tok))
        lo, hi = self.value(lo), self.value(hi)
        self.env.bounds |= {s.name for s in hi.free_symbols if isinstance(s, sp.Symbol)}
        if name in self.ctx.indices:
            return self.ctx.indices[name][0], lo, hi
        return self.ctx.index(name, lo, hi), lo, hi

    def lim_index(self, tok):
        name = _base_name(str(tok))
        if name in self.ctx.indices:
            return self.ctx.indices[name]
        upper = name.upper() if name.upper() != name else name + "_max"
        hi = self.ctx.symbols.get(upper) or self.ctx.declare(upper, "positive integer")
        return self.ctx.index(name, sp.Integer(1), hi), sp.Integer(1), hi

    def sum_op(self, tok, limits, body):
        return sp.Sum(self.value(body), limits)

    def prod_op(self, tok, limits, body):
        return sp.Product(self.value(body), limits)

    def intlimits(self, *items):
        return items

    def integral(self, tok, limits, body, diff):
        var = self.r.name(_base_name(re.sub(r"^d\s*", "", str(diff))))
        bounds = [self.value(x) for x in limits]
        # \int_z f dz, \int_{R^d} f dz: a lone subscript that is not a number names the domain
        over_a_domain = len(bounds) == 1 and not bounds[0].is_number
        if bounds and bounds != [-sp.oo, sp.oo] and not over_a_domain:
            # The checker's integrals run over the whole space; reading \int_0^1 as one would prove
            # \int_0^1 q(z) dz = 1. A range is refused, so the line is left for a person.
            raise InputError("an integral over a range (\\int_a^b) is outside the notation; "
                             "only integrals over the whole space are read")
        return sp.Integral(self.value(body), var)

    def deriv_apply(self, frac, p1, p2, var, body):
        v = self._deriv_var(var)
        body = self.value(body)
        self._no_hidden_dependence(body, v)
        return sp.Derivative(body, v)

    def _carries(self, dname: str, parameter: str) -> None:
        """q_theta(z), p(x; theta): the density depends on the parameter, a declaration the checker
        reads (``Context.parameters``) when it differentiates with respect to it."""
        self.env.density_params.setdefault(dname, set()).add(parameter)
        sym = self.r.name(parameter)
        if isinstance(sym, sp.Symbol) and sym not in self.ctx.parameters.get(dname, ()):
            self.ctx.parameters[dname] = tuple(self.ctx.parameters.get(dname, ())) + (sym,)

    def _dependencies(self, body) -> set:
        """The symbols a term depends on, through declared families and reparameterizations too."""
        out = set(body.free_symbols)
        for d in body.atoms(Density):
            if d in self.ctx.families:
                out |= sp.sympify(self.ctx.families[d]).free_symbols
                out |= {ix.base.label for ix in sp.sympify(self.ctx.families[d]).atoms(sp.Indexed)}
        for d in body.atoms(Density):
            out |= set(self.ctx.parameters.get(d.name, ()))
        for s in list(out):
            if s in self.ctx.lets:
                out |= sp.sympify(self.ctx.lets[s]).free_symbols
        return out

    def _no_hidden_dependence(self, body, v):
        """A derivative with respect to theta of q_theta(z) or f_theta(z): the term does not show
        how it depends on theta, so the derivative cannot be taken; refuse rather than read 0."""
        name = getattr(v, "name", None)
        if name is None:
            return
        for d in body.atoms(Density):
            if d.name in self.unsubscripted and any(getattr(t, "name", None) == name
                                                    for t in self.ctx.parameters.get(d.name, ())):
                # p(x, z) here, p_theta(x) elsewhere: the text may mean a density that does not depend on theta
                raise InputError(f"a derivative with respect to {name} of {d}, written without the {name} that "
                                 f"{d.name} carries elsewhere in the text, is not checked (whether it depends on "
                                 f"{name} is not said)")
        for f in body.atoms(sp.core.function.AppliedUndef):
            if name in type(f).__name__.split("_")[1:]:
                raise InputError(f"a derivative with respect to {name} of {type(f).__name__}, which depends on "
                                 f"{name} through its subscript, is not checked")
        if body.free_symbols and v not in self._dependencies(body):
            raise InputError(f"a derivative with respect to {name} of an expression in which {name} does not "
                             f"appear is not checked (it may depend on {name} in a way the text does not show)")

    def deriv_of(self, frac, p1, f, p2, var):
        v = self._deriv_var(var)
        if isinstance(f, SymRef) and (f.name in self.ctx.functions or f.base in self.ctx.functions):
            return sp.Derivative(self.value(f), v)
        if isinstance(f, SymRef):
            sym = self.ctx.symbols.get(f.name)
            if sym is not None and sym in self.ctx.lets:
                return sp.Derivative(self.ctx.lets[sym], v)
        raise InputError(f"\\partial {getattr(f, 'name', f)}/\\partial {v}: {getattr(f, 'name', f)} is not "
                         "defined in the text as a function of " + str(v))

    def _deriv_var(self, var):
        v = self.value(var)
        if not isinstance(v, (sp.Symbol, sp.Indexed)):
            raise InputError(f"cannot differentiate with respect to {v}")
        return v


def _density_letter(head: SymRef) -> bool:
    """A single Latin letter (with parameter subscripts at most) can name a density."""
    return (len(head.base) == 1 and head.base.isalpha() and head.label is None
            and all(s in PARAMETER_SUBSCRIPTS for s in head.subs))


# Alternative readings of notation that admits more than one: name -> what the report says
READINGS = {
    "fold-case": "a capital letter read as the variable it stands for (X as x)",
    "e-by-variable": "E without a subscript taken over the distribution of the variable in it",
    "apply": "a letter before parentheses read as a function applied to them (t(x), not t times x)",
    "log-wide": "\\log taking the whole product after it (\\log a b as log(ab))",
    "e-wide": "E without brackets taking everything after it (E_q log p - log q as E_q[log p - log q])",
}


def unit_identity(dist, point, ctx: Context):
    """N(0, I) at a scalar point is N(0, 1); at a vector point PointlessNormal.at handles I."""
    if isinstance(dist, PointlessNormal) and not (hasattr(point, "name") and ctx.is_vector(point.name)):
        one = {sp.Symbol("I"): sp.Integer(1)}
        return PointlessNormal(dist.mean.xreplace(one), dist.var.xreplace(one))
    return dist


# -- names -------------------------------------------------------------------
_DECOR_RE = re.compile(r"\\([A-Za-z]+)\s*\{?\s*(?:\\(?:mathbf|boldsymbol|bm|mathrm)\s*\{\s*)?(\\[A-Za-z]+|[A-Za-z])")


def _base_name(text: str) -> str:
    """LaTeX spelling of one symbol -> its name: \\hat{x} -> x_hat, \\epsilon -> eps, \\mathbf{z} -> z."""
    text = text.strip()
    if len(text) == 1:
        return text
    if text.startswith("\\") and text[1:] in GREEK:
        return GREEK_NAMES.get(text[1:], text[1:])
    m = _DECOR_RE.match(text)
    if not m:
        return re.sub(r"[^A-Za-z0-9_]", "", text) or "x"
    cmd, inner = m.group(1), m.group(2)
    inner = _base_name(inner) if inner.startswith("\\") else inner
    if cmd in DECORATION_SUFFIX:
        return f"{inner}_{DECORATION_SUFFIX[cmd]}"
    return inner


_DRAW_RANGE = re.compile(r"_\s*\{\s*([0-9]+|[A-Za-z])\s*:\s*([0-9]+|[A-Za-z])\s*\}")


def _subscript(text: str) -> list[str]:
    """'_j' -> ['j']; '_{\\theta}' -> ['theta']; '_{ij}' -> ['ij']; '_{\\text{rec}}' -> ['rec']."""
    body = text[1:].strip()
    if body.startswith("{"):
        body = body[1:-1]
    body = re.sub(r"\\(?:text|mathrm|mathit|operatorname|mathbf|boldsymbol|bm)\s*\{([^{}]*)\}", r"\1", body)
    if ":" in body:
        raise InputError(f"subscript '{text}' is a range of indices (several draws at once); "
                         "an expectation over several draws is not read")
    if re.search(r"[|=<>\\^+\-*/()]", re.sub(r"\\[A-Za-z]+", "", body)):
        raise InputError(f"subscript '{text}' is not a name or an index")
    parts = []
    for piece in body.split(","):
        piece = re.sub(r"\\([A-Za-z]+)", lambda m: _base_name("\\" + m.group(1)), piece)
        piece = re.sub(r"[^A-Za-z0-9]", "", piece)
        if not piece:
            raise InputError(f"empty subscript '{text}'")
        parts.append(piece)
    return ["".join(parts)] if len(parts) > 1 else parts


def _with_subscripts(name: str, scripts) -> str:
    """A named quantity with its subscripts, which tell quantities apart: L, L_beta, L_ELBO."""
    subs = [part for s in scripts or () if s.type == "SUBSCRIPT" for part in _subscript(str(s))]
    return "_".join([name, *subs])


def _label(text: str) -> tuple:
    inner = text[text.index("(") + 1: text.rindex(")")]
    return tuple(p.strip() for p in inner.split(","))


def _is_standard_deviation(var) -> bool:
    """N(mu, sigma) with a plain sigma means standard deviation sigma."""
    if isinstance(var, sp.Indexed):
        name = var.base.label.name
    elif isinstance(var, sp.Symbol):
        name = var.name
    elif isinstance(var, sp.Function) or isinstance(var, sp.core.function.AppliedUndef):
        name = type(var).__name__
    else:
        return False
    head = name.split("_")
    return head[0] == "sigma" or (len(head) > 1 and head[1] == "sigma")


# -- cleanup -----------------------------------------------------------------
UNICODE = {
    "α": "\\alpha ", "β": "\\beta ", "γ": "\\gamma ", "δ": "\\delta ", "ε": "\\epsilon ", "ϵ": "\\epsilon ",
    "ζ": "\\zeta ", "η": "\\eta ", "θ": "\\theta ", "λ": "\\lambda ", "μ": "\\mu ", "ν": "\\nu ", "ξ": "\\xi ",
    "π": "\\pi ", "ρ": "\\rho ", "σ": "\\sigma ", "τ": "\\tau ", "φ": "\\phi ", "ϕ": "\\phi ", "χ": "\\chi ",
    "ψ": "\\psi ", "ω": "\\omega ", "Σ": "\\Sigma ", "∑": "\\sum ", "∏": "\\prod ", "∫": "\\int ",
    "∂": "\\partial ", "·": "\\cdot ", "×": "\\times ", "⊙": "\\odot ", "∞": "\\infty ", "−": "-", "∥": "\\| ",
    "𝔼": "\\mathbb{E}", "√": "\\sqrt ",
}
_UNICODE_RE = re.compile("|".join(map(re.escape, UNICODE)))
# x^2_j -> x_j^2 (also \sum^{N}_{i=1} -> \sum_{i=1}^{N}); labels x^{(i)} are left alone
_SUP_SUB = re.compile(r"(\\[A-Za-z]+|[A-Za-z]|\})\s*\^\s*(\{[^{}()]*\}|[0-9A-Za-z])\s*_\s*(\{[^{}]*\}|\\[A-Za-z]+|[0-9A-Za-z])")


_WRAPPERS = re.compile(r"\\(underbrace|overbrace|boxed|cancel|bcancel|xcancel|textcolor|color|colorbox|mathop|"
                       r"underset|overset|operatorname\*)\s*\{")


def _group_end(text: str, start: int) -> int:
    """Index just past the {...} group that opens at ``start`` (len(text) when unbalanced)."""
    depth = 0
    for i in range(start, len(text)):
        c = text[i]
        if c == "\\":
            continue
        if c == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif c == "}" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)


def unwrap(text: str) -> str:
    """\\underbrace{X}_{note} -> X, \\boxed{X} -> X, \\textcolor{red}{X} -> X, \\mathop{X} -> X;
    \\underset{a}{b} / \\overset{a}{b} (not around a relation) -> b."""
    for _ in range(50):
        m = _WRAPPERS.search(text)
        if not m:
            return text
        cmd, open_at = m.group(1), m.end() - 1
        end = _group_end(text, open_at)
        inner = text[open_at + 1:end - 1]
        rest = text[end:]
        if cmd in ("textcolor", "color", "colorbox", "underset", "overset"):
            # the first group is a colour or an annotation; the second is the content
            m2 = re.match(r"\s*\{", rest)
            if m2:
                end2 = _group_end(rest, m2.end() - 1)
                inner, rest = rest[m2.end():end2 - 1], rest[end2:]
            elif cmd == "color":
                inner = ""
        if cmd in ("underbrace", "overbrace"):
            m2 = re.match(r"\s*[_^]\s*\{", rest)
            if m2:
                rest = rest[_group_end(rest, m2.end() - 1):]
            else:
                rest = re.sub(r"^\s*[_^]\s*\\?[A-Za-z0-9]", "", rest)
        if cmd in ("mathop", "operatorname*"):
            text = text[:m.start()] + inner + rest
        else:
            text = text[:m.start()] + "{" + inner + "}" + rest
    return text


_SIM_MARKED = re.compile(r"\\(?:stackrel|overset)\s*\{(?:[^{}]|\{[^{}]*\})*\}\s*\{\s*\\sim\s*\}")
_DRAW = r"(\\[A-Za-z]+\s*\{\s*\\?[A-Za-z]+\s*\}|\\[A-Za-z]+|[A-Za-z])"
_DRAW_INDEX = r"(?:_\s*\{\s*([0-9A-Za-z]+)\s*\}|_\s*([0-9A-Za-z])|\^\s*\{\s*\(\s*([0-9A-Za-z]+)\s*\)\s*\})"
_DRAW_LIST = re.compile(_DRAW + r"\s*" + _DRAW_INDEX + r"\s*,\s*(?:\\[lc]?dots|\.\.\.|…)\s*,\s*" + _DRAW + r"\s*"
                        + _DRAW_INDEX + r"(?=\s*\\sim)")


def draw_lists(text: str) -> str:
    """Several draws under one sampling sign: ``z_1, \\dots, z_K \\sim q`` and ``z^{(1)}, \\dots, z^{(K)}
    \\sim q`` are written ``z_{1:K} \\sim q``, and a marked sampling sign (``\\stackrel{iid}{\\sim}``)
    is ``\\sim``: the independent draws z_1 .. z_K, each from q."""
    text = _SIM_MARKED.sub(r"\\sim", text)

    def repl(m):
        first, last = m.group(1), m.group(5)
        if re.sub(r"\s+", "", first) != re.sub(r"\s+", "", last):
            return m.group(0)
        lo = m.group(2) or m.group(3) or m.group(4)
        hi = m.group(6) or m.group(7) or m.group(8)
        return "%s_{%s:%s}" % (first, lo, hi)
    return _DRAW_LIST.sub(repl, text)


def _hat_words(text: str) -> str:
    """\\hat{\\text{ELBO}} -> \\text{ELBOhat}: a decorated word is a name of its own."""
    return re.sub(r"\\(hat|widehat|tilde|widetilde|bar|overline)\s*\{\s*\\(?:text|mathrm|operatorname)\s*\{\s*([A-Za-z]{2,})\s*\}\s*\}",
                  lambda m: "\\text{%s%s}" % (m.group(2), DECORATION_SUFFIX.get(m.group(1), m.group(1))), text)


_BRACED_SYMBOL = re.compile(r"\{\s*(\\[A-Za-z]+|[A-Za-z])\s*(_\s*(?:\{[^{}]*\}|\\[A-Za-z]+|[A-Za-z0-9]))?\s*\}(?=\s*\^)")
_TAKES_ARGUMENT = re.compile(r"(?:\\(?:[dt]?frac|sqrt|text|textrm|mathrm|operatorname|mathbf|boldsymbol|bm|mathcal|mathbb|"
                             r"hat|widehat|bar|overline|tilde|widetilde|vec|dot|mathit|underbrace|overbrace)|[}_^])\s*$")


def _braced_symbol_powers(text: str) -> str:
    """{\\sigma_{2}}^{2} -> \\sigma_{2}^{2}: braces around one symbol before a power group nothing,
    unless they are the argument of a command (\\frac{1}{x}^2 keeps them)."""
    def repl(m):
        if _TAKES_ARGUMENT.search(text[:m.start()]):
            return m.group(0)
        return m.group(1) + (m.group(2) or "") + " "
    return _BRACED_SYMBOL.sub(repl, text)


_E_START = re.compile(r"(\\mathbb\s*\{\s*E\s*\}|(?<![A-Za-z\\])E)(?=\s*[_\\])")


def bracket_bare_expectations(text: str, *, wide: bool = False) -> str:
    """\\mathbb{E}_{q} \\log p(x|z) - ... -> \\mathbb{E}_{q}[\\log p(x|z)] - ...: an E written without
    brackets takes the term after it up to the next top-level + or - (``wide``: up to the end of
    its group, the other plausible reading)."""
    pos = 0
    for _ in range(20):
        m = _E_START.search(text, pos)
        if not m:
            break
        i = m.end()
        sub = re.match(r"\s*_\s*", text[i:])
        if sub:
            k = i + sub.end()
            if text[k:k + 1] == "{":
                i = _group_end(text, k)
            else:
                name = re.match(r"\\[A-Za-z]+|[A-Za-z]", text[k:])
                i = k + (name.end() if name else 0)
        rest = text[i:]
        toks = tokenize(rest)
        j = next((k for k, t in enumerate(toks) if not t.text.isspace()), len(toks))
        pos = i
        if j >= len(toks) or toks[j].text in ("[", "(", "{", "}", ")", "]", "^", "_", "+", "-", "=", "&", "<", ">",
                                              ",", ";", "|", "\\|", "\\sim", "\\mid", "\\quad", "\\qquad"):
            continue
        end = scope_end(toks, j, stop_at_signs=not wide, integral=False)
        a = toks[j].start
        b = toks[end].start if end < len(toks) else len(rest)
        body = rest[a:b].rstrip()
        text = text[:i] + rest[:a] + "[" + body + "]" + rest[a + len(body):]
    return text


# font and accent commands whose one-token argument is written without braces: \mathbb E, \hat\mu
_UNBRACED_ARGUMENT = re.compile(r"\\(mathbb|mathcal|mathrm|mathbf|mathit|boldsymbol|bm|hat|widehat|bar|overline|tilde|"
                                r"widetilde|vec|dot)(?:\s+([A-Za-z0-9])|\s*(\\[A-Za-z]+))")


def clean_latex(text: str, *, wide_expectations: bool = False) -> str:
    """Drop spacing and sizing commands; keep everything that carries meaning."""
    text = _UNBRACED_ARGUMENT.sub(lambda m: "\\%s{%s}" % (m.group(1), m.group(2) or m.group(3)), text)
    text = rewrite_over(text)
    text = _hat_words(text)
    text = draw_lists(text)
    text = unwrap(text)
    text = _UNICODE_RE.sub(lambda m: UNICODE[m.group(0)], text)
    text = _SPACING.sub(" ", text)
    text = rewrite_angle_brackets(text)
    text = rewrite_divergence_letters(text)
    text = rewrite_expectation_powers(text)
    text = unwrap_braced_operators(text)
    # \int_\mathcal{X}, \int_{\mathbb{R}^d}: an integral over the whole space
    text = re.sub(r"(\\i?int)\s*_\s*(?:\{\s*\\(?:mathcal|mathbb)\s*\{?\s*[A-Z]\s*\}?(?:\^\s*\{?[A-Za-z0-9]+\}?)?\s*\}"
                  r"|\\(?:mathcal|mathbb)\s*\{?\s*[A-Z]\s*\}?)", r"\1 ", text)
    # \nabla_\theta f, \partial_\theta f: the gradient with respect to one parameter, read as the partial derivative
    text = re.sub(r"\\(?:nabla|partial)\s*_\s*(\{[^{}]*\}|\\[A-Za-z]+|[A-Za-z])", lambda m: "\\frac{\\partial}{\\partial %s}"
                  % m.group(1).strip("{}"), text)
    text = _braced_symbol_powers(text)
    text = bracket_bare_expectations(text, wide=wide_expectations)
    text = re.sub(r"\\(?:mathbf|boldsymbol|bm)\s*\{\s*([0-9])\s*\}", r"\1", text)
    # old-style font switches: {\cal N} -> \mathcal{N}, {\rm KL} -> {KL}
    text = re.sub(r"\{\s*\\cal\s+([A-Z])\s*\}", r"\\mathcal{\1}", text)
    text = re.sub(r"\{\s*\\rm\s+d\s*\}", "d", text)
    text = re.sub(r"\\(?:rm|bf|it|sf|tt|mathrm\b(?=\s))(?![A-Za-z])\s*", "", text)
    text = _SUP_SUB.sub(r"\1_\3^\2", text)
    # \sigma^{2(i)}: the square of sigma for example i
    text = re.sub(r"\^\s*\{\s*(\d+)\s*(\([^(){}]*\))\s*\}", r"^{\2}^{\1}", text)
    text = re.sub(r"\\(?:tag|label)\*?\s*\{[^{}]*\}", " ", text)
    text = re.sub(r"\\mathrm\s*\{\s*d\s*\}", "d", text)
    # \frac{d}{dz} is the derivative operator
    text = re.sub(r"\\frac\s*\{\s*d\s*\}\s*\{\s*d\s*", r"\\frac{\\partial}{\\partial ", text)
    # \frac12 and x^23: one digit per argument, as in TeX
    text = re.sub(r"\\([dt]?frac)\s*(\d)\s*(\d)", r"\\\1{\2}{\3}", text)
    text = re.sub(r"([\^_])\s*(\d)(?=\d)", r"\1{\2}", text)
    text = re.sub(r"\\lvert|\\rvert", "|", text)
    return text.strip()


def check_commands(text: str) -> None:
    """Reject commands outside the notation with a message that names them."""
    if re.search(r"\^\s*\{?\s*(T|\\top|\\intercal)\s*\}?(?![A-Za-z])", text):
        raise InputError("transposes (^T) are outside the notation (matrix calculus is not checked)")
    if re.search(r"\\mathcal\s*\{?\s*O\b", text):
        raise InputError("order symbols \\mathcal{O}(...) are outside the notation (Taylor expansions are not checked)")
    for m in _COMMAND.finditer(text):
        cmd = m.group(1)
        if cmd in REJECTED:
            raise InputError(REJECTED[cmd])
        if cmd not in KNOWN_COMMANDS:
            raise InputError(f"\\{cmd} is not part of the notation the grader reads")


def parse_latex(text: str, env: LatexEnv, *, allow_distribution: bool = False):
    """Parse one LaTeX expression (no relation) into a term; InputError when it cannot.

    With ``allow_distribution`` a normal written without its point (N(mu, sigma^2),
    as in declarations) comes back as a PointlessNormal.  The alternative readings in
    ``env.switches`` (READINGS) change how far \\log and an unbracketed E reach.
    """
    original = str(text)
    text = clean_latex(original, wide_expectations="e-wide" in env.switches)
    if not text:
        raise InputError("empty expression")
    check_bounds(text, max_length=MAX_LATEX_LENGTH)
    check_commands(text)
    _fixed_arguments(text)
    if "log-wide" in env.switches:
        text = widen_logs(text)
    try:
        out = _build(text, env, allow_distribution)
    except InputError as exc:
        if exc.column is None or "log-wide" in env.switches:
            raise
        raise _in_original(exc, original, text) from None
    loose = _loose_indices(out)
    if loose:
        # \sum_j a_j - b_j: the index is used after the product the sum takes, so the sum takes the
        # terms after it too (read narrowly, b_j would stand outside every sum over j)
        wider = widen_sums(text, lambda index: _base_name(index) in loose)
        if wider != text:
            try:
                widened = _build(wider, env, allow_distribution)
            except InputError:
                widened = None
            if widened is not None and not _loose_indices(widened):
                env.notes.append(f"the sum over {', '.join(sorted(loose))} is read as taking the terms after it that "
                                 f"use its index")
                return widened
    return out


def _fixed_arguments(text: str) -> None:
    """p(x, z=k): an argument fixed to a value inside parentheses is outside the notation."""
    toks = tokenize(text)
    stack: list[str] = []
    for k, t in enumerate(toks):
        if t.text in ("(", "{", "["):
            stack.append(t.text)
        elif t.text in (")", "}", "]"):
            if stack:
                stack.pop()
        elif t.text == "=" and stack and stack[-1] == "(":
            a = max((i for i in range(k) if toks[i].text in "(,;|"), default=0)
            b = next((i for i in range(k + 1, len(toks)) if not toks[i].text.isspace()), k)
            fixed = "".join(x.text for x in toks[a + 1:b + 1]).strip()
            raise InputError(f"an argument fixed to a value ('{fixed}') is not read: a density at a point of a "
                             f"discrete variable is outside the notation")


def _in_original(exc: InputError, original: str, cleaned: str) -> InputError:
    """The error of the cleaned text, with its column and context in the author's own LaTeX: the
    shortest prefix of the original whose cleaned form reaches the failing character."""
    pos = exc.column - 1
    lo, hi = 0, len(original)
    while lo < hi:
        mid = (lo + hi) // 2
        try:
            reach = len(clean_latex(original[:mid]))
        except Exception:
            reach = 0
        if reach > pos:
            hi = mid
        else:
            lo = mid + 1
    at = max(0, min(lo - 1, len(original) - 1))
    where = f" at column {at + 1} near '{_one_line(original[max(0, at - 15):at + 15])}'"
    message = re.sub(r" at column \d+ near '.*?'(?= \(|$)", lambda m: where, exc.message)
    return InputError(message, column=at + 1)


def _loose_indices(term) -> set:
    """Indices of the sums and products in a term that also stand outside them."""
    if not isinstance(term, sp.Basic):
        return set()
    bound = {lim[0] for s in term.atoms(sp.Sum, sp.Product) for lim in s.limits}
    free = term.free_symbols
    return {b.name for b in bound if b in free and isinstance(b, sp.Symbol)}


def _build(text: str, env: LatexEnv, allow_distribution: bool):
    tree = _tree(text)
    try:
        result = LatexTermBuilder(env).transform(tree)
    except VisitError as exc:
        orig = exc.orig_exc
        if isinstance(orig, InputError):
            raise InputError(orig.message) from None
        if isinstance(orig, RecursionError):
            raise InputError("expression is nested too deeply") from None
        raise InputError(f"cannot build expression: {type(orig).__name__}: {_one_line(str(orig))}") from None
    except RecursionError:
        raise InputError("expression is nested too deeply") from None
    if allow_distribution and isinstance(result, PointlessNormal):
        return result
    builder = LatexTermBuilder(env)
    try:
        out = builder.value(result)
    except InputError as exc:
        raise InputError(exc.message) from None
    if not isinstance(out, sp.Basic):
        raise InputError("not an expression")
    return out


@lru_cache(maxsize=4096)
def _tree(text: str):
    try:
        return _lark().parse(text)
    except UnexpectedInput as exc:
        raise InputError(_describe(exc, text), column=getattr(exc, "column", None)) from None
    except LarkError as exc:
        raise InputError(f"cannot parse: {_one_line(str(exc))}") from None
    except RecursionError:
        raise InputError("expression is nested too deeply") from None


def _one_line(s: str, limit: int = 160) -> str:
    s = " ".join(s.split())
    return s if len(s) <= limit else s[:limit] + "..."


def _describe(exc: UnexpectedInput, text: str) -> str:
    col = getattr(exc, "column", None)
    pos = getattr(exc, "pos_in_stream", None)
    near = ""
    if isinstance(pos, int) and 0 <= pos < len(text):
        near = text[max(0, pos - 15): pos + 15]
    if isinstance(exc, UnexpectedEOF) or (getattr(exc, "token", None) is not None and exc.token.type == "$END"):
        if "DIFF" in (getattr(exc, "expected", None) or ()):
            return "expression ends early: an integral needs its differential (dz)"
        return "expression ends early (unclosed bracket or missing argument?)"
    if isinstance(exc, UnexpectedCharacters):
        return _one_line(f"unexpected {text[exc.pos_in_stream]!r} at column {col} near '{near}'")
    token = getattr(exc, "token", None)
    if token is not None and token.type == "PARTIAL":
        return "\\partial is read only as \\frac{\\partial}{\\partial x} or \\frac{\\partial f}{\\partial x}"
    hint = ""
    expected = {_EXPECTED.get(t, None) for t in (getattr(exc, "expected", None) or ())}
    if expected and None not in expected and len(expected) <= 4:
        hint = " (expected " + " or ".join(sorted(expected)) + ")"
    return _one_line(f"unexpected {str(token)!r} at column {col} near '{near}'{hint}")


_EXPECTED = {"LSQB": "'['", "LPAR": "'('", "RPAR": "')'", "RSQB": "']'", "LBRACE": "'{'", "RBRACE": "'}'",
             "DIFF": "a differential such as dz", "KLSEP": "'||'", "SIM": "'\\sim'", "SEP": "','",
             "CIRCUMFLEX": "'^'", "EQUAL": "'='", "NUMBER": "a number", "NAME": "a symbol", "$END": "the end"}
