"""Terms as a reader sees them: LaTeX for Markdown and Gradescope, plain math for the terminal.

Every message the grader shows a student goes through here, so that feedback
speaks mathematics with the student's own names -- ``\\sigma_{j}^{2}/2`` or
``sigma_j^2/2`` -- and never the Python spelling of a term (``sigma[j]**2/2``,
``Product(...)``, ``Integral(...)``).  Numbers are rounded to what a reader can
use: four significant digits, and floating-point noise next to zero shows as 0.

``MathText`` is a message with terms in it: ``str()`` of it is the plain form,
``.md`` the Markdown form with the terms as ``$...$``.  Reports receive both
as plain strings and never see a term.
"""
from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from ..numbers import number
from .densities import Bernoulli, Density, Normal
from .operators import KL, Entropy, Expectation, Variance

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu",
    "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega", "Gamma", "Delta", "Theta",
    "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega",
}
LATEX_GREEK = {"eps": "epsilon"}
DECORATIONS = {"hat", "bar", "tilde", "dot"}


# -- numbers ------------------------------------------------------------------------
def number_latex(x) -> str:
    text = number(x)
    if "*10^" in text:
        mant, exp = text.split("*10^")
        return rf"{mant} \cdot 10^{{{exp}}}"
    if text in ("infinity", "-infinity"):
        return text.replace("infinity", r"\infty")
    return text


# -- names --------------------------------------------------------------------------
def _split(name: str) -> tuple[str, list[str], list[str]]:
    """(base, decorations, subscripts) of a symbol name such as x_hat_j or q_phi or L_plain."""
    parts = [p for p in str(name).split("_") if p]
    if not parts:
        return str(name), [], []
    base, decor, subs = parts[0], [], []
    for p in parts[1:]:
        if p == "plain":            # a plain letter renamed beside a calligraphic one: the student wrote it plain
            continue
        if p in DECORATIONS and not subs:
            decor.append(p)
        else:
            subs.append(p)
    return base, decor, subs


def name_plain(name: str) -> str:
    base, decor, subs = _split(name)
    return "_".join([base] + decor + subs) if subs or decor else base


def _latex_atom(text: str) -> str:
    text = LATEX_GREEK.get(text, text)
    if text in GREEK:
        return "\\" + text
    if len(text) > 1 and text.isalpha():
        return rf"\mathrm{{{text}}}"
    return text


def name_latex(name: str) -> str:
    base, decor, subs = _split(name)
    out = _latex_atom(base)
    for d in decor:
        out = rf"\{d}{{{out}}}"
    if subs:
        out += "_{" + ",".join(_latex_atom(s) if not s.isdigit() else s for s in subs) + "}"
    return out


