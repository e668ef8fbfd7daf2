"""Student submissions (Markdown, LaTeX or plain text) to chains of terms.

Reading goes in four passes:

1. *segments*: the document's structure, read by a Markdown parser (document.py):
   display math (``$$...$$``, ``\\[...\\]``, align/aligned/split/... environments)
   and inline math (``$...$``, ``\\(...\\)``), each with its file offset and the prose
   around it; code and HTML are left alone;
2. *rows*: a display is cut at ``\\\\`` into rows, a row at its top-level
   relations (=, \\leq, \\geq, \\approx, \\stackrel{..}{=}, \\sim, ...); comments
   (``\\#``, ``\\text{...}`` remarks, ``%``), tags, labels and trailing
   punctuation are dropped; equation numbers such as ``(7)`` are skipped;
3. *fragments*: a row with a left side starts a fragment, a row starting with a
   relation continues the last one, even across display blocks; fragments that
   repeat an earlier chain (slides that show the same derivation one line
   longer each time) are merged into it, keeping each line's first line number;
4. *terms*: declarations (``q(z|x) \\sim \\mathcal{N}(...)``, ``p(z) =
   \\mathcal{N}(z; 0, I)``, ``z = \\mu + \\sigma \\odot \\epsilon``, "let ...",
   samples, decoder outputs) fill the Context; every chain line is parsed with
   latex_parser.  This pass runs twice: the first discovers indices, vectors
   and densities, the second reads with that knowledge from the start;
5. *readings*: assumptions a step reveals (an undeclared density replaced by a
   Gaussian formula or a product of factors, z replaced by mu + sigma*eps),
   Monte Carlo averages written with '=' read as estimates, and chain heads
   that name a new quantity (\\mathcal{L} = ...) recorded as definitions.

Nothing here evaluates student text; math that cannot be read becomes a
MathLine with ``error`` set.  docs/latex.md documents the notation.
"""
from __future__ import annotations

import re
import time
from functools import lru_cache
from dataclasses import dataclass, field
from pathlib import Path

import sympy as sp

from ..errors import InputError
from ..limits import LimitExceeded, phase
from ..terms import KL, Bernoulli, Context, Density, Expectation, Normal, SampleExpectation, is_density
from .latex_parser import READINGS, LatexEnv, _base_name, parse_latex, unit_identity
from .document import DISPLAY_ENVS, Segment, find_segments
from .latex_tokens import drop_unmatched_closers
from .names import PointlessNormal

MAX_FILE_BYTES = 1_000_000
READ_SECONDS = 5.0   # reading one expression, in a supervised worker (limits.phase)
MAX_EXPRESSIONS = 3000
TIME_BUDGET = 60.0  # seconds for reading one submission

__all__ = ["MathLine", "Chain", "Statement", "Assumption", "Submission", "read_submission", "read_submission_text",
           "ROLES"]


@dataclass
class MathLine:
    """One expression of a chain as the student wrote it."""

    line: int
    latex: str
    expr: sp.Expr | None
    error: str | None
    relation: str | None  # to the previous line: "=", "<=", ">=", "~="; None for the head
    readings: list = field(default_factory=list)  # other plausible terms: [(expr, what the reading takes)]


@dataclass
class Chain:
    lines: list[MathLine]
    kind: str  # "chain" | "claim"


ROLES = ("declared", "defined", "assumed", "intent", "condition")


@dataclass(frozen=True)
class Statement:
    """A piece of math that is not a claim, as the reader took it: ``role`` is one of ROLES
    (a declaration, a definition, an assumption, a statement of intent, a condition or
    range); ``latex`` is the student's own text; ``word`` what decided it ("where", ":=")."""

    line: int
    role: str
    latex: str
    word: str = ""


@dataclass
class Assumption:
    """An assumption the text makes on its parameters: ``lhs relation rhs`` with relation one
    of ``>=``, ``>``, ``<=``, ``<``, or ``=`` for a constraint ('with $\\sum_k q_k = 1$')."""

    line: int
    latex: str
    lhs: sp.Expr
    relation: str
    rhs: sp.Expr


@dataclass
class Submission:
    path: str
    text: str
    chains: list[Chain]
    context: Context
    definitions: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # a line's term -> other plausible readings of the same LaTeX, [(term, what the reading takes)]
    readings: dict = field(default_factory=dict)
    # the math that is not a claim, in the order of the file: how the text was read
    statements: list[Statement] = field(default_factory=list)
    assumptions: list[Assumption] = field(default_factory=list)


# ---------------------------------------------------------------------------
# reading files
# ---------------------------------------------------------------------------
def read_submission(path, *, assumptions=None) -> Submission:
    """Read a submission file; InputError only when the file itself is unreadable.

    ``assumptions`` (the checker's ``AssumptionChecker``) decides the algebra of the
    assumptions a step reveals; without it none are read off the steps.
    """
    from ..inputs import read_bounded

    p = Path(path)
    raw = read_bounded(p, MAX_FILE_BYTES)  # a regular file, at most this many bytes read
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"file is not UTF-8 text (byte {exc.start})", file=str(p)) from None
    if "\x00" in text:
        raise InputError("file is binary, not text", file=str(p))
    return read_submission_text(text, path=str(p), assumptions=assumptions)


def read_submission_text(text: str, path: str = "<text>", *, assumptions=None) -> Submission:
    if len(text) > MAX_FILE_BYTES:
        raise InputError(f"text is {len(text)} characters; the limit is {MAX_FILE_BYTES}", file=path)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    reader = _Reader(_without_comments(text, path), path, assumptions)
    try:
        sub = reader.read()
    except InputError:
        raise
    except (Exception, RecursionError) as exc:  # a reader bug must end in a clean error, never a traceback
        raise InputError(f"the math of this file could not be read ({type(exc).__name__}: {_one_line(str(exc), 120)})",
                         file=path) from None
    sub.text = text
    return sub


def _is_latex_file(path) -> bool:
    return str(path).lower().endswith((".tex", ".latex", ".ltx"))


def _without_comments(text: str, path: str) -> str:
    """LaTeX % comments (to the end of the line) blanked out in .tex files; lines starting
    with % elsewhere.  Blanked, not removed, so that line and column numbers stay."""
    blank = lambda m: " " * len(m.group(0))  # noqa: E731
    keep_lines = lambda m: re.sub(r"[^\n]", " ", m.group(0))  # noqa: E731
    if _is_latex_file(path):
        return re.sub(r"(?<!\\)%[^\n]*", blank, text)
    text = re.sub(r"<!--.*?-->", keep_lines, text, flags=re.S)  # HTML comments in Markdown
    return re.sub(r"(?m)^[ \t]*%[^\n]*", blank, text)


# ---------------------------------------------------------------------------
# pass 1: segments
# ---------------------------------------------------------------------------
_ENV_NAME = r"(?:%s)\*?" % "|".join(DISPLAY_ENVS)


# ---------------------------------------------------------------------------
# pass 2: rows and relations
# ---------------------------------------------------------------------------
RELATION_COMMANDS = {
    "leq": "<=", "le": "<=", "leqslant": "<=", "lt": "<=",
    "geq": ">=", "ge": ">=", "geqslant": ">=", "gt": ">=",
    "approx": "~=", "simeq": "~=", "eqsim": "~=",
    "equiv": "=", "coloneqq": "=", "eqqcolon": "=", "triangleq": "=", "doteq": "=", "defeq": "=",
    "sim": "sim",
    "neq": "?", "ne": "?", "propto": "?", "implies": "?", "Rightarrow": "?", "Longrightarrow": "?",
    "iff": "?", "Leftrightarrow": "?", "Longleftrightarrow": "?", "in": "?", "subset": "?", "subseteq": "?",
    "ll": "?", "gg": "?", "mapsto": "?",
}
_REL_AT = re.compile(
    r"\\(?:stackrel|overset|underset)\s*\{(?:[^{}]|\{[^{}]*\})*\}\s*\{\s*([^{}]*?)\s*\}"
    r"|\\(%s)(?![A-Za-z])|:=|=:|<=|>=|==|=|<|>|≤|≥|≈" % "|".join(sorted(RELATION_COMMANDS, key=len, reverse=True))
)
_PLAIN_REL = {":=": "=", "=:": "=", "<=": "<=", ">=": ">=", "==": "=", "=": "=", "<": "<=", ">": ">=",
              "≤": "<=", "≥": ">=", "≈": "~="}
_ENV_WRAP = re.compile(r"\\(?:begin|end)\s*\{(%s)\}(?:\s*\{[^{}]*\})?" % _ENV_NAME)
_EQ_NUMBER = re.compile(r"^\(?\s*\d+(?:\.\d+)*[a-z]?\s*\)?$")


@dataclass
class Row:
    line: int
    pieces: list   # [(relation or None, latex, line)]
    inline: bool
    seg: int       # index of its segment
    note: str = ""


def split_rows(seg: Segment, line_of) -> list[tuple[int, str, int]]:
    """Rows of a display: (line, text, file offset of the text) triples."""
    content = seg.content
    content = _ENV_WRAP.sub(lambda m: " " * len(m.group(0)), content)
    content = re.sub(r"\\(?:short)?intertext\s*\{(?:[^{}]|\{[^{}]*\})*\}", lambda m: " " * len(m.group(0)), content)
    content = re.sub(r"\\(?:tag|label)\*?\s*\{[^{}]*\}|\\(?:nonumber|notag)(?![A-Za-z])",
                     lambda m: " " * len(m.group(0)), content)
    # % comments (not \%) run to the end of the line
    content = re.sub(r"(?<!\\)%[^\n]*", lambda m: " " * len(m.group(0)), content)
    rows, depth, start, i = [], 0, 0, 0
    while i < len(content):
        c = content[i]
        if c == "\\" and content[i + 1: i + 2] == "\\":
            if depth <= 0:
                rows.append((start, content[start:i]))
                j = i + 2
                m = re.match(r"\s*\[[^\]]{0,20}\]", content[j:])  # \\[4pt]
                if m:
                    j += m.end()
                start = j
                i = j
                continue
            i += 2
            continue
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        i += 1
    rows.append((start, content[start:]))
    out = []
    for off, row in rows:
        stripped = row.strip()
        if not stripped:
            continue
        lead = len(row) - len(row.lstrip())
        out.append((line_of(seg.start + off + lead), stripped, seg.start + off + lead))
    return out


