"""A small LaTeX tokenizer and the structural rewrites built on it.

Tokens are commands (``\\frac``, ``\\|``), single characters and whitespace;
groups are matched by brace depth, so rewrites act on the structure of the
math (``{a \\over b}``, ``\\mathbb{E}^{2}(X)``, ``\\langle f \\rangle_q``), not on
patterns that a nested brace would break.  Nothing here evaluates text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_TOKENS = 20000

_TOKEN = re.compile(r"\\[A-Za-z]+\*?|\\.|\s+|.", re.S)
OPEN = {"{": "}", "(": ")", "[": "]"}
CLOSE = {v: k for k, v in OPEN.items()}


@dataclass(frozen=True)
class Tok:
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def tokenize(text: str) -> list[Tok]:
    out = []
    for m in _TOKEN.finditer(text):
        out.append(Tok(m.group(0), m.start()))
        if len(out) > MAX_TOKENS:
            break
    return out


def group_end(toks: list[Tok], i: int) -> int | None:
    """Index of the token that closes the bracket opened at ``toks[i]``; None when unbalanced."""
    opener = toks[i].text
    closer = OPEN.get(opener)
    if closer is None:
        return None
    depth = 0
    for k in range(i, len(toks)):
        t = toks[k].text
        if t == opener:
            depth += 1
        elif t == closer:
            depth -= 1
            if depth == 0:
                return k
    return None


def _skip_space(toks, i):
    while i < len(toks) and toks[i].text.isspace():
        i += 1
    return i


def _argument(toks, i):
    """(start, end) token indices of one TeX argument at i: a {group} or one token."""
    i = _skip_space(toks, i)
    if i >= len(toks):
        return None
    if toks[i].text == "{":
        k = group_end(toks, i)
        return None if k is None else (i, k)
    return (i, i)


def _join(toks, a, b):
    return "".join(t.text for t in toks[a:b + 1])


# ---------------------------------------------------------------------------
# {a \over b} -> \frac{a}{b}
# ---------------------------------------------------------------------------
def rewrite_over(text: str) -> str:
    """TeX's infix fractions: ``{a \\over b}`` (and a top-level ``a \\over b``) -> ``\\frac{a}{b}``."""
    for _ in range(50):
        toks = tokenize(text)
        at = next((k for k, t in enumerate(toks) if t.text in ("\\over", "\\atop")), None)
        if at is None:
            return text
        # the innermost group around it
        depth, open_i = 0, None
        for k in range(at - 1, -1, -1):
            t = toks[k].text
            if t == "}":
                depth += 1
            elif t == "{":
                if depth == 0:
                    open_i = k
                    break
                depth -= 1
        if open_i is None:
            num, den = text[:toks[at].start], text[toks[at].end:]
            return "\\frac{%s}{%s}" % (num.strip(), rewrite_over(den).strip())
        close_i = group_end(toks, open_i)
        if close_i is None:
            return text
        num = text[toks[open_i].end:toks[at].start]
        den = text[toks[at].end:toks[close_i].start]
        text = text[:toks[open_i].start] + "\\frac{%s}{%s}" % (num.strip(), den.strip()) + text[toks[close_i].end:]
    return text


# ---------------------------------------------------------------------------
# \mathbb{E}^{2}(X) -> (\mathbb{E}(X))^{2};  {\mathbb{E}_{q}}[...] -> \mathbb{E}_{q}[...]
# ---------------------------------------------------------------------------
_E_HEAD = re.compile(r"\\mathbb\s*\{\s*E\s*\}|\\operatorname\s*\{\s*E\s*\}|\\mathrm\s*\{\s*E\s*\}")


def rewrite_expectation_powers(text: str) -> str:
    """``\\mathbb{E}^{2}(X)`` is the square of the mean: ``(\\mathbb{E}(X))^{2}``."""
    for _ in range(20):
        m = re.search(r"(%s)\s*\^\s*(\{[^{}]*\}|[0-9])\s*(?=[(\[])" % _E_HEAD.pattern, text)
        if not m:
            return text
        rest = text[m.end():]
        toks = tokenize(rest)
        k = group_end(toks, 0)
        if k is None:
            return text
        arg = rest[:toks[k].end]
        text = text[:m.start()] + "(" + m.group(1) + arg + ")^" + m.group(2) + rest[toks[k].end:]
    return text