# -- plain printer ------------------------------------------------------------------
class PlainPrinter(StrPrinter):
    """Readable plain math: x^2, sigma_j, prod_{j=1}^{D} (...), E_{z ~ q(z)}[...]."""

    printmethod = "_elbo_plain"   # never the terms' own _sympystr: that is the Python spelling

    def _print_Symbol(self, expr):
        return name_plain(expr.name)

    _print_Dummy = _print_Symbol

    def _print_IndexedBase(self, expr):
        return name_plain(str(expr.label))

    def _print_Indexed(self, expr):
        base = name_plain(str(expr.base.label))
        idx = [self._print(i) for i in expr.indices]
        simple = all(re.fullmatch(r"[A-Za-z0-9]+", i) for i in idx)
        return f"{base}_{','.join(idx)}" if simple else f"{base}_({', '.join(idx)})"

    def _print_Float(self, expr):
        return number(expr)

    def _limits(self, expr, word):
        out = ""
        for lim in expr.limits:
            if len(lim) == 3:
                out += f"{word}_{{{self._print(lim[0])}={self._print(lim[1])}}}^{{{self._print(lim[2])}}} "
            else:
                out += f"{word}_{{{self._print(lim[0])}}} "
        return out

    def _print_Product(self, expr):
        return f"{self._limits(expr, 'prod')}({self._print(expr.function)})"

    def _print_Sum(self, expr):
        return f"{self._limits(expr, 'sum')}({self._print(expr.function)})"

    def _print_Integral(self, expr):
        body = self._print(expr.function)
        ds = " ".join(f"d{self._print(lim[0])}" for lim in expr.limits)
        bounds = "".join(f"_{{{self._print(l[1])}}}^{{{self._print(l[2])}}}" for l in expr.limits if len(l) == 3)
        return f"int{bounds} {body} {ds}"

    def _print_Derivative(self, expr):
        vs = "".join(f"d{self._print(v)}" + (f"^{n}" if n != 1 else "") for v, n in expr.variable_count)
        order = sum(n for _, n in expr.variable_count)
        d = "d" if order == 1 else f"d^{order}"
        return f"{d}/{vs} ({self._print(expr.expr)})"

    def _print_Partial(self, expr):
        return f"d/d{self._print(expr.theta)} ({self._print(expr.expr)})"

    def _print_Expectation(self, expr):
        return f"E_{{{self._print(expr.var)} ~ {self._print(expr.dist)}}}[{self._print(expr.function)}]"

    def _print_SampleExpectation(self, expr):
        first, last = (self._print(_draw(expr, i)) for i in (expr.lower, expr.upper))
        return f"E_{{{first}, ..., {last} ~ {self._print(expr.dist)}}}[{self._print(expr.function)}]"

    def _print_Variance(self, expr):
        return f"Var_{{{self._print(expr.args[1])} ~ {self._print(expr.args[2])}}}[{self._print(expr.args[0])}]"

    def _print_KL(self, expr):
        return f"KL({self._print(expr.args[0])} || {self._print(expr.args[1])})"

    def _print_Entropy(self, expr):
        return f"H[{self._print(expr.args[0])}]"

    def _print_Density(self, expr):
        vs = ", ".join(self._print(v) for v in expr.vars)
        if expr.given:
            vs += " | " + ", ".join(self._print(g) for g in expr.given)
        return f"{name_plain(expr.name)}({vs})"

    def _print_Normal(self, expr):
        return "N({}; {}, {})".format(*(self._print(a) for a in expr.args))

    def _print_Bernoulli(self, expr):
        return "Bernoulli({}; {})".format(*(self._print(a) for a in expr.args))

    def _print_Function(self, expr):
        name = name_plain(expr.func.__name__) if isinstance(expr, sp.core.function.AppliedUndef) \
            else expr.func.__name__
        return f"{name}({', '.join(self._print(a) for a in expr.args)})"

    def _print_Tuple(self, expr):
        return "(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def doprint(self, expr):
        return super().doprint(expr).replace("**", "^")