def strip_comment(row: str) -> tuple[str, str]:
    """Cut remarks: \\# ..., \\text{...} prose at the top level; (math, remark).

    A \\text{Word} that starts the row names a quantity (\\text{ELBO} = ...); \\mathrm and
    \\operatorname are names wherever they stand."""
    depth, i = 0, 0
    lead = len(row) - len(row.lstrip())
    while i < len(row):
        c = row[i]
        if c == "\\":
            if row.startswith("\\#", i):
                return row[:i], row[i:]
            m = re.match(r"\\(text|textrm|textit|textbf|mbox|mathrm|operatorname)\s*\{([^{}]*)\}", row[i:])
            if m:
                word = m.group(2).strip()
                prose = m.group(1) not in ("mathrm", "operatorname")
                math_position = i == lead or re.search(r"(?:[=+\-(&<>]|\\(?:leq?|geq?|approx))$", row[:i].rstrip())
                if depth == 0 and prose and not re.fullmatch(r"Var|var|Variance|KL|E|diag|d|Cov", word) and \
                        not (math_position and _names_a_quantity(word, row[i + m.end():])):
                    if i == lead:
                        # "\\text{so } d \\leq e": words before the math are dropped, the math stays
                        row = row[:i] + " " * m.end() + row[i + m.end():]
                        lead = len(row) - len(row.lstrip())
                        i += m.end()
                        continue
                    return row[:i], row[i:]
                i += m.end()
                continue
            i += 2 if i + 1 < len(row) and not row[i + 1].isalpha() else 1
            continue
        if c == "#":
            return row[:i], row[i:]
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        i += 1
    return row, ""


_PROSE_WORDS = {"so", "thus", "hence", "then", "and", "or", "where", "since", "by", "therefore", "with", "for",
                "because", "as", "if", "when", "we", "note", "now", "finally", "also", "which", "is", "are"}


def _names_a_quantity(word: str, rest: str) -> bool:
    """\\text{ELBO} = ... names a quantity; \\text{so} \\log p(x) ... is prose."""
    if not re.fullmatch(r"[A-Za-z]{2,}", word) or word.lower() in _PROSE_WORDS:
        return False
    return bool(re.match(r"\s*(?:$|[=(<>&_+\-.,]|\\(?:leq?|geq?|approx|left|coloneqq|triangleq|quad)(?![A-Za-z]))",
                         rest))


_CONNECTIVE = re.compile(
    r"(?:[,;]\s*)?(?:\\q?quad\s*|\\[,;:]\s*)*\\(?:text|textrm|mbox|mathrm)\s*\{\s*(with|where|and|for|for all|if|when|"
    r"given|assuming|s\.t\.|such that)\s*\}(?:\s*\\q?quad|\s*\\[,;:])*")
_DECLARING_CONNECTIVES = {"with", "where", "assuming", "s.t.", "such that"}
_CONDITION_CONNECTIVES = {"for", "for all", "if", "when", "given"}


def split_connectives(row: str) -> list[tuple[int, str, str]]:
    """'a \\approx b \\quad \\text{with} \\quad x \\sim p': the math after a connective word
    at the top level is a statement of its own, whose role the word gives: (offset, text, word)."""
    parts, depth, last, word, i = [], 0, 0, "", 0
    while i < len(row):
        c = row[i]
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        elif depth == 0 and (c == "#" or row.startswith("\\#", i)):
            break  # a remark runs to the end of the row
        elif depth == 0 and c in "\\,;":
            m = _CONNECTIVE.match(row, i)
            if m and row[last:i].strip():
                parts.append((last, row[last:i], word))
                word, last, i = m.group(1), m.end(), m.end()
                continue
        if c == "\\":
            m = re.match(r"\\[A-Za-z]+|\\.", row[i:])
            i += m.end() if m else 1
            continue
        i += 1
    parts.append((last, row[last:], word))
    return [(off, p, w) for off, p, w in parts if p.strip()]


_STATEMENT_BREAK = re.compile(r"[,;]?\s*\\q?quad(?![A-Za-z])|;")


def split_statements(row: str) -> list[tuple[int, str]]:
    """'z = \\mu + \\sigma\\epsilon, \\quad \\epsilon \\sim N(0, 1)' -> two statements.

    A row is cut at a top-level ';' or '\\quad' (with an optional comma before it) when the
    part after it states a relation of its own."""
    parts, depth, last, i = [], 0, 0, 0
    while i < len(row):
        c = row[i]
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        elif depth == 0:
            m = _STATEMENT_BREAK.match(row, i)
            if m:
                rest = row[m.end():]
                if isinstance(split_relations(rest), str) or len(split_relations(rest)) > 1:
                    parts.append((last, row[last:i]))
                    last = m.end()
                i = m.end()
                continue
        if c == "\\":
            m = re.match(r"\\[A-Za-z]+|\\.", row[i:])
            i += m.end() if m else 1
            continue
        i += 1
    parts.append((last, row[last:]))
    return [(off, p) for off, p in parts if p.strip()]


_LEADING = re.compile(r"^(?:\s|\\[,;:! ]|\\q?quad(?![A-Za-z])|~)+")
_TRAILING = re.compile(r"(?:\s|\\[,;:! ]|\\q?quad(?![A-Za-z])|~|[.,;:]|\\\.)+$")


def split_relations(row: str) -> list[tuple[str | None, str]] | str:
    """'A = B \\leq C' -> [(None, 'A'), ('=', 'B'), ('<=', 'C')]; a string when unsupported."""
    out = split_relations_at(row)
    return out if isinstance(out, str) else [(r, t) for r, t, _ in out]


def split_relations_at(row: str) -> list[tuple[str | None, str, int]] | str:
    """Like split_relations, with the offset in ``row`` where each piece starts."""
    row = row.replace("&", " ")
    parts: list[tuple[str | None, str]] = []
    depth, last, rel, i = 0, 0, None, 0
    while i < len(row):
        c = row[i]
        if c in "{([":
            depth += 1
            i += 1
            continue
        if c in "})]":
            depth = max(0, depth - 1)  # a bracket that closes nothing does not hide the relations after it
            i += 1
            continue
        if c == "\\" and row[i + 1: i + 2] in ("{", "}", "|", "[", "]", "(", ")", "#", "%", "$", ","):
            if row[i + 1] in "{":
                depth += 1
            elif row[i + 1] in "}":
                depth -= 1
            i += 2
            continue
        if depth == 0:
            m = _REL_AT.match(row, i)
            if m:
                if m.group(1) is not None:  # \stackrel{..}{=}
                    inner = m.group(1).strip()
                    found = _REL_AT.fullmatch(inner)
                    r = _relation_of(found) if found else "?"
                else:
                    r = _relation_of(m)
                if r == "?":
                    return f"relation '{m.group(0).strip()}' is not checked"
                parts.append((rel, row[last:i], last))
                rel, last = r, m.end()
                i = m.end()
                continue
        if c == "\\":
            m = re.match(r"\\[A-Za-z]+", row[i:])
            i += m.end() if m else 2
            continue
        i += 1
    parts.append((rel, row[last:], last))
    out = []
    for k, (r, t, off) in enumerate(parts):
        lead = _LEADING.match(t)
        off += lead.end() if lead else 0
        t = _LEADING.sub("", t).strip()
        if k == len(parts) - 1:
            # an equation number set off by a space command: a = b \qquad (3)
            t = re.sub(r"(?:\\q?quad|\\hfill)\s*\(\s*\d+(?:\.\d+)*[a-z]?\s*\)\s*[.,]?\s*$", "", t)
            t = _TRAILING.sub("", t).strip()
        out.append((r, t, off))
    return out


def _relation_of(m) -> str:
    if m.group(2):
        return RELATION_COMMANDS[m.group(2)]
    tok = m.group(0)
    if tok.startswith("\\"):
        return RELATION_COMMANDS.get(tok[1:], "?")
    return _PLAIN_REL.get(tok, "?")


@lru_cache(maxsize=8192)
def _norm(latex: str) -> str:
    """Key for recognising a repeated line: whitespace, sizing and spacing commands dropped."""
    s = re.sub(r"\\(?:left|right|big|Big|bigg|Bigg)(?![A-Za-z])|\\[,;:! ]|\\q?quad(?![A-Za-z])", "", latex)
    return re.sub(r"\s+", "", s)


# ---------------------------------------------------------------------------
# the reader
# ---------------------------------------------------------------------------
@dataclass
class _Frag:
    lines: list  # [line, latex, relation]


@dataclass
class _Decl:
    kind: str     # "sim", "eq" (density = family / definition / reparameterization), "prob", "samples", "stdnormal"
    line: int
    lhs: str
    rhs: str
    inline: bool
    keyword: str = ""
    extra: tuple = ()
    latex: str = ""   # the statement as written
    factorization: bool = False   # a joint stated as a product of its factors (a Bayesian network)


_GLOSS_AFTER = re.compile(r"^[ \t]*(?:[-–—:]|\(|(?:is|denotes|the|for|as)\b)", re.IGNORECASE)
_LET_WORDS = re.compile(r"\b(?:let|define|denote|set|where|such that|assume|suppose|with)\b[^.$]{0,12}$",
                        re.IGNORECASE)
_SAMPLES_AFTER = re.compile(r"^\s*(?:are|be|as|denote)\s+(?:\$?[A-Za-z]\$?\s+)?(?:i\.?i\.?d\.?\s+|independent\s+)?"
                            r"samples?\s+(?:drawn\s+)?(?:from|of)\s*$")
_STDNORMAL_AFTER = re.compile(r"^\s*(?:be|is|as|to be|follows?)\s+(?:a\s+|the\s+)?(?:standard|unit)\s+"
                              r"(?:normal|Normal|gaussian|Gaussian)")