def unwrap_braced_operators(text: str) -> str:
    """``{\\mathbb{E}_{x \\sim p}}[...]``: braces around an operator and its subscript only."""
    for _ in range(20):
        toks = tokenize(text)
        changed = False
        for i, t in enumerate(toks):
            if t.text != "{":
                continue
            k = group_end(toks, i)
            if k is None:
                continue
            inner = text[t.end:toks[k].start].strip()
            m = re.match(r"(?:%s|E)\s*_\s*" % _E_HEAD.pattern, inner)
            if not m:
                continue
            sub = tokenize(inner[m.end():])
            if not sub:
                continue
            arg = _argument(sub, 0)
            if arg is None or sub[arg[1]].end != len(inner[m.end():].rstrip()):
                continue
            after = text[toks[k].end:].lstrip()
            if not after.startswith(("[", "(", "\\left", "\\big", "\\Big", "\\bigg", "\\Bigg")):
                continue
            text = text[:t.start] + inner + text[toks[k].end:]
            changed = True
            break
        if not changed:
            return text
    return text


# ---------------------------------------------------------------------------
# \langle f \rangle_{q} -> \mathbb{E}_{q}[f]
# ---------------------------------------------------------------------------
def rewrite_angle_brackets(text: str) -> str:
    """Physicists' expectation ``\\langle f(z) \\rangle_{q(z)}`` -> ``\\mathbb{E}_{q(z)}[f(z)]``."""
    for _ in range(20):
        toks = tokenize(text)
        opens = [k for k, t in enumerate(toks) if t.text == "\\langle"]
        if not opens:
            return text
        i = opens[-1]  # innermost last
        k = next((j for j in range(i + 1, len(toks)) if toks[j].text == "\\rangle"), None)
        if k is None:
            return text
        body = text[toks[i].end:toks[k].start]
        j = _skip_space(toks, k + 1)
        sub, end = "", toks[k].end
        if j < len(toks) and toks[j].text == "_":
            arg = _argument(toks, j + 1)
            if arg is not None:
                a, b = arg
                sub = "_" + _join(toks, a, b)
                end = toks[b].end
        text = text[:toks[i].start] + "\\mathbb{E}%s[%s]" % (sub, body) + text[end:]
    return text


# ---------------------------------------------------------------------------
# D(q \| p) -> D_{KL}(q \| p)
# ---------------------------------------------------------------------------
_KL_SEP = re.compile(r"\|\||\\\||\\parallel(?![A-Za-z])|\\Vert(?![A-Za-z])")


def rewrite_divergence_letters(text: str) -> str:
    """A divergence written with a bare letter, ``D(q \\| p)`` or ``\\mathbb{D}[q || p]``: the
    ``||`` separator between two arguments is what makes it a divergence."""
    out, pos = [], 0
    for m in re.finditer(r"(?<![A-Za-z\\])(D|\\mathbb\s*\{\s*D\s*\}|\\mathcal\s*\{\s*D\s*\})(?=\s*(?:\\left|\\big[lg]?|\\Big[lg]?)?\s*[(\[])",
                         text):
        if m.start() < pos:
            continue
        rest = text[m.end():]
        lead = re.match(r"\s*(?:\\left|\\big[lg]?|\\Big[lg]?)?\s*", rest).end()
        toks = tokenize(rest[lead:])
        k = group_end(toks, 0)
        if k is None:
            continue
        inner = rest[lead + 1:lead + toks[k].start]
        if not _top_level(inner, _KL_SEP):
            continue
        out.append(text[pos:m.start()] + "D_{KL}")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def _top_level(inner: str, pattern) -> bool:
    depth = 0
    toks = tokenize(inner)
    for t in toks:
        if t.text in OPEN:
            depth += 1
        elif t.text in CLOSE:
            depth -= 1
        elif depth == 0 and pattern.fullmatch(t.text):
            return True
    # '||' is two tokens
    flat = re.sub(r"\{[^{}]*\}|\([^()]*\)|\[[^\[\]]*\]", "", inner)
    return "||" in flat


# ---------------------------------------------------------------------------
# unbalanced parentheses
# ---------------------------------------------------------------------------
def drop_unmatched_closers(text: str) -> str | None:
    """The text without ')' or ']' that close nothing; None when every one is matched."""
    toks = tokenize(text)
    stack: list[str] = []
    drop = set()
    for k, t in enumerate(toks):
        if t.text in ("(", "["):
            stack.append(t.text)
        elif t.text in (")", "]"):
            if stack and stack[-1] == CLOSE[t.text]:
                stack.pop()
            elif CLOSE[t.text] not in stack:
                drop.add(k)
    if not drop:
        return None
    return "".join(t.text for k, t in enumerate(toks) if k not in drop)


# ---------------------------------------------------------------------------
# how far an operator reaches: \log a b, \sum_j a_j - b_j, \mathbb{E}_q \log p - \log q
# ---------------------------------------------------------------------------
_RELATION_TOKENS = {"=", "<", ">", "&", ",", ";", "|", "\\|", "\\mid", "\\vert", "\\parallel", "\\sim", "\\quad",
                    "\\qquad", "\\leq", "\\geq", "\\le", "\\ge", "\\approx", "\\Vert"}