# -- LaTeX printer ------------------------------------------------------------------
class MathLatexPrinter(LatexPrinter):
    """LaTeX in the notation of the course: \\mathbb{E}_{z \\sim q(z)}, \\mathrm{KL}(q \\| p), \\mathcal{N}."""

    printmethod = "_elbo_latex"

    def __init__(self, settings=None):
        super().__init__({"mul_symbol": None, **(settings or {})})

    def _print_Symbol(self, expr, style="plain"):
        return name_latex(expr.name)

    _print_Dummy = _print_Symbol

    def _print_IndexedBase(self, expr):
        return name_latex(str(expr.label))

    def _print_Indexed(self, expr):
        base = name_latex(str(expr.base.label))
        idx = ",".join(self._print(i) for i in expr.indices)
        if "_{" in base:
            return rf"{{{base}}}_{{{idx}}}"
        return f"{base}_{{{idx}}}"

    def _print_Float(self, expr):
        return number_latex(expr)

    def _print_Partial(self, expr):
        return rf"\nabla_{{{self._print(expr.theta)}}} {self._print(expr.expr)}"

    def _print_Expectation(self, expr):
        return (rf"\mathbb{{E}}_{{{self._print(expr.var)} \sim {self._print(expr.dist)}}}"
                rf"\left[{self._print(expr.function)}\right]")

    def _print_SampleExpectation(self, expr):
        first, last = (self._print(_draw(expr, i)) for i in (expr.lower, expr.upper))
        return (rf"\mathbb{{E}}_{{{first}, \dots, {last} \sim {self._print(expr.dist)}}}"
                rf"\left[{self._print(expr.function)}\right]")

    def _print_Variance(self, expr):
        return (rf"\mathrm{{Var}}_{{{self._print(expr.args[1])} \sim {self._print(expr.args[2])}}}"
                rf"\left[{self._print(expr.args[0])}\right]")

    def _print_KL(self, expr):
        return rf"\mathrm{{KL}}\left({self._print(expr.args[0])} \,\|\, {self._print(expr.args[1])}\right)"

    def _print_Entropy(self, expr):
        return rf"\mathbb{{H}}\left[{self._print(expr.args[0])}\right]"

    def _print_Density(self, expr):
        vs = ", ".join(self._print(v) for v in expr.vars)
        if expr.given:
            vs += r" \mid " + ", ".join(self._print(g) for g in expr.given)
        return f"{name_latex(expr.name)}({vs})"

    def _print_Normal(self, expr):
        x, m, v = (self._print(a) for a in expr.args)
        return rf"\mathcal{{N}}({x}; {m}, {v})"

    def _print_Bernoulli(self, expr):
        x, m = (self._print(a) for a in expr.args)
        return rf"\mathrm{{Bernoulli}}({x}; {m})"

    def _print_Function(self, expr, exp=None):
        if isinstance(expr, sp.core.function.AppliedUndef):
            out = f"{name_latex(expr.func.__name__)}({', '.join(self._print(a) for a in expr.args)})"
            return f"{out}^{{{exp}}}" if exp else out
        return super()._print_Function(expr, exp)


_PLAIN = PlainPrinter()
_LATEX = MathLatexPrinter()


def to_plain(expr) -> str:
    """A term as readable plain math (terminal)."""
    if isinstance(expr, str):
        return expr
    if isinstance(expr, (int, float)) and not isinstance(expr, bool):
        return number(expr)
    try:
        return _PLAIN.doprint(expr)
    except Exception:
        return str(expr).replace("**", "^")


def to_latex(expr) -> str:
    """A term as LaTeX (without the surrounding $)."""
    if isinstance(expr, str):
        return expr
    if isinstance(expr, (int, float)) and not isinstance(expr, bool):
        return number_latex(expr)
    try:
        return _LATEX.doprint(expr)
    except Exception:
        return to_plain(expr)


# -- messages -------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|$])")