class _Reader:
    def __init__(self, text: str, path: str, assumptions=None):
        self.text = text
        self.path = path
        self.assumptions = assumptions   # decides the algebra of revealed assumptions (checking side)
        self.notes: list[str] = []
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.deadline = time.monotonic() + TIME_BUDGET
        self.mentions: list[str] = []
        self.statements: list[Statement] = []     # roles decided while cutting rows
        self.declared: list[Statement] = []       # roles decided by reading declarations
        self.assumed: list[Assumption] = []
        self._record = False                      # the real pass records what declarations became

    def _role(self, line: int, role: str, latex: str, word: str = ""):
        self.statements.append(Statement(line, role, _one_line(latex, 300), word))

    def line_of(self, offset: int) -> int:
        import bisect

        return bisect.bisect_right(self._line_starts, offset)

    # -- structure ------------------------------------------------------------
    def read(self) -> Submission:
        segments = find_segments(self.text, latex_file=_is_latex_file(self.path))
        frags, decls = self._fragments(segments)
        chains_latex = self._merge(frags)
        cal_conflicts = _cal_conflicts(segments)
        # discovery pass, then the real one
        env1 = LatexEnv()
        env1.cal_conflicts = cal_conflicts
        found, _ = self._interpret(env1, decls, chains_latex, discovery=True)
        for latex in self.mentions:
            self._parse(latex, env1)
        for ch in found:
            for ml in ch.lines:
                if ml.expr is None:
                    # a line the first pass could not read (KL(q || p) before q(z) is met): the densities
                    # written in it still tell what the letters stand for
                    for call in _density_calls(ml.latex):
                        self._parse(call, env1)
        env = LatexEnv()
        env.cal_conflicts = cal_conflicts
        _seed(env, env1, found)
        chains, definitions = self._interpret(env, decls, chains_latex, discovery=False)
        notes = self.notes + _dedupe(env.notes)
        readings: dict = {}
        for ch in chains:
            for ml in ch.lines:
                if ml.expr is not None and ml.readings:
                    lst = readings.setdefault(ml.expr, [])
                    lst.extend(r for r in ml.readings if r not in lst)
        statements = sorted(_dedupe(self.statements + self.declared), key=lambda st: st.line)
        return Submission(self.path, self.text, chains, env.context, definitions, notes, readings,
                          statements, list(self.assumed))

    def _fragments(self, segments):
        frags: list[_Frag] = []
        decls: list[_Decl] = []
        current: _Frag | None = None
        count = 0
        last_decl = last_assumed = last_condition = -2
        for si, seg in enumerate(segments):
            if seg.kind == "display":
                rows = split_rows(seg, self.line_of)
            else:
                lead = len(seg.content) - len(seg.content.lstrip())
                rows = [(self.line_of(seg.start + lead), seg.content.strip(), seg.start + lead)]
            if seg.kind == "inline":
                d = self._samples_decl(seg, segments, si)
                if d is not None:
                    d.latex = seg.content.strip()
                    decls.append(d)
                    continue
                d = self._stdnormal_decl(seg)
                if d is not None:
                    d.latex = seg.content.strip()
                    decls.append(d)
                    continue
            # inline math after 'assume', 'for', 'where', ... (or after 'and' following such math)
            seg_assuming = seg.kind == "inline" and bool(
                _ASSUME_BEFORE.search(seg.before) or
                last_assumed == si - 1 and re.fullmatch(r"\s*(?:and|,)\s*", seg.before))
            if seg_assuming:
                last_assumed = si
            statements = []
            for line, raw, at in rows:
                for c_off, piece, word in split_connectives(raw):
                    row, _remark = strip_comment(piece)
                    statements.extend((self.line_of(at + c_off + off), part, at + c_off + off, word)
                                      for off, part in split_statements(row))
            for line, row, at, word in statements:
                count += 1
                if count > MAX_EXPRESSIONS:
                    self.notes.append(f"line {line}: more than {MAX_EXPRESSIONS} rows of math; the rest is not read")
                    return frags, decls
                at += len(row) - len(row.lstrip())
                row = row.strip()
                if not row or _EQ_NUMBER.match(re.sub(r"\\(?:tag|label)\s*\{[^{}]*\}", "", row).strip()):
                    continue
                located = split_relations_at(row)
                assuming = word in _ASSUMING_CONNECTIVES or (not word and seg_assuming)
                if isinstance(located, str):
                    member = _membership(row) if (assuming or word in _CONDITION_CONNECTIVES or
                                                  seg.kind == "inline") else None
                    if member is not None:
                        self._member(line, row, member, assuming, word, decls)
                        continue
                    self.notes.append(f"line {line}: {located}; the row is skipped")
                    continue
                pieces = [(r, t) for r, t, _ in located]
                # the line of each piece: a row may run over several lines of the file
                where = [self.line_of(at + off) for _, _, off in located]
                if not _meaningful(pieces):
                    continue
                rels = [r for r, _ in pieces[1:]]
                if assuming and _is_bound(pieces, rels):
                    # assume beta >= 1, for 0 < beta <= 1, where q_k > 0
                    for k in range(1, len(pieces)):
                        decls.append(_Decl("assume", line, pieces[k - 1][1], pieces[k][1], seg.kind == "inline",
                                           keyword=word or _role_word(seg.before) or _before_word(seg.before),
                                           extra=(_raw_relation(row, located, k),), latex=row))
                    continue
                if assuming and _is_constraint(pieces, rels):
                    # weights q_k 'with $\sum_k q_k = 1$': a constraint the text puts on its parameters
                    decls.append(_Decl("assume", line, pieces[0][1], pieces[1][1], seg.kind == "inline",
                                       keyword=word or _role_word(seg.before) or _before_word(seg.before),
                                       extra=("=",), latex=row))
                    continue
                if word in _CONDITION_CONNECTIVES and "sim" not in rels:
                    self.notes.append(f"line {line}: '{_one_line(row, 60)}' follows '{word}': a condition, not a claim")
                    self._role(line, "condition", row, word)
                    continue
                if word in _DECLARING_CONNECTIVES and "sim" not in rels:
                    if len(pieces) == 2 and pieces[0][1] and rels[0] == "=":
                        decls.append(_Decl("eq", line, pieces[0][1], pieces[1][1], True, keyword=word, latex=row,
                                           factorization=_looks_factorization(pieces[0][1], pieces[1][1])))
                    else:
                        self.notes.append(f"line {line}: '{_one_line(row, 60)}' follows '{word}': "
                                          f"read as a declaration, not a claim")
                        self._role(line, "declared", row, word)
                    continue
                # a name defined by ':=', '\triangleq', '\equiv': L := E[...] (= ... continues from E[...])
                if len(pieces) >= 2 and pieces[0][1] and _BARE_NAME.match(pieces[0][1]) and \
                        _is_definition_sign(_raw_relation(row, located, 1)) and "sim" not in rels:
                    decls.append(_Decl("eq", line, pieces[0][1], pieces[1][1], seg.kind == "inline",
                                       keyword=_raw_relation(row, located, 1), latex=row[:located[2][2]].rstrip()
                                       if len(located) > 2 else row))
                    if len(pieces) == 2:
                        if seg.kind == "display":   # rows '&= ...' after it continue from the definiens
                            current = _Frag([[where[1], pieces[1][1], None]])
                            frags.append(current)
                        continue
                    located, where = located[1:], where[1:]
                    located[0] = (None,) + tuple(located[0][1:])
                    pieces = [(r, t) for r, t, _ in located]
                    rels = [r for r, _ in pieces[1:]]
                # ... = E[...] =: L, ... \equiv L: the last name is defined by what precedes it
                if len(pieces) >= 3 and pieces[-1][1] and _BARE_NAME.match(pieces[-1][1]) and \
                        _is_definition_sign(_raw_relation(row, located, len(pieces) - 1)) and "sim" not in rels:
                    decls.append(_Decl("eq", where[-1], pieces[-1][1], pieces[-2][1], seg.kind == "inline",
                                       keyword=_raw_relation(row, located, len(pieces) - 1),
                                       latex=row[located[-2][2]:]))
                    located, where = located[:-1], where[:-1]
                    pieces = [(r, t) for r, t, _ in located]
                    rels = [r for r, _ in pieces[1:]]
                if "sim" in rels:
                    if len(pieces) == 2 and pieces[0][1]:
                        decls.append(_Decl("sim", line, pieces[0][1], pieces[1][1], seg.kind == "inline", latex=row,
                                           keyword=word or (_role_word(seg.before) if seg.kind == "inline" else "")))
                    else:
                        self.notes.append(f"line {line}: '~' inside a chain is not read")
                    continue
                if len(pieces) == 1:
                    if seg.kind == "display" and pieces[0][1]:
                        current = _Frag([[where[0], pieces[0][1], None]])
                        frags.append(current)
                    elif _MENTION_HEAD.match(pieces[0][1]) and len(self.mentions) < 200:
                        # $p(z)$, $r(z)$, $\pi(z)$: a density the text talks about (the reader decides
                        # whether the letter names one; the mention only tells what its variables are)
                        self.mentions.append(pieces[0][1])
                    continue
                head = pieces[0][1]
                if len(pieces) == 2 and rels[0] == "=" and seg.kind == "inline" and \
                        _looks_factorization(head, pieces[1][1]):
                    # 'with $p(x, z_1, z_2) = p(x|z_1) p(z_1|z_2) p(z_2)$': the model is declared so
                    decls.append(_Decl("eq", line, head, pieces[1][1], True, keyword=word or _role_word(seg.before),
                                       latex=row, factorization=True))
                    last_decl = si
                    continue
                declares = len(pieces) == 2 and rels[0] == "=" and _looks_declaration(head, pieces[1][1])
                if seg.kind == "inline" and not declares and (_not_a_claim(seg.before, pieces) or (
                        last_condition == si - 1 and re.fullmatch(r"\s*(?:and|,)\s*", seg.before)
                        and len(pieces) == 2 and rels[0] == "=")):
                    # 'for $\mu_2 = 0$, $\sigma_2 = 1$': math joined by ',' or 'and' to a condition is one too
                    last_condition = si
                    self.notes.append(f"line {line}: '{_one_line(row, 60)}' is a range or a condition, not a claim")
                    self._role(line, "condition", row, _role_word(seg.before))
                    continue
                if len(pieces) == 2 and head and rels[0] == "=":
                    kw = None
                    if seg.kind == "inline":
                        kw = _LET_WORDS.search(seg.before.rstrip())
                        if kw is None and last_decl == si - 1 and re.fullmatch(r"\s*(?:and|,)\s*", seg.before):
                            kw = re.match(r"\s*(and|,)?", seg.before)
                        if kw is None and seg.in_list and _GLOSS_AFTER.match(seg.after) and \
                                not seg.before.rsplit("\n", 1)[-1].strip(" \t-*+.)0123456789"):
                            # a list of definitions: '- $\mathcal{L} = \mathbb{E}[...]$ - the ELBO'
                            kw = re.match(r"", "")
                    if _looks_declaration(head, pieces[1][1]) or (kw and _BARE_NAME.match(head)) or re.search(
                            r"\\mathbb\s*\{\s*P\s*\}|\\Pr\b", pieces[1][1]):
                        decls.append(_Decl("eq", line, head, pieces[1][1], seg.kind == "inline",
                                           keyword=kw.group(0).strip() if kw else "", latex=row))
                        last_decl = si
                        continue
                if not head:
                    if current is None:
                        self.notes.append(f"line {line}: a row starts with '{rels[0]}' but nothing precedes it")
                        current = _Frag([[where[1], pieces[1][1], None]])
                        frags.append(current)
                        for k, (r, t) in enumerate(pieces[2:], start=2):
                            current.lines.append([where[k], t, r])
                        continue
                    for k, (r, t) in enumerate(pieces[1:], start=1):
                        current.lines.append([where[k], t, r])
                    continue
                current = _Frag([[where[0], head, None]] +
                                [[where[k], t, r] for k, (r, t) in enumerate(pieces[1:], start=1)])
                frags.append(current)
        return frags, decls

    def _samples_decl(self, seg: Segment, segments, si):
        """'$z^{(i,1)}, \\dots, z^{(i,L)}$ are L samples from $q(z|x)$'."""
        if not re.search(r"\\[lc]?dots|\.\.\.|…", seg.content) or si + 1 >= len(segments):
            return None
        nxt = segments[si + 1]
        between = self.text[seg.start + len(seg.content): nxt.start]
        between = between.strip("$ \n")
        if nxt.kind != "inline" or not _SAMPLES_AFTER.match(" " + between):
            if not re.search(r"samples?\s+(?:drawn\s+)?(?:from|of)\s*\$?\s*$", between):
                return None
        items = [s.strip() for s in _split_top(seg.content, ",")]
        items = [s for s in items if s and not re.fullmatch(r"\\[lc]?dots|\.\.\.|…", s)]
        if not items:
            return None
        return _Decl("samples", self.line_of(seg.start), items[0], nxt.content.strip(), True,
                     extra=(items[-1],))

    def _stdnormal_decl(self, seg: Segment):
        if "=" in seg.content or "\\sim" in seg.content:
            return None
        if _STDNORMAL_AFTER.match(seg.after):
            return _Decl("stdnormal", self.line_of(seg.start), seg.content.strip(), "", True)
        return None

    def _merge(self, frags: list[_Frag]) -> list[list]:
        """Fragments that repeat an earlier chain (same head, another shared line) extend it."""
        chains: list[list] = []
        for f in frags:
            if len(f.lines) < 2:
                continue
            keys = [_norm(l[1]) for l in f.lines]
            best, best_score = None, 0
            for c in chains:
                if _norm(c[0][1]) != keys[0]:
                    continue
                ckeys = [_norm(l[1]) for l in c]
                score = sum(1 for k in keys[1:] if k in ckeys[1:])
                if score > best_score:
                    best, best_score = c, score
            if best is None:
                chains.append([list(l) for l in f.lines])
                continue
            pos = 0
            pending = []
            for line in f.lines[1:]:
                ckeys = [_norm(l[1]) for l in best]
                k = _norm(line[1])
                hit = next((j for j in range(pos + 1, len(best)) if ckeys[j] == k), None)
                if hit is None:
                    pending.append(list(line))
                    continue
                if pending:
                    best[hit:hit] = pending
                    hit += len(pending)
                    pending = []
                pos = hit
            if pending:
                if pos == len(best) - 1:
                    best.extend(pending)  # the slide goes one line further
                else:
                    # the fragment leaves the chain in its middle: a branch from the last shared line
                    pending[0][2] = pending[0][2] or "="
                    chains.append([[best[pos][0], best[pos][1], None]] + pending)
        return chains

    # -- meaning -----------------------------------------------------------------
    def _parse(self, latex: str, env: LatexEnv, *, allow_distribution=False):
        if time.monotonic() > self.deadline:
            return None, "not read: the time budget for this submission ran out"
        try:
            with phase(lambda: ("read", latex, allow_distribution), READ_SECONDS):
                return parse_latex(latex, env, allow_distribution=allow_distribution), None
        except LimitExceeded as exc:
            return None, f"not read: reading this expression {exc}"
        except InputError as exc:
            balanced = drop_unmatched_closers(latex)
            if balanced is not None:
                try:
                    out = parse_latex(balanced, env, allow_distribution=allow_distribution)
                except Exception:
                    out = None
                if out is not None:
                    env.notes.append(f"'{_one_line(latex, 60)}': a closing bracket that closes nothing is ignored")
                    return out, None
            return None, _one_line(exc.message)
        except RecursionError:
            return None, "expression is nested too deeply"
        except Exception as exc:  # a SymPy corner case must not stop the reading
            return None, _one_line(f"cannot build expression: {type(exc).__name__}: {exc}")

    def _interpret(self, env: LatexEnv, decls: list[_Decl], chains_latex: list[list], *, discovery: bool):
        ctx = env.context
        _declared_parameters(env, decls)
        definitions: dict = {}
        notes = self.notes if not discovery else []
        order = {"sim": 0, "eq": 0, "stdnormal": 1, "samples": 2, "assume": 3}
        self._record = not discovery
        # densities' families first, so that definitions can tell model parameters apart
        for d in sorted(decls, key=lambda d: (order.get(d.kind, 0), not _DENSITY_HEAD.match(d.lhs))):
            known = len(definitions)
            self._declare(env, d, definitions, notes)
            if not discovery and d.kind != "assume":
                self.declared.append(Statement(d.line, "defined" if len(definitions) > known else "declared",
                                               _one_line(d.latex or f"{d.lhs} = {d.rhs}", 300), _word_of(d.keyword)))
        # a family declared at a scalar point before the point turned out to be a vector
        for dens, fam in list(ctx.families.items()):
            if isinstance(fam, Normal) and isinstance(fam.x, sp.Symbol) and ctx.is_vector(fam.x.name):
                ctx.families[dens] = _at(fam, dens, env)
        chains: list[Chain] = []
        for c in chains_latex:
            lines = []
            for line, latex, rel in c:
                expr, err = self._parse(latex, env)
                ml = MathLine(line, latex, expr, err, rel)
                if not discovery:
                    self._other_readings(ml, env, notes)
                lines.append(ml)
            chains.append(Chain(lines, "claim" if len(lines) == 2 else "chain"))
        if discovery:
            return chains, definitions
        chains = [ch for ch in chains if not self._intent(ch, notes)]
        self._infer_assumptions(env, chains, notes)
        _prune_vectors(env, chains, notes)
        env.parameters = _parameter_names(env, chains)
        sample_idx = {v[0] for v in ctx.samples.values()}
        for ch in chains:
            head = ch.lines[0]
            # Monte Carlo averages written with '=' are estimates
            for a, b in zip(ch.lines, ch.lines[1:]):
                if b.relation == "=" and a.expr is not None and b.expr is not None and sample_idx:
                    if _has_sample_sum(a.expr, sample_idx) != _has_sample_sum(b.expr, sample_idx):
                        b.relation = "~="
                        notes.append(f"line {b.line}: a sample average written with '=' is read as an estimate (~=)")
            # heads that name a new quantity define it: \mathcal{L} = E[...]; where the right sides
            # after the head cannot be read, by the first one that can (r_k = p(z=k|x) = \frac{..}{..})
            first = next((m for m in ch.lines[1:] if m.relation != "=" or m.expr is not None), None)
            if head.expr is not None and first is not None and first.relation == "=" and _is_name(head.expr, env):
                if head.expr not in definitions and head.expr not in first.expr.free_symbols:
                    definitions[head.expr] = first.expr
                    head.readings.extend((alt, what) for alt, what in first.readings
                                         if head.expr not in alt.free_symbols and (alt, what) not in head.readings)
                    notes.append(f"line {head.line}: {head.expr} is defined as {first.expr}")
            elif head.expr is not None and first is not None and first.relation == "=" \
                    and _is_indexed_name(head.expr, env):
                # r_k = ...: one definition per index the text uses (r_j in a sum over j is the same r)
                if _define_indexed(head.expr, first.expr, ctx, definitions):
                    notes.append(f"line {head.line}: {head.expr} is defined as {first.expr}")
        # a new quantity named inside or at the end of a chain ('... \geq B = \mathcal{L}_K',
        # '\mathcal{L}_K \geq \mathcal{L}_1 = B') and nowhere defined: it names the expression it equals
        for ch in chains:
            for k, m in enumerate(ch.lines[1:], start=1):
                if m.expr is None or not _is_name(m.expr, env) or m.expr in definitions:
                    continue
                nxt = ch.lines[k + 1] if k + 1 < len(ch.lines) else None
                prev = ch.lines[k - 1]
                if nxt is not None and nxt.relation == "=" and nxt.expr is not None:
                    source = nxt
                elif nxt is None and m.relation == "=" and prev.expr is not None:
                    source = prev
                else:
                    continue
                value = source.expr
                if m.expr not in value.free_symbols and not _is_name(value, env):
                    definitions[m.expr] = value
                    # the name stands for its expression in every reading of that expression
                    m.readings.extend((alt, what) for alt, what in source.readings
                                      if m.expr not in alt.free_symbols and (alt, what) not in m.readings)
                    notes.append(f"line {m.line}: {m.expr} names {value}")
        return chains, definitions

    def _intent(self, ch: Chain, notes: list) -> bool:
        """'q_phi(z|x) \\approx p(z|x)': an approximation between two densities over the same
        variables says what a model aims at, not a claim that holds for every model.  Over
        different variables it relates incomparable things and stays a claim."""
        if len(ch.lines) != 2 or ch.lines[1].relation != "~=":
            return False
        a, b = ch.lines[0].expr, ch.lines[1].expr
        if not (isinstance(a, Density) and isinstance(b, Density)) or tuple(a.vars) != tuple(b.vars):
            return False
        notes.append(f"line {ch.lines[1].line}: {a} ~= {b} is read as what the approximation aims at "
                     f"(a statement of intent), not a claim")
        self._role(ch.lines[0].line, "intent", f"{ch.lines[0].latex} \\approx {ch.lines[1].latex}")
        return True

    def _other_readings(self, ml: MathLine, env: LatexEnv, notes: list):
        """Parse the line once per alternative reading; keep each that gives another term.  A line
        that only an alternative reading can read takes it as its reading."""
        for name, what in READINGS.items():
            env.switches = frozenset([name])
            try:
                alt, _ = self._parse(ml.latex, env)
            finally:
                env.switches = frozenset()
            if alt is None or alt == ml.expr or any(alt == a for a, _ in ml.readings):
                continue
            if ml.expr is None:
                ml.expr, ml.error = alt, None
                notes.append(f"line {ml.line}: read with {what}")
                continue
            ml.readings.append((alt, what))

    # -- assumptions a step reveals ------------------------------------------------
    def _infer_assumptions(self, env: LatexEnv, chains: list[Chain], notes: list):
        """Read the problem's assumptions off the substitutions students make.

        A step that replaces an undeclared density by an explicit Gaussian formula or
        by a product of factor densities (log q(z) -> log(prod_i q_i(z_i))) uses the
        problem's assumption about that density: the family then holds in that chain
        and in the chains after it, until another step replaces the same density by
        something else.  A step that replaces z by mu + sigma*eps under E over eps
        reveals the reparameterization.  Each is reported in the notes.

        The reader finds the candidate steps; whether a formula is a density of a
        family, or a substitution turns one line into the next, is asked of
        ``self.assumptions`` (without one, nothing is inferred).
        """
        if self.assumptions is None:
            return
        ctx = env.context
        active: dict = {}
        for ch in chains:
            own: dict = {}
            for a, b in zip(ch.lines, ch.lines[1:]):
                if a.expr is None or b.expr is None or b.relation != "=":
                    continue
                try:
                    for d, fam in _family_substitutions(a.latex, b.latex, env, self.assumptions.family):
                        if d in ctx.families or d in own:
                            continue
                        own[d] = fam
                        notes.append(f"line {b.line}: {d} is replaced by {fam}; read as the assumption {d} = {fam}")
                    for d, fam in _factor_substitutions(a.expr, b.expr):
                        if d in ctx.families or d in own:
                            continue
                        own[d] = fam
                        notes.append(f"line {b.line}: {d} is written through its factors {fam.function}; read as "
                                     f"the assumption {d} = {fam}")
                    self._infer_let(env, a, b, notes)
                except Exception:  # inference is a convenience; it must never stop the reading
                    continue
            scope = {**active, **own}
            if scope:
                for ml in ch.lines:
                    if ml.expr is not None:
                        try:
                            for _ in range(3):  # a family may be written through factors that have families
                                ml.expr = ml.expr.xreplace(scope)
                                ml.readings = [(a.xreplace(scope), w) for a, w in ml.readings]
                        except Exception:
                            pass
            active.update(own)

    def _infer_let(self, env: LatexEnv, a: MathLine, b: MathLine, notes: list):
        ctx = env.context
        gone = [s for s in a.expr.free_symbols - b.expr.free_symbols
                if isinstance(s, sp.Symbol) and s not in ctx.lets and s.name in _density_var_names(env)]
        if len(gone) != 1 or not _random_symbols(b.expr, env) and "eps" not in b.latex and "epsilon" not in b.latex:
            return
        z = gone[0]
        if not (_small(a.expr) and _small(b.expr)):
            return
        for cand in _eps_subtrees(b.latex, env):
            if z in cand.free_symbols or not _random_symbols(cand, env):
                continue
            if self.assumptions.substitution_holds(a.expr, z, cand, b.expr):
                ctx.lets[z] = cand
                for r in _random_symbols(cand, env):
                    env.distribution_of(r)
                notes.append(f"line {b.line}: {z} is replaced by {cand}; read as the reparameterization {z} = {cand}")
                return

    def _declare(self, env: LatexEnv, d: _Decl, definitions: dict, notes: list):
        ctx = env.context
        where = f"line {d.line}"
        try:
            if d.kind == "assume":
                self._declare_assumption(env, d, notes)
                return
            if d.kind == "samples":
                self._declare_samples(env, d, notes)
                return
            if d.kind == "stdnormal":
                dens, err = self._parse(d.lhs, env)
                if dens is not None and isinstance(dens, Density):
                    fam = _at(PointlessNormal(sp.Integer(0), sp.Integer(1)), dens, env)
                    ctx.families.setdefault(dens, fam)
                    notes.append(f"{where}: {dens} is a standard normal")
                return
            if d.kind == "eq" and re.search(r"\\mathbb\s*\{\s*P\s*\}|\\Pr\b", d.rhs):
                self._declare_probability(env, d, notes)
                return
            if d.kind == "sim":
                items = [t.strip() for t in _split_top(d.lhs, ",")]
                items = [t for t in items if t and not re.fullmatch(r"\\[lc]?dots|\.\.\.|…", t)]
                if items and _BARE_NAME.match(items[0]) and (len(items) > 1 or re.search(r"\^\s*\{\s*\(", items[0])):
                    # z^{(l)} \sim q(z|x), z_1, \dots, z_L \sim q(z|x): samples
                    self._declare_samples(env, _Decl("samples", d.line, items[0], d.rhs, d.inline,
                                                     extra=(items[-1],)), notes)
                    return
            lhs, err = self._parse(d.lhs, env, allow_distribution=True)
            rhs, err2 = self._parse(d.rhs, env, allow_distribution=True)
            if lhs is None or rhs is None:
                notes.append(f"{where}: declaration not understood ({err or err2})")
                return
            if isinstance(lhs, Density) and _is_family(rhs):
                if lhs in ctx.families:
                    notes.append(f"{where}: {lhs} was already declared; this declaration is ignored")
                    return
                ctx.families[lhs] = _at(rhs, lhs, env)
                notes.append(f"{where}: {lhs} ~ {ctx.families[lhs]}")
                return
            if d.kind == "eq" and d.factorization and isinstance(lhs, Density) and isinstance(rhs, sp.Mul):
                factors = sp.Mul.make_args(rhs)
                if all(isinstance(f, Density) for f in factors):
                    try:
                        ctx.factorize(lhs, factors)
                    except ValueError as exc:
                        notes.append(f"{where}: {lhs} = {rhs} is not read as a factorization ({exc})")
                        return
                    notes.append(f"{where}: {lhs} factorizes as {rhs}")
                    return
            if d.kind == "eq" and isinstance(lhs, Density) and isinstance(rhs, sp.Basic) and _explicit_formula(rhs, lhs):
                # p(x|z) = \prod_j \hat{x}_j^{x_j}(1 - \hat{x}_j)^{1 - x_j}: the density is that formula
                if lhs not in definitions:
                    definitions[lhs] = rhs
                    notes.append(f"{where}: {lhs} is defined as {rhs}")
                return
            if isinstance(lhs, sp.Symbol) and isinstance(rhs, PointlessNormal):
                # P = N(mu_1, sigma_1^2), with P(x) written elsewhere: the letter names that density
                dens = [x for x in env.seen.get(lhs.name, []) if isinstance(x, Density) and not x.given
                        and len(x.vars) == 1]
                if len(dens) == 1:
                    if dens[0] not in ctx.families:
                        ctx.families[dens[0]] = _at(rhs, dens[0], env)
                        notes.append(f"{where}: {dens[0]} ~ {ctx.families[dens[0]]}")
                    return
            if d.kind == "sim" and isinstance(lhs, (sp.Symbol, sp.Indexed)) and _is_family(rhs):
                sym = _plain(lhs, ctx)
                ctx.randoms.setdefault(sym, unit_identity(rhs, sym, ctx).at(sym, ctx)
                                       if isinstance(rhs, PointlessNormal) else rhs)
                notes.append(f"{where}: {sym} ~ {ctx.randoms[sym]}")
                return
            if d.kind == "eq" and _is_indexed_name(lhs, env) and isinstance(rhs, sp.Expr) \
                    and not isinstance(rhs, Density) and not _is_family(rhs):
                # 'let w_k = p(x, z_k)/q(z_k|x)': w is defined at every index the text uses (w_j is the same w)
                if _define_indexed(lhs, rhs, ctx, definitions):
                    notes.append(f"{where}: {lhs} is defined as {rhs}")
                else:
                    notes.append(f"{where}: {lhs} = {rhs} is not used as a definition ({lhs.base} appears on "
                                 "both sides or is defined already)")
                return
            if d.kind == "eq" and isinstance(lhs, sp.Symbol) and not isinstance(rhs, PointlessNormal):
                randoms = _random_symbols(rhs, env)
                if randoms and lhs.name in _density_var_names(env):
                    vec = [x.name for x in rhs.free_symbols if getattr(x, "name", "") in ctx.vectors]
                    if vec:
                        notes.append(f"{where}: {lhs} = {rhs} (reparameterization) is elementwise over the vector(s) "
                                     f"{', '.join(sorted(vec))}; not used for checking")
                        return
                    ctx.lets[lhs] = rhs
                    for r in randoms:
                        env.distribution_of(r)
                    notes.append(f"{where}: {lhs} = {rhs} (reparameterization)")
                    return
                if isinstance(rhs, sp.core.function.AppliedUndef) or lhs.name in ctx.vectors:
                    notes.append(f"{where}: {lhs} is {rhs} (a model output, not substituted)")
                    return
                if lhs.name in _density_var_names(env) or lhs in ctx.randoms or lhs.name in _parameter_names(env, []):
                    notes.append(f"{where}: {lhs} = {rhs} is about a model variable; not used as a definition")
                    return
                if lhs not in definitions and lhs not in rhs.free_symbols:
                    definitions[lhs] = rhs
                    notes.append(f"{where}: {lhs} is defined as {rhs}")
                return
            notes.append(f"{where}: declaration not understood")
        except InputError as exc:
            notes.append(f"{where}: declaration not understood ({exc.message})")
        except Exception as exc:  # never let a declaration stop the reading
            notes.append(f"{where}: declaration not understood ({type(exc).__name__})")

    def _declare_assumption(self, env: LatexEnv, d: _Decl, notes: list):
        """'assume beta >= 1': the sides are read; the grader hands them to the checker."""
        lhs, err = self._parse(d.lhs, env)
        rhs, err2 = self._parse(d.rhs, env)
        if not self._record:
            return
        self.declared.append(Statement(d.line, "assumed", _one_line(d.latex or f"{d.lhs} {d.extra[0]} {d.rhs}", 300),
                                       _word_of(d.keyword)))
        if lhs is None or rhs is None:
            notes.append(f"line {d.line}: assumption not understood ({err or err2})")
            return
        self.assumed.append(Assumption(d.line, _one_line(d.latex, 300), lhs, d.extra[0], rhs))
        notes.append(f"line {d.line}: {lhs} {d.extra[0]} {rhs} is read as an assumption, not a claim")

    def _member(self, line: int, row: str, member, assuming: bool, word: str, decls: list):
        """'x \\in \\mathbb{R}^d', 'beta \\in [1, \\infty)': a bound on a parameter after an assuming word
        is an assumption; anything else is noted as a declaration (or a range after 'for')."""
        lhs, rhs = member
        bounds = _interval(rhs)
        if assuming and bounds:
            for rel, bound in bounds:
                decls.append(_Decl("assume", line, lhs, bound, True, keyword=word or "\\in", extra=(rel,), latex=row))
            return
        if word in _CONDITION_CONNECTIVES or re.search(r"\\[lc]?dots|\.\.\.|…|\\\{", rhs):
            self._role(line, "condition", row, word)
            self.notes.append(f"line {line}: '{_one_line(row, 60)}' is a range or a condition, not a claim")
            return
        self._role(line, "declared", row, word)
        self.notes.append(f"line {line}: '{_one_line(row, 60)}' says where a name lives; noted, not used")

    def _declare_samples(self, env: LatexEnv, d: _Decl, notes: list):
        ctx = env.context
        first = re.sub(r"\^\s*\{\s*\([^{}]*\)\s*\}|_\s*\{?\s*\d+\s*\}?$", "", d.lhs).strip()
        base = _base_name(first) if re.fullmatch(r"\\?[A-Za-z]+(\s*\{(?:[^{}]|\{[^{}]*\})*\})?", first) else None
        if base is None:
            notes.append(f"line {d.line}: samples not understood")
            return
        last = d.extra[0] if d.extra else d.lhs
        m = re.search(r"\(\s*(?:[^,()]*,\s*)?([A-Za-z])\s*\)", last) or re.search(r"_\s*\{?\s*([A-Za-z])\s*\}?", last)
        letter = m.group(1) if m else "L"
        # z^{(i,L)} names the count L (index l); z^{(l)} names the index l (count L)
        idx_name, count_name = (letter, letter.upper()) if letter.islower() else (letter.lower(), letter)
        if idx_name in ctx.indices:
            idx, _, count = ctx.indices[idx_name]
        else:
            count, _ = self._parse(count_name, env)
            if not isinstance(count, sp.Symbol):
                count = ctx.declare("L", "positive integer")
            idx = ctx.index(idx_name, sp.Integer(1), count)
        env.sample_indices.add(idx_name)
        dist, err = self._parse(d.rhs, env, allow_distribution=True)
        var = env.resolver.name(base)
        if var is None or not isinstance(var, sp.Symbol):
            var = ctx.symbol(base)
        if dist is None or not (_is_family(dist) or is_density(dist)):
            notes.append(f"line {d.line}: samples of {base} from an unknown distribution ({err})")
            return
        if isinstance(dist, PointlessNormal):
            one = {sp.Symbol("I"): sp.Integer(1)}
            dist = PointlessNormal(dist.mean.xreplace(one), dist.var.xreplace(one)).at(var, ctx)
            ctx.randoms.setdefault(var, dist)
        ctx.samples[base] = (idx, var, dist)
        notes.append(f"line {d.line}: {base}_{idx_name}, {idx_name} = 1..{count}, are samples of {dist}")

    def _declare_probability(self, env: LatexEnv, d: _Decl, notes: list):
        """x_hat_j = P(x_j = 1, z): x_hat is the decoder mean, a function of z in (0, 1)."""
        ctx = env.context
        m = re.match(r"\s*(\\[A-Za-z]+\s*\{?\s*\\?[A-Za-z]+\s*\}?|\\?[A-Za-z]+)", d.lhs)
        if not m:
            notes.append(f"line {d.line}: declaration not understood")
            return
        base = _base_name(m.group(1))
        inner = d.rhs[d.rhs.find("(") + 1:]
        var_names = [v for v in ("z",) if re.search(r"(?<![A-Za-z\\])z(?![A-Za-z])", inner)]
        z = ctx.symbol(var_names[0]) if var_names else ctx.symbol("z")
        ctx.functions[base] = (z,)
        ctx.kinds[base] = "probability"
        notes.append(f"line {d.line}: {base} is the decoder output, a probability depending on {z}")
        # p(x|z) is then Bernoulli with means x_hat_j(z): the numeric models read that from the
        # function's kind; no family is declared so that they can build the decoder.

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _trees(latex: str):
    from .latex_parser import _tree, clean_latex

    return _tree(clean_latex(latex))