_SIGNS = {"+", "-"}
_VARIABLE = re.compile(r"[A-Za-z]|\\(?:alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|vartheta|kappa|lambda|mu|nu|"
                       r"xi|rho|sigma|tau|phi|varphi|chi|psi|omega|mathbf|boldsymbol|bm)")


def _is_differential(toks, k) -> bool:
    """``d`` followed by one variable (``dz``, ``d\\epsilon``) and then nothing that continues a product."""
    if toks[k].text != "d" or (k > 0 and toks[k - 1].text.isalpha()):
        return False
    j = _skip_space(toks, k + 1)
    if j >= len(toks) or not _VARIABLE.fullmatch(toks[j].text):
        return False
    if toks[j].text in ("\\mathbf", "\\boldsymbol", "\\bm"):
        arg = _argument(toks, j + 1)
        if arg is None:
            return False
        j = arg[1]
    nxt = _skip_space(toks, j + 1)
    return nxt >= len(toks) or toks[nxt].text in _SIGNS | _RELATION_TOKENS or toks[nxt].text in CLOSE


def scope_end(toks: list[Tok], i: int, *, stop_at_signs: bool, integral: bool) -> int:
    """Index of the first token after the operand that starts at ``toks[i]``: the operand runs to
    the end of its enclosing group, a relation or separator, or (``stop_at_signs``) the next
    ``+``/``-`` that is not its first token; inside an integral it stops before the differential."""
    depth, k, started = 0, i, False
    while k < len(toks):
        t = toks[k].text
        if t in OPEN:
            depth += 1
        elif t in CLOSE:
            if depth == 0:
                return k
            depth -= 1
        elif depth == 0:
            if t in _RELATION_TOKENS:
                return k
            if stop_at_signs and started and t in _SIGNS:
                return k
            if integral and _is_differential(toks, k):
                return k
        if not t.isspace():
            started = True
        k += 1
    return k


def _wrap_operand(text: str, toks: list[Tok], j: int, end: int) -> str:
    a = toks[j].start
    b = toks[end].start if end < len(toks) else len(text)
    body = text[a:b].rstrip()
    return text[:a] + "{" + body + "}" + text[a + len(body):]


def widen_logs(text: str) -> str:
    """``\\log a b c`` read as ``\\log(a b c)``: every ``\\log``/``\\ln`` not followed by a bracket
    takes the whole product after it, up to the next ``+``, ``-``, relation or closing bracket."""
    toks = tokenize(text)
    starts = [t.start for t in toks if t.text in ("\\log", "\\ln")]
    for start in reversed(starts):
        toks = tokenize(text)
        i = next(k for k, t in enumerate(toks) if t.start == start)
        j = _skip_space(toks, i + 1)
        if j >= len(toks) or toks[j].text in ("(", "[", "{", "^", "_") or toks[j].text in CLOSE \
                or toks[j].text in _SIGNS | _RELATION_TOKENS:
            continue
        end = scope_end(toks, j, stop_at_signs=True, integral="\\int" in text[:start])
        text = _wrap_operand(text, toks, j, end)
    return text


def big_operator_index(toks: list[Tok], i: int) -> tuple[str | None, int]:
    """For ``\\sum``/``\\prod`` at ``toks[i]``: the LaTeX of its index (``j`` of ``_{j=1}``) and the
    index of the first token after its limits."""
    k, index = i + 1, None
    for _ in range(2):
        k = _skip_space(toks, k)
        if k < len(toks) and toks[k].text in ("_", "^"):
            arg = _argument(toks, k + 1)
            if arg is None:
                return None, k
            a, b = arg
            inner = _join(toks, a + 1, b - 1) if toks[a].text == "{" else toks[a].text
            if toks[k].text == "_":
                index = inner.split("=")[0].strip()
            k = b + 1
    return index, _skip_space(toks, k)


def widen_sums(text: str, wanted) -> str:
    """``\\sum_j a_j - b_j`` read as ``\\sum_j (a_j - b_j)`` for the sums and products whose index
    (its LaTeX, given to ``wanted``) the caller names: the operand runs to the end of its group."""
    toks = tokenize(text)
    starts = [t.start for t in toks if t.text in ("\\sum", "\\prod")]
    for start in reversed(starts):
        toks = tokenize(text)
        i = next(k for k, t in enumerate(toks) if t.start == start)
        index, j = big_operator_index(toks, i)
        if index is None or not wanted(index) or j >= len(toks):
            continue
        end = scope_end(toks, j, stop_at_signs=False, integral="\\int" in text[:start])
        text = _wrap_operand(text, toks, j, end)
    return text