def escape_md(text: str) -> str:
    """Prose in Markdown: characters that Markdown or MathJax would take as markup are escaped."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


class Math:
    """A term (or a name) inside a message."""

    __slots__ = ("term",)

    def __init__(self, term):
        self.term = term


class MathText(str):
    """A message with math in it: the plain form as the string, `.md` the Markdown form.

    Parts are prose strings, terms (SymPy expressions), or ``Math(name)`` for a
    bare name given as a string.  Prose that is already Markdown can be passed
    as ``MathText`` (its `.md` is kept).
    """

    md: str

    def __new__(cls, *parts):
        plain, md = [], []
        for p in parts:
            if isinstance(p, MathText):
                plain.append(str(p))
                md.append(p.md)
            elif isinstance(p, Math):
                t = p.term if not isinstance(p.term, str) else sp.Symbol(p.term)
                plain.append(to_plain(t))
                md.append(f"${to_latex(t)}$")
            elif isinstance(p, str):
                plain.append(p)
                md.append(escape_md(p))
            elif isinstance(p, (int,)) and not isinstance(p, bool):
                plain.append(str(p))
                md.append(str(p))
            else:
                plain.append(to_plain(p))
                md.append(f"${to_latex(p)}$")
        obj = super().__new__(cls, "".join(plain))
        obj.md = "".join(md)
        return obj

    @classmethod
    def of(cls, plain: str, md: str) -> "MathText":
        obj = str.__new__(cls, plain)
        obj.md = md
        return obj

    def __reduce__(self):
        return (MathText.of, (str(self), self.md))

    def __add__(self, other):
        if isinstance(other, str):
            return MathText(self, other)
        return NotImplemented

    def __radd__(self, other):
        if isinstance(other, str):
            return MathText(other, self)
        return NotImplemented


def md_of(text) -> str:
    """The Markdown form of a message: its `.md` when it has one, else the escaped prose."""
    md = getattr(text, "md", None)
    return md if isinstance(md, str) else escape_md(str(text))


def join(sep: str, items) -> MathText:
    parts = []
    for i, item in enumerate(items):
        if i:
            parts.append(sep)
        parts.append(item if isinstance(item, str) else Math(item))
    return MathText(*parts)


# -- text that already holds printed terms ----------------------------------------------
_CALL = re.compile(r"\b(Product|Sum|Integral|Derivative)\(")
# name[index] is SymPy's component; E[...], H[...], Var[...] are the operators of the notation
_INDEX = re.compile(r"\b(?!(?:E|H|Var)\[)([A-Za-z][A-Za-z0-9_]*)\[([A-Za-z0-9_, +\-]+)\]")


def _args(text: str, start: int) -> tuple[list[str], int] | None:
    """The comma-separated arguments of a call whose '(' is at text[start - 1]; (args, end after ')')."""
    depth, args, cur = 0, [], start
    i = start
    while i < len(text):
        c = text[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                args.append(text[cur:i].strip())
                return args, i + 1
            depth -= 1
        elif c == "," and depth == 0:
            args.append(text[cur:i].strip())
            cur = i + 1
        i += 1
    return None


def _limit(text: str) -> tuple[str, str | None, str | None]:
    t = text.strip()
    if t.startswith("(") and t.endswith(")"):
        parts = [p.strip() for p in t[1:-1].split(",")]
        if len(parts) == 3:
            return parts[0], parts[1], parts[2]
        return parts[0], None, None
    return t, None, None


def tidy(text: str) -> str:
    """Text from inside the project that holds terms in SymPy's spelling, as readable plain math.

    ``Product(N(z[j]; mu[j], sigma[j]**2), (j, 1, D))`` becomes
    ``prod_{j=1}^{D} N(z_j; mu_j, sigma_j^2)``.  Only the project's own printed
    terms come here (notes and checker messages), never student text; nothing
    is evaluated, the text is only rewritten.
    """
    pieces = re.split(r"('[^'\n]*')", str(text))     # quoted student text stays as written
    return "".join(p if p.startswith("'") and p.endswith("'") and len(p) > 1 else _tidy(p) for p in pieces)


def _tidy(text: str) -> str:
    for _ in range(20):          # innermost calls first, a bounded number of rounds
        found = None
        for m in _CALL.finditer(text):
            parsed = _args(text, m.end())
            if parsed is None:
                continue
            args, end = parsed
            if not any(_CALL.search(a) for a in args):
                found = (m, args, end)
                break
        if found is None:
            break
        m, args, end = found
        kind, body = m.group(1), args[0] if args else ""
        limits = [_limit(a) for a in args[1:]]
        if kind in ("Product", "Sum"):
            word = "prod" if kind == "Product" else "sum"
            head = "".join(f"{word}_{{{v}={lo}}}^{{{hi}}} " if lo is not None else f"{word}_{{{v}}} "
                           for v, lo, hi in limits)
            new = f"{head}({body})" if kind == "Sum" else f"{head}{body}"
        elif kind == "Integral":
            ds = " ".join(f"d{v}" for v, _, _ in limits) or ""
            new = f"int {body} {ds}".rstrip()
        else:
            vs = "".join(f"d{v}" for v, _, _ in limits)
            new = f"d/{vs} ({body})"
        text = text[:m.start()] + new + text[end:]
    text = _INDEX.sub(lambda m: f"{m.group(1)}_{m.group(2).replace(' ', '')}" if re.fullmatch(r"[A-Za-z0-9]+", m.group(2).strip())
                      else f"{m.group(1)}_({m.group(2)})", text)
    return text.replace("**", "^")


def _draw(expr, i):
    """The draw z_i of a `SampleExpectation` over draws of z."""
    return sp.IndexedBase(expr.var.name)[i]