def _term(tree, env: LatexEnv):
    from .latex_parser import LatexTermBuilder

    builder = LatexTermBuilder(env)
    return builder.value(builder.transform(tree))


def _is_density_call(t) -> bool:
    from lark import Tree

    if not (isinstance(t, Tree) and t.data == "call"):
        return False
    head = t.children[0]
    if not (isinstance(head, Tree) and head.data == "symbol"):
        return False
    letter = str(head.children[0])
    if letter in ("p", "q", "P", "Q"):
        return True
    # any letter written with a conditional bar, g(x|z), is a density
    bar = any(getattr(tok, "type", None) == "SEP" and str(tok) in ("|", "\\mid", "\\vert")
              for tok in t.children[1].children) if len(t.children) > 1 and isinstance(t.children[1], Tree) else False
    return len(letter) == 1 and letter.isalpha() and bar


def _align(a, b, out: list, depth: int = 0):
    from lark import Tree

    if depth > 80 or len(out) > 20:
        return
    if _is_density_call(a):
        if a != b:
            out.append((a, b))
        return
    if isinstance(a, Tree) and isinstance(b, Tree) and a.data == b.data and len(a.children) == len(b.children):
        for x, y in zip(a.children, b.children):
            _align(x, y, out, depth + 1)


def _family_substitutions(latex_a: str, latex_b: str, env: LatexEnv, family):
    """(density, family) for each undeclared density the step replaces by an explicit form;
    ``family(density, term)`` (the checker's) says which family a replacement is, if any."""
    pairs: list = []
    _align(_trees(latex_a), _trees(latex_b), pairs)
    out = []
    for ta, tb in pairs:
        d = _term(ta, env)
        if not isinstance(d, Density):
            continue
        t = _term(tb, env)
        v = d.vars[0] if len(d.vars) == 1 else None
        if isinstance(v, sp.Indexed):
            # g(x_j|z) under a sum over j: fit the family at a plain point, then put x_j back
            point = sp.Dummy("v", real=True)
            fam = family(Density(d.name, (point,), d.given), t.xreplace({v: point}))
            fam = fam.xreplace({point: v}) if fam is not None else None
        else:
            fam = family(d, t)
        if fam is not None:
            out.append((d, fam))
    return out


def _small(e, ops: int = 150) -> bool:
    """Small enough to expand and simplify quickly: few operations, small powers."""
    try:
        if sp.count_ops(e) > ops:
            return False
        return all(not p.exp.is_Number or abs(p.exp) <= 8 for p in e.atoms(sp.Pow))
    except Exception:
        return False


def _eps_subtrees(latex: str, env: LatexEnv):
    """Sums in a line that mention a random variable: candidates for mu + sigma*eps."""
    from lark import Tree

    out = []
    for sub in _trees(latex).iter_subtrees_topdown():
        if isinstance(sub, Tree) and sub.data in ("add", "sub") and "eps" in "".join(
                str(t) for t in sub.scan_values(lambda x: True)).replace("\\epsilon", "eps").replace("\\varepsilon", "eps"):
            try:
                out.append(_term(sub, env))
            except Exception:
                continue
        if len(out) > 10:
            break
    return out


def _prune_vectors(env: LatexEnv, chains: list[Chain], notes: list) -> None:
    """A name used with components (z_i) in one part and as a number ((z - mu)^2) in another
    stays a vector only when a declared family needs its components."""
    ctx = env.context
    needed = set()
    for fam in list(ctx.families.values()) + list(ctx.randoms.values()) + [v[2] for v in ctx.samples.values()]:
        needed |= {ix.base.label.name for ix in sp.sympify(fam).atoms(sp.Indexed)}
    for name in list(ctx.vectors):
        if name in needed:
            continue
        where = [m.line for ch in chains for m in ch.lines if m.expr is not None and _scalar_use(m.expr, name)]
        if where:
            del ctx.vectors[name]
            notes.append(f"{name} is used as a number (line {where[0]}) and with components; "
                         f"it is not declared a vector")


def _scalar_use(e, name: str) -> bool:
    """Whether the symbol ``name`` occurs in ``e`` as a number (not only as a density's variable)."""
    from ..terms import Expectation, Variance

    if isinstance(e, sp.Symbol):
        return e.name == name
    if isinstance(e, (Density, sp.Indexed, sp.IndexedBase)):
        return False
    if isinstance(e, (Expectation, Variance)):
        return _scalar_use(e.args[0], name)
    if isinstance(e, (sp.Integral, sp.Sum, sp.Product)):
        return _scalar_use(e.function, name)
    if isinstance(e, sp.Derivative):
        return _scalar_use(e.expr, name)
    if isinstance(e, (Normal, Bernoulli)):
        return any(_scalar_use(a, name) for a in e.args[1:])
    return any(_scalar_use(a, name) for a in getattr(e, "args", ()))


def _one_line(s: str, limit: int = 200) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= limit else s[:limit] + "..."


def _dedupe(items):
    seen, out = set(), []
    for it in items:
        if it not in seen:
            seen.add(it)
            out.append(it)
    return out


def _split_top(text: str, sep: str) -> list[str]:
    out, depth, last = [], 0, 0
    for i, c in enumerate(text):
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        elif c == sep and depth == 0:
            out.append(text[last:i])
            last = i + 1
    out.append(text[last:])
    return out


_CONDITION_WORDS = re.compile(r"\b(?:if|when|whenever|whether|for|unless|given|assuming|probability that|"
                              r"event|iff|until|while)\s*$", re.IGNORECASE)


def _not_a_claim(before: str, pieces) -> bool:
    """'for $j = 1, \\dots, d$', 'the probability that $x_j = 1$': ranges and conditions."""
    if any(re.search(r"\\[lc]?dots|\.\.\.|…|\d\s*\.\.\s*\w", t) for _, t in pieces):
        return True
    return bool(_CONDITION_WORDS.search(before.rstrip()))


_ASSUMING_CONNECTIVES = {"with", "where", "assuming", "s.t.", "such that", "for", "for all", "given"}
# words right before inline math that make a bound on a parameter an assumption: 'assume (that) the
# weight $\beta \geq 1$', 'for $\beta \ge 1$', 'where $q_k > 0$'
_ASSUME_BEFORE = re.compile(
    r"(?:\b(?:assume|assuming|assumed|suppose|supposing|given|provided|let)\b(?:\s+[A-Za-z-]+){0,4}"
    r"|\b(?:where|with|for(?:\s+(?:all|any|every|some))?|such\s+that)(?:\s+that)?"
    r"|\bfor\s+(?:all|any|every|some)(?:\s+[A-Za-z-]+){1,2})[\s,:]*$", re.IGNORECASE)
_NUMBER = re.compile(r"^\s*[-+]?\s*(?:\d+(?:\.\d+)?|\\[dt]?frac\s*\{?\s*\d+\s*\}?\s*\{?\s*\d+\s*\}?|\\infty)\s*$")
_DEFINITION_SIGNS = {":=", "=:", "\\coloneqq", "\\eqqcolon", "\\triangleq", "\\equiv", "\\doteq", "\\defeq"}


def _simple_side(t: str) -> bool:
    return bool(_NUMBER.match(t) or _BARE_NAME.match(re.sub(r"\^\s*\{?\s*2\s*\}?\s*$", "", t)))


def _is_bound(pieces, rels) -> bool:
    """beta >= 1, 0 < beta <= 1, q_k > 0: inequalities in one direction between names and numbers,
    at least one a name."""
    if not rels or any(r not in ("<=", ">=") for r in rels) or len(set(rels)) != 1:
        return False
    texts = [t for _, t in pieces]
    return all(t and _simple_side(t) for t in texts) and not all(_NUMBER.match(t) for t in texts)


def _is_constraint(pieces, rels) -> bool:
    """sum_k q_k = 1, a + b = 1: an equation between a number and a sum or difference of names (not a
    name, which would be a definition)."""
    if rels != ["="] or not pieces[0][1] or not pieces[1][1]:
        return False
    a, b = pieces[0][1].strip(), pieces[1][1].strip()
    if _NUMBER.match(a):
        a, b = b, a
    return bool(_NUMBER.match(b) and not _BARE_NAME.match(a) and re.search(r"\\sum|\\prod|[+\-]", a)
                and not re.search(r"\\(?:mathbb|int|log|ln|exp|frac)|[()]", a))


def _raw_relation(row: str, located, k: int) -> str:
    """The relation between piece k-1 and piece k as written ('<', '\\geq', ':=', ...), strictness kept
    in the returned sign for inequalities: one of '<', '<=', '>', '>=' for them, else the token."""
    between = row.replace("&", " ")[located[k - 1][2]:located[k][2]]
    found = list(_REL_AT.finditer(between))
    if not found:
        return located[k][0] or ""
    tok = found[-1].group(0).strip()
    rel = located[k][0]
    if rel in ("<=", ">="):
        strict = tok in ("<", ">", "\\lt", "\\gt") or re.search(r"\{\s*[<>]\s*\}\s*$", tok) is not None
        return rel[0] if strict else rel
    if found[-1].group(1) is not None and re.search(r"def|\\Delta|triangle|:", tok[:tok.rfind("{")]):
        return ":="   # \stackrel{\text{def}}{=}, \overset{\Delta}{=}
    return tok


def _is_definition_sign(tok: str) -> bool:
    return tok in _DEFINITION_SIGNS


def _before_word(before: str) -> str:
    m = re.search(r"([A-Za-z][A-Za-z.-]*)[\s,:]*$", before)
    return m.group(1).lower() if m else ""


_ROLE_WORDS = {"where", "let", "for", "with", "assume", "assuming", "suppose", "denote", "define", "given", "and",
               "set", "since", "if", "when", "that"}


def _word_of(keyword: str) -> str:
    """'Let the prior' -> 'let'; signs (':=', '\\in') as they are."""
    m = re.match(r"\s*([A-Za-z][A-Za-z.-]*(?:\s+(?:that|all))?)", keyword or "")
    return m.group(1).lower() if m else (keyword or "").strip()


def _role_word(before: str) -> str:
    """The word right before inline math when it is one that gives math a role ('where', 'let', ...)."""
    w = _before_word(before)
    return w if w in _ROLE_WORDS else ""


def _membership(row: str):
    """(name, set) for 'name \\in set' with one top-level \\in and no other relation, else None."""
    m = re.match(r"^(.*?)\\in(?![A-Za-z])(.*)$", row, re.S)
    if not m or not m.group(2).strip():
        return None
    lhs, rhs = m.group(1).strip(), _TRAILING.sub("", m.group(2)).strip()
    if not _BARE_NAME.match(lhs) or "\\in" in re.sub(r"\\in[A-Za-z]", "", rhs) or \
            not isinstance(split_relations_at(lhs), list) or len(split_relations_at(lhs)) != 1:
        return None
    return lhs, rhs


def _interval(rhs: str):
    """[(relation, bound)] for an interval or a half-line of the reals: [1, \\infty) -> [('>=', '1')];
    None when the set is not one."""
    s = re.sub(r"\\(?:left|right|big|Big|bigg|Bigg)(?![A-Za-z])", "", rhs).strip()
    if re.fullmatch(r"\\mathbb\s*\{\s*R\s*\}\s*(?:_\s*\{?\s*\+\s*\}?|\^\s*\{?\s*\+\s*\}?|_\s*\{\s*>\s*0\s*\})", s):
        return [(">", "0")]
    if re.fullmatch(r"\\mathbb\s*\{\s*R\s*\}\s*_\s*\{\s*(?:\\geq?|\\geqslant|>=)\s*0\s*\}", s):
        return [(">=", "0")]
    m = re.fullmatch(r"([\[(])\s*([^,\[\]()]+?)\s*,\s*([^,\[\]()]+?)\s*([\])])", s)
    if not m:
        return None
    out = []
    lo, hi = m.group(2).strip(), m.group(3).strip()
    for side, rel in ((lo, ">=" if m.group(1) == "[" else ">"), (hi, "<=" if m.group(4) == "]" else "<")):
        if re.fullmatch(r"[-+]?\s*\\infty", side):
            continue
        if not _simple_side(side):
            return None
        out.append((rel, side))
    return out or None


def _meaningful(pieces) -> bool:
    return any(t for _, t in pieces)


# one symbol, possibly decorated, with subscripts or (i)-labels: \mu^{(i)}, \hat{x}_j, a, \mathcal{L}(x; \theta)
_BARE_NAME = re.compile(
    r"^\s*(?:\\mathcal\s*\{\s*[A-Z]\s*\}(?:\s*\([^()]*\))?|"
    r"(?:\\[A-Za-z]+\s*\{\s*\\[A-Za-z]+\s*\{\s*\\?[A-Za-z]+\s*\}\s*\}|\\[A-Za-z]+\s*\{\s*\\?[A-Za-z]+\s*\}|\\[A-Za-z]+|[A-Za-z])"
    r"(?:\s*_\s*(?:\{[^{}]*\}|\\?[A-Za-z0-9]+)|\s*\^\s*\{\s*\([^{}]*\)\s*\})*)\s*$")
_MENTION_HEAD = re.compile(r"^\s*(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?\\?[A-Za-z]+\}?)?\s*\(")
_DENSITY_HEAD = re.compile(r"^\s*[pqPQ](?:_\{?\\?[A-Za-z]+\}?)?\s*\(")
_DENSITY_LETTER = re.compile(r"^\s*[pqPQr]\s*$")
_FAMILY_IN = re.compile(r"\\mathcal\s*\{?\s*N|(?<![A-Za-z\\])N\s*\(|\\text\{Bernoulli\}|\\mathrm\{Bern")
_FAMILY_RHS = re.compile(r"^\s*(?:\\prod|\\mathcal\s*\{?\s*N|N\s*\(|\\text\{Bernoulli\}|\\mathrm\{Bern)")


_DENS = r"[pqPQ](?:_\{?\\?[A-Za-z0-9]+\}?)?\s*\([^()]*\)"
_JOINT_LHS = re.compile(r"^\s*[pqPQ](?:_\{?\\?[A-Za-z0-9]+\}?)?\s*\([^()|]*,[^()]*\)\s*$")
_FACTORS_RHS = re.compile(r"^\s*(?:" + _DENS + r"\s*(?:\\cdot|\\,|\*)?\s*){2,}$")


def _looks_factorization(lhs: str, rhs: str) -> bool:
    """p(x, z_1, z_2) = p(x|z_1) p(z_1|z_2) p(z_2): a joint over several variables stated as a
    product of densities only (a declared Bayesian network; the reader checks it is one).  A
    joint of two variables, p(x, z) = p(x|z) p(z), is the chain rule itself and stays a claim."""
    if not (_JOINT_LHS.match(lhs) and _FACTORS_RHS.match(rhs)):
        return False
    inside = lhs[lhs.index("(") + 1: lhs.rindex(")")]
    return len([v for v in re.split(r"[,|]", inside) if v.strip()]) >= 3 or "|" not in rhs


def _looks_declaration(lhs: str, rhs: str) -> bool:
    """p(z) = N(z; 0, I) and z = mu + sigma eps are declarations, not claims."""
    if _DENSITY_HEAD.match(lhs) and _FAMILY_RHS.match(rhs):
        return True
    if _DENSITY_LETTER.match(lhs) and _FAMILY_RHS.match(rhs) and not re.match(r"\s*\\prod", rhs):
        return True  # q = N(mu, sigma^2): the letter names the density written with it (q(z))
    if _DENSITY_HEAD.match(lhs) and re.match(r"\s*\\sum", rhs) and _FAMILY_IN.search(rhs):
        return True  # p(x) = \sum_k \pi_k \mathcal{N}(x | m_k, s_k^2): a mixture of named families
    noise = r"\\(?:var)?epsilon|\\eta(?![A-Za-z])|\\xi(?![A-Za-z])"
    return bool(_BARE_NAME.match(lhs) and not re.search(noise, lhs) and re.search(noise, rhs)
                and re.search(r"[+]|\\odot|\\cdot", rhs))


def _explicit_formula(rhs, density) -> bool:
    """A density written out as a formula in its own variables, with no density, integral or
    expectation in it (those are relations between densities, not what the density is)."""
    if rhs.atoms(Density) or rhs.has(sp.Integral, Expectation, KL, sp.Derivative):
        return False
    names = {getattr(s, "name", "") for s in rhs.free_symbols} | {
        ix.base.label.name for ix in rhs.atoms(sp.Indexed)}
    return any(getattr(v, "name", None) in names for v in density.vars)


def _is_family(x) -> bool:
    if isinstance(x, PointlessNormal):
        return True
    if isinstance(x, (Normal, Bernoulli)):
        return True
    return isinstance(x, sp.Product) and is_density(x)


def _at(family, density: Density, env: LatexEnv):
    """A family term for ``density``: a pointless N(mean, var) is put at its variable."""
    ctx = env.context
    var = density.vars[0]
    if isinstance(family, Normal) and family.x == var:
        # N(z; mu, sigma^2 I) with vector mu: the diagonal Gaussian over z's coordinates
        family = PointlessNormal(family.mean, family.var)
    if not isinstance(family, PointlessNormal):
        return family
    name = getattr(var, "name", None)
    if name is not None:
        dims = [ctx.vectors[s.name][1] for s in (family.mean.free_symbols | family.var.free_symbols)
                if isinstance(s, sp.Symbol) and s.name in ctx.vectors]
        if dims and (name not in ctx.vectors or ctx.vectors[name][1] != dims[0]):
            ctx.vector(name, dims[0])
    return unit_identity(family, var, ctx).at(var, ctx)


def _plain(x, ctx):
    if isinstance(x, sp.Indexed):
        return ctx.symbol(x.base.label.name)
    return x


def _random_symbols(expr, env: LatexEnv):
    out = []
    for s in expr.free_symbols:
        if s in env.context.randoms or getattr(s, "name", "").startswith("eps"):
            out.append(s)
    return out


def _density_var_names(env: LatexEnv) -> set:
    names = set()
    for lst in env.seen.values():
        for d in lst:
            for v in d.vars:
                names |= {getattr(s, "name", "") for s in v.free_symbols}
    for d in env.context.families:
        for v in getattr(d, "vars", ()):
            names |= {getattr(s, "name", "") for s in v.free_symbols}
    names.add("z")
    return names


def _has_sample_sum(expr, sample_idx) -> bool:
    """Whether a term holds a sum over the index of declared samples outside every expectation over
    the draws (E_{z_{1:K} \\sim q}[\\sum_k ...] is no Monte Carlo average: its draws are bound)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, SampleExpectation):
            continue
        if isinstance(node, sp.Sum) and any(lim[0] in sample_idx for lim in node.limits):
            return True
        if isinstance(node, sp.Basic):
            stack.extend(node.args)
    return False


def _is_name(expr, env: LatexEnv) -> bool:
    """A head that names a quantity: a symbol that is no model variable or index."""
    if not isinstance(expr, sp.Symbol):
        return False
    ctx = env.context
    if expr in ctx.randoms or expr in ctx.lets or expr.name in ctx.indices or expr.name in ctx.vectors:
        return False
    if expr.name in _density_var_names(env) or expr.name in env.parameters:
        return False
    return True


def _define_indexed(name, value, ctx: Context, definitions: dict) -> bool:
    """r_k = value: r defined at every index of the text (r_j in a sum over j is the same r), except
    an index that the value itself sums over (r_j would capture the j of that sum)."""
    k = name.indices[0]
    if value.has(name.base) or name in definitions:
        return False
    for _, (ix, _, _) in sorted(ctx.indices.items()):
        if any(lim[0] == ix and k in op.function.free_symbols
               for op in value.atoms(sp.Sum, sp.Product) for lim in op.limits):
            continue
        definitions.setdefault(name.base[ix], value.xreplace({k: ix}))
    return True


def _is_indexed_name(expr, env: LatexEnv) -> bool:
    """A head r_k (one index) that names a family of quantities, not a coordinate of a model
    variable, a parameter, a random variable or a reparameterized variable."""
    if not isinstance(expr, sp.Indexed) or len(expr.indices) != 1 \
            or getattr(expr.indices[0], "name", None) not in env.context.indices:
        return False
    name, ctx = expr.base.label.name, env.context
    return (name not in _density_var_names(env) and name not in env.parameters
            and not any(getattr(s, "name", None) == name for s in list(ctx.randoms) + list(ctx.lets)))


def _parameter_names(env: LatexEnv, chains: list) -> set:
    """Names of model parameters: in declared families and lets, or inside a normal density."""
    ctx = env.context
    names = set()
    for v in list(ctx.families.values()) + list(ctx.randoms.values()) + list(ctx.lets.values()):
        names |= {getattr(s, "name", "") for s in sp.sympify(v).free_symbols}
        names |= {ix.base.label.name for ix in sp.sympify(v).atoms(sp.Indexed)}
    for ch in chains:
        for m in ch.lines:
            if m.expr is None:
                continue
            for fam in m.expr.atoms(Normal, Bernoulli):
                for a in fam.args[1:]:
                    names |= {getattr(s, "name", "") for s in a.free_symbols}
    return names


_CALL_HEAD = re.compile(r"(?<![A-Za-z\\])[A-Za-z](?:_\{[^{}]*\}|_\\?[A-Za-z]+)?\s*\(")


def _density_calls(latex: str, limit: int = 20) -> list[str]:
    """The letter calls written in a line (q(z), p_\\theta(x|z)), each with its balanced parentheses."""
    out = []
    for m in _CALL_HEAD.finditer(latex):
        depth, end = 0, None
        for i in range(m.end() - 1, min(len(latex), m.end() + 300)):
            if latex[i] == "(":
                depth += 1
            elif latex[i] == ")":
                depth -= 1
                if depth == 0:
                    end = i + 1
                    break
        if end is not None:
            out.append(latex[m.start():end])
        if len(out) >= limit:
            break
    return out


_SUBSCRIPTED_DENSITY = re.compile(r"^\s*([pqPQr])\s*_\s*(\{\s*\\?[A-Za-z]+\s*\}|\\[A-Za-z]+|[A-Za-z])\s*\(")


def _declared_parameters(env: LatexEnv, decls: list) -> None:
    """'$q_\\mu(z) = \\mathcal{N}(z; \\mu, \\sigma^2)$': a density letter whose subscript is a parameter of
    the family it is declared to be is that density with that parameter (q_mu is q, depending on mu through
    its family), not a function named q_mu."""
    for d in decls:
        if d.kind not in ("eq", "sim") or not _FAMILY_RHS.match(d.rhs):
            continue
        m = _SUBSCRIPTED_DENSITY.match(d.lhs)
        if not m:
            continue
        sub = m.group(2).strip("{} ")
        name = _base_name(sub)
        if name in ("eps",) or not re.search(r"(?<![A-Za-z])" + re.escape(sub) + r"(?![A-Za-z])", d.rhs):
            continue
        letter = m.group(1)
        sym = env.context.symbol(name) if name not in env.context.indices else None
        if sym is not None and sym not in env.context.parameters.get(letter, ()):
            env.context.parameters[letter] = tuple(env.context.parameters.get(letter, ())) + (sym,)
            env.density_params.setdefault(letter, set()).add(name)


def _seed(env: LatexEnv, found: LatexEnv, chains: list) -> None:
    """Start the real pass knowing the indices, vectors and densities the first one met."""
    ctx, old = env.context, found.context
    for name in sorted(found.bounds):
        if name not in old.indices and name not in old.vectors:
            ctx.declare(name, "positive integer")
    def renew(e):
        # a bound met as a real symbol in the first pass is the positive integer now
        e = sp.sympify(e)
        return e.xreplace({s: ctx.symbols[s.name] for s in e.free_symbols if s.name in ctx.symbols})

    for name, (sym, lo, hi) in old.indices.items():
        ctx.indices[name] = (sym, renew(lo), renew(hi))
    dims = _vector_dims(chains, {old.indices[n][0] for n in found.sample_indices if n in old.indices})
    for name in old.vectors:
        if name in old.samples:
            continue
        if name in old.kinds:
            ctx.kinds.setdefault(name, old.kinds[name])
        ctx.vector(name, renew(dims.get(name, old.vectors[name][1])))
    env.seen = {k: list(v) for k, v in found.seen.items()}
    env.sample_indices |= found.sample_indices
    # the parameters densities carry anywhere in the text (q_theta(z), p(x; theta)), known from the start,
    # so that a derivative read before the line that shows the parameter means the same
    for name, params in old.parameters.items():
        for t in params:
            sym = ctx.symbols.get(t.name) or ctx.symbol(t.name)
            if sym not in ctx.parameters.get(name, ()):
                ctx.parameters[name] = tuple(ctx.parameters.get(name, ())) + (sym,)
    for name, params in found.density_params.items():
        env.density_params.setdefault(name, set()).update(params)


def _vector_dims(chains: list, skip: set) -> dict:
    """vector name -> the upper limit of the first sum over its components."""
    dims: dict = {}
    for ch in chains:
        for ml in ch.lines:
            if ml.expr is None:
                continue
            for node in sp.preorder_traversal(ml.expr):
                if isinstance(node, (sp.Sum, sp.Product)):
                    for idx, lo, hi in node.limits:
                        if idx in skip:
                            continue
                        for ind in node.function.atoms(sp.Indexed):
                            if idx in ind.indices:
                                dims.setdefault(ind.base.label.name, hi)
    return dims


def _cal_conflicts(segments) -> set:
    """Letters written both as \\mathcal{X} and as a plain X in the math."""
    text = " ".join(s.content for s in segments)
    cal = set(re.findall(r"\\mathcal\s*\{?\s*([A-Z])", text)) - {"N", "O"}
    if not cal:
        return set()
    plain = re.sub(r"\\mathcal\s*\{?\s*[A-Z]\s*\}?", " ", text)
    plain = re.sub(r"\\[A-Za-z]+|D_\{[^{}]*\}|KL|Var|diag|log|exp|ln", " ", plain)
    return {c for c in cal if re.search(r"(?<![A-Za-z])%s(?![A-Za-z])" % c, plain)}


def _factor_substitutions(a, b):
    """(density, product) when line a has g(x|z) and line b, under a sum or product over j, the same
    letter at the components, g(x_j|z): the step assumes g factorizes over the components."""
    out = []
    wholes = [d for d in a.atoms(Density) if len(d.vars) == 1 and isinstance(d.vars[0], sp.Symbol)]
    if not wholes:
        return out
    for node in sp.preorder_traversal(b):
        if not isinstance(node, (sp.Sum, sp.Product)) or len(node.limits) != 1:
            continue
        j, lo, hi = node.limits[0]
        for f in node.function.atoms(Density):
            v = f.vars[0] if len(f.vars) == 1 else None
            if not (isinstance(v, sp.Indexed) and v.indices == (j,)):
                continue
            for d in wholes:
                if d.name == f.name and d.given == f.given and v.base.label.name == d.vars[0].name \
                        and not b.has(d) and all(d != x for x, _ in out):
                    out.append((d, sp.Product(f, (j, lo, hi))))
    return out
