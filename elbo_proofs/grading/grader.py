"""Grading one submission: every relation the student writes is a claim.

Chains (``a = b = c <= d``) are checked step by step against the predecessor.
The first step that fails is the error; the grader then remembers the last
line known to be correct (the *anchor*) and, for each later line, asks

1. does it follow from the anchor (with the relations composed along the way)?
   Then the student is *back on track*: valid, not a new error;
2. otherwise, does it follow from its own predecessor?  Then it is valid
   reasoning that carries the earlier error along (valid, and said so);
3. otherwise it is invalid, a second error.

A standalone relation (a chain of kind "claim", "so L <= log p(x)") must hold
for every model.  Lines the reader could not parse are ``unparsed``; steps the
checker cannot decide (out of scope, timeout) are ``unverified``; neither is
ever ``invalid``.

Named quantities defined elsewhere in the text (``Submission.definitions``,
e.g. \\mathcal{L} from a chain head ``\\mathcal{L} = E[...]``) are substituted
before checking.  A step that fails while it mentions a name nobody defined
(an opaque symbol on one side only) is unverified, not wrong: the failure may
be the missing definition's, not the student's.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import sympy as sp

from ..checking import Status, StepVerdict
from ..terms import draws_as_variables, relations
from .cache import StepCache, checker_fingerprint, step_context, step_key
from .diagnose import diagnose
from .goals import rename, unify
from .results import (GRADED, IGNORED, INVALID, UNPARSED, UNREADABLE, UNVERIFIED, VALID, GoalResult, StepResult,
                      SubmissionResult, failed)
from .scoring import score_submission
from ..terms.printing import Math, MathText, escape_md, md_of, number, tidy, to_latex, to_plain

NAMED_QUANTITY_HINTS = ("mathcal", "ELBO", "elbo", "VFE", "Loss", "loss", "obj")


@dataclass
class GradeOptions:
    examples: int = 50
    time_limit: float = 5.0
    numeric: bool = True
    hints: bool = True
    hint_examples: int = 20
    # seconds of checking per submission (reading included); past it, steps not yet
    # in the cache are reported unverified instead of checked, so a long submission is
    # graded in part rather than killed by the batch's hard timeout.  None: no budget.
    budget: float | None = None


def soft_budget(timeout: float, time_limit: float) -> float:
    """The checking budget that leaves room, before the hard per-submission timeout,
    for the slowest single check (symbolic time_limit plus twice that numerically)."""
    return max(0.5 * timeout, 0.9 * timeout - 3 * time_limit)


def compose(rels: list[str]) -> str | None:
    """The relation between the ends of a chain a r1 b r2 c ...; None when it has none."""
    return relations.chain(rels)


def _holds(v: StepVerdict) -> bool:
    return v.status in (Status.PROVED, Status.SUPPORTED)


@lru_cache(maxsize=8192)
def _text_cached(e) -> str:
    return to_plain(e)


def _text(e) -> str:
    """A term as readable plain math, memoized (printing terms is slow, and students share them)."""
    try:
        return _text_cached(e)
    except TypeError:
        return to_plain(e)
    except Exception:
        return "(a term that could not be printed)"


def _num(x):
    """A value rounded for a reader: 4 significant digits, floating-point noise next to 0 as 0."""
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if f != f or abs(f) == float("inf"):
        return number(f)
    return float(number(f).replace("*10^", "e"))


def _assume(submission) -> list:
    """The assumptions the text states ('assume $\\beta \\geq 1$'), added to the submission's Context
    so that the checker decides signs under them; the notes for those it cannot use."""
    from ..terms import AssumptionError

    ctx = getattr(submission, "context", None)
    if ctx is None or not hasattr(ctx, "assume"):
        return []
    refused = []
    for a in getattr(submission, "assumptions", None) or []:
        if any(b.lhs == a.lhs and b.relation == a.relation and b.rhs == a.rhs for b in ctx.assumptions):
            continue   # graded before
        if a.relation == "=":
            refused.append(MathText.of(
                f"line {a.line}: the condition {a.latex} is taken as given; steps that need it are left unverified "
                "rather than called wrong, since equations between parameters are not used in checking",
                f"line {a.line}: the condition ${a.latex}$ is taken as given; steps that need it are left unverified "
                "rather than called wrong, since equations between parameters are not used in checking"))
            continue
        try:
            ctx.assume(a.lhs, a.relation, a.rhs, text=a.latex, line=a.line)
        except AssumptionError as exc:
            refused.append(MathText.of(f"line {a.line}: the assumption {a.latex} is not used: {exc}",
                                    f"line {a.line}: the assumption ${a.latex}$ is not used: {escape_md(str(exc))}"))
    return refused


def _note(n) -> str:
    return str(n) if isinstance(n, MathText) else tidy(str(n))


def _note_md(n) -> str:
    return n.md if isinstance(n, MathText) else escape_md(tidy(str(n)))


def _name(k) -> tuple[str, str]:
    """(plain, Markdown) of a counterexample's key: a term, a name, or a description such as "q(z) mean"."""
    if isinstance(k, str):
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", k):
            return to_plain(sp.Symbol(k)), f"${to_latex(sp.Symbol(k))}$"
        return tidy(k), escape_md(tidy(k))
    return to_plain(k), f"${to_latex(k)}$"


def _counterexample(v: StepVerdict, lhs_line=None, rhs_line=None) -> dict | None:
    """The model on which a step fails, rounded for a reader, its two sides named by their lines."""
    cx = v.counterexample
    if cx is None:
        return None
    values, values_md = {}, {}
    for k, val in (cx.values or {}).items():
        plain, latex = _name(k)
        values[plain] = _num(val)
        values_md[latex] = _num(val)
    return {"values": values, "values_md": values_md, "lhs": _num(cx.lhs), "rhs": _num(cx.rhs),
            "lhs_line": lhs_line, "rhs_line": rhs_line, "model": str(cx.model or "")}


class Grader:
    """Grades submissions with one checker, one cache, one set of options."""

    def __init__(self, options: GradeOptions | None = None, cache: StepCache | None = None,
                 assignment=None, checker=None, reader=None):
        self.options = options or GradeOptions()
        self.cache = cache if cache is not None else StepCache()
        self.assignment = assignment
        self._checker = checker
        self._reader = reader
        self._started: float | None = None
        self.budget_ran_out = False

    # -- the two collaborators, imported late so each can be replaced in tests --
    @property
    def checker(self):
        if self._checker is None:
            from ..checking import check_step

            self._checker = check_step
        return self._checker

    @property
    def reader(self):
        if self._reader is None:
            from functools import partial

            from ..checking import AssumptionChecker
            from ..parsing import read_submission

            # the reader finds the steps that reveal assumptions; the checker decides their algebra
            self._reader = partial(read_submission, assumptions=AssumptionChecker())
        return self._reader

    # -- entry points ---------------------------------------------------------
    def grade_path(self, path) -> SubmissionResult:
        from ..errors import InputError

        start = self._started = time.perf_counter()
        max_score = self.assignment.points if self.assignment is not None else 10.0
        try:
            submission = self.reader(path)
        except InputError as exc:
            return failed(str(path), str(exc.message if hasattr(exc, "message") else exc), status=UNREADABLE,
                          max_score=max_score, seconds=time.perf_counter() - start)
        try:
            result = self.grade_submission(submission)
        finally:
            self._started = None
        result.path = str(path)
        result.seconds = time.perf_counter() - start
        return result

    def grade_submission(self, submission) -> SubmissionResult:
        start = time.perf_counter()
        outer = self._started is not None
        if not outer:
            self._started = start
        self.budget_ran_out = False
        hits0, misses0 = self.cache.hits, self.cache.misses
        if not any(getattr(c, "lines", None) for c in (getattr(submission, "chains", None) or [])):
            if not outer:
                self._started = None
            return SubmissionResult(path=str(getattr(submission, "path", "")), status=IGNORED,
                                    reason="no math in this file; it is not graded",
                                    max_score=self.assignment.points if self.assignment is not None else 10.0,
                                    score_explanation="no math in this file; it is not graded",
                                    seconds=time.perf_counter() - start)
        refused = _assume(submission)
        run = _Run(self, submission)
        steps = run.grade_all()
        raw_notes = list(getattr(submission, "notes", None) or []) + refused
        result = SubmissionResult(path=str(getattr(submission, "path", "")), status=GRADED, steps=steps,
                                  notes=[_note(n) for n in raw_notes], notes_md=[_note_md(n) for n in raw_notes],
                                  read_as=[{"line": st.line, "role": st.role, "latex": st.latex, "word": st.word,
                                            "file": ""} for st in getattr(submission, "statements", None) or []])
        errors = [s.line for s in steps if s.verdict == INVALID and s.line is not None]
        result.first_error_line = min(errors) if errors else None
        if self.assignment is not None and self.assignment.goal is not None:
            result.goal = run.check_goal(self.assignment)
        if self.assignment is not None and getattr(self.assignment, "problems", None):
            result.problems = run.attribute_problems(self.assignment.problems)
        score_submission(result, self.assignment)
        result.cache_hits = self.cache.hits - hits0
        result.cache_misses = self.cache.misses - misses0
        result.seconds = time.perf_counter() - start
        if self.budget_ran_out:
            note = (f"the checking budget of {self.options.budget:g} s ran out: "
                    "steps after that point are unverified, not checked")
            result.notes.append(note)
            result.notes_md.append(note)
        if not outer:
            self._started = None
        return result

    def over_budget(self) -> bool:
        b = self.options.budget
        return bool(b) and self._started is not None and time.perf_counter() - self._started > b

    # -- one checker call, through the cache -------------------------------------
    def check(self, lhs, rhs, relation: str, context, *, examples: int | None = None,
              time_limit: float | None = None, memo: dict | None = None) -> tuple[StepVerdict, bool]:
        o = self.options
        examples = o.examples if examples is None else examples
        time_limit = o.time_limit if time_limit is None else time_limit
        key = step_key(lhs, rhs, relation, context, ("v1", checker_fingerprint(), examples, time_limit, o.numeric),
                       memo)
        hit = self.cache.get(key)
        if hit is not None:
            return hit, True
        if self.over_budget():
            self.budget_ran_out = True
            return StepVerdict(Status.NOT_CHECKABLE, relation, method="none",
                               message=f"not checked: the submission's checking budget ({o.budget:g} s) ran out"), False
        try:
            v = self.checker(lhs, rhs, relation, step_context(lhs, rhs, context), examples=examples,
                             time_limit=time_limit, numeric=o.numeric)
        except RecursionError:
            v = StepVerdict(Status.NOT_CHECKABLE, relation, method="none", message="expression too deeply nested")
        except MemoryError:
            v = StepVerdict(Status.NOT_CHECKABLE, relation, method="none", message="ran out of memory")
        except Exception as exc:  # a checker failure is never the student's fault
            v = StepVerdict(Status.NOT_CHECKABLE, relation, method="none",
                            message=f"the checker could not handle this step ({type(exc).__name__}: {exc})")
        if not isinstance(v, StepVerdict):
            v = StepVerdict(Status.NOT_CHECKABLE, relation, method="none", message="no verdict")
        self.cache.put(key, v)
        return v, False


@dataclass
class _Line:
    line: int | None
    latex: str
    expr: object
    error: str | None
    relation: str | None


@dataclass
class _Run:
    grader: Grader
    submission: object
    results: list[StepResult] = field(default_factory=list)

    def __post_init__(self):
        self.key_memo: dict = {}
        self.context = getattr(self.submission, "context", None)
        self.definitions = self._definitions(getattr(self.submission, "definitions", None) or {})

    # -- definitions ----------------------------------------------------------
    def _definitions(self, raw: dict) -> dict:
        """{term to replace: its definition}, keys resolved to the symbols the text uses."""
        out = {}
        for key, value in raw.items():
            if value is None:
                continue
            if isinstance(key, str):
                key_term = None
                if self.context is not None and key in getattr(self.context, "symbols", {}):
                    key_term = self.context.symbols[key]
                else:
                    key_term = sp.Symbol(key, real=True)
            else:
                key_term = key
            if not isinstance(value, sp.Basic) or key_term in getattr(value, "free_symbols", ()):  # recursive
                continue
            out[key_term] = value
        return out

    def _defined_names(self) -> set[str]:
        out = set()
        for k in self.definitions:
            out.add(getattr(k, "name", None) or getattr(getattr(k, "func", None), "__name__", None) or str(k))
        return out

    def substitute(self, e):
        if not self.definitions or e is None:
            return e
        try:
            for _ in range(3):  # definitions may mention each other
                new = e.xreplace(self.definitions)
                if new == e:
                    break
                e = new
            return draws_as_variables(e)
        except Exception:
            return e

    def _is_definition(self, lhs, rhs):
        """The defined name (a term) when the step lhs = rhs is one of the text's definitions."""
        for key, value in self.definitions.items():
            if (lhs == key and rhs == value) or (rhs == key and lhs == value):
                return key
        return None

    # -- opaque names -----------------------------------------------------------
    def _opaque(self, lhs, rhs, relation: str = "=") -> list[str]:
        """Names on one side only that nobody defined and that are not model variables."""
        from ..terms import Density, Normal

        def names(e):
            out = {}
            if e is None:
                return out
            stack = [e]
            while stack:
                node = stack.pop()
                if isinstance(node, Density):
                    stack.extend(node.args[1:])   # its variables, not its letter
                    continue
                if isinstance(node, sp.core.function.AppliedUndef):
                    out[node.func.__name__] = node
                elif isinstance(node, sp.Symbol):
                    out[node.name] = node
                stack.extend(getattr(node, "args", ()))
            return out

        def density_vars(e):
            out = set()
            from ..terms import Density, Normal

            for d in e.atoms(Density, Normal) if e is not None else ():
                for a in d.args[1:]:
                    out |= {getattr(s, "name", "") for s in getattr(a, "free_symbols", ())}
                if isinstance(d, Normal):
                    out |= {getattr(s, "name", "") for s in d.args[0].free_symbols}
            return out

        left, right = names(lhs), names(rhs)
        model_vars = density_vars(lhs) | density_vars(rhs)
        ctx = self.context
        declared = set()
        if ctx is not None:
            declared |= {getattr(k, "name", str(k)) for k in (getattr(ctx, "randoms", {}) or {})}
            declared |= {getattr(k, "name", str(k)) for k in (getattr(ctx, "lets", {}) or {})}
            declared |= set((getattr(ctx, "indices", {}) or {}).keys())
        defined = self._defined_names()
        undefined = []
        for name in sorted(set(left) ^ set(right)):
            node = left.get(name, right.get(name))
            if name in defined or name in model_vars or name in declared:
                continue
            if isinstance(node, sp.core.function.AppliedUndef):
                undefined.append(name)
            elif isinstance(node, sp.Symbol) and self._looks_named(name) and not self._is_count(name):
                undefined.append(name)
        points = {getattr(s, "name", "") for e in (lhs, rhs) if e is not None for d in e.atoms(Density, Normal)
                  for s in (d.args[0].free_symbols if isinstance(d, Normal) else
                            {s for v in d.args[1:] for s in getattr(v, "free_symbols", ())})}
        undefined += self._renamed_parameters(lhs, rhs, left, right, set(undefined) | defined | declared | points)
        out = []
        if undefined:
            parts = ["depends on "]
            for i, name in enumerate(undefined):
                parts += ([", "] if i else []) + [Math(name)]
            out.append(MathText(*parts, ", which the submission does not define"))
        out += self._unused_constraints(lhs, rhs)
        out += self._unrelated_factors(lhs, rhs)
        if relation == "~=":
            out += self._undeclared_samples(lhs, rhs)
        return out

    def _renamed_parameters(self, lhs, rhs, left: dict, right: dict, known: set) -> list[str]:
        """Names on one side only that may be the author's own names for parameters of a declared family
        on the other side (mu_d for the components of a declared decoder mean mu_theta(z)).

        A density whose family was declared, say N(x; mu_theta(z), sigma^2), stands on one side; the
        other side names a parameter the family does not have (mu_d), and a parameter of the family
        (mu_theta) appears nowhere on that side.  Reading the new name as the family's parameter is
        then as plausible as reading it as a new, free quantity, so a counterexample that sets it
        freely says nothing about the step.
        """
        from ..terms import Density

        families = getattr(self.context, "families", None) or {}
        if not families:
            return []

        def mentioned(fam) -> set:
            """The names a family term mentions: symbols, functions and indexed bases."""
            return ({getattr(s, "name", "") for s in fam.free_symbols}
                    | {f.func.__name__ for f in fam.atoms(sp.core.function.AppliedUndef)}
                    | {str(ix.base.label) for ix in fam.atoms(sp.Indexed)})

        def family_parameters(e):
            out = set()
            for d in (e.atoms(Density) if e is not None else ()):
                fam = families.get(d)
                if fam is None:
                    continue
                own = {getattr(s, "name", "") for v in d.args[1:] for s in getattr(v, "free_symbols", ())}
                out |= mentioned(fam) - own - set((getattr(self.context, "indices", {}) or {}).keys())
            return out

        every_family = set().union(*(mentioned(fam) for fam in families.values()))
        out = []
        for mine, other, other_expr in ((left, right, rhs), (right, left, lhs)):
            missing = {p for p in family_parameters(other_expr) if p not in mine}
            if not missing:
                continue
            for name, node in sorted(mine.items()):
                if (name in other or name in known or name in every_family or self._is_count(name)
                        or not isinstance(node, (sp.Symbol, sp.core.function.AppliedUndef))):
                    continue
                out.append(name)
        return sorted(set(out))

    def _unused_constraints(self, lhs, rhs) -> list:
        """The text's equations between parameters ('with $\\sum_k q_k = 1$') that name something in the
        step: the checker does not use them, so a refutation on models that break them says nothing."""
        def names(e):
            if e is None:
                return set()
            e = sp.sympify(e)
            # parameters, not counts: K in sum_{k=1}^K q_k = 1 is not what the condition is about
            return {s.name for s in e.free_symbols if isinstance(s, sp.Symbol) and not s.is_integer} | {
                ix.base.label.name for ix in e.atoms(sp.Indexed)}
        step = names(lhs) | names(rhs)
        out = []
        for a in getattr(self.submission, "assumptions", None) or []:
            if getattr(a, "relation", None) != "=":
                continue
            bound = {getattr(i, "name", "") for ix in sp.sympify(a.lhs - a.rhs).atoms(sp.Indexed) for i in ix.indices}
            if ((names(a.lhs) | names(a.rhs)) - bound) & step:
                out.append(MathText.of(f"the step may rest on the condition {a.latex} (line {a.line}), which is "
                                       "not used in checking",
                                       f"the step may rest on the condition ${a.latex}$ (line {a.line}), which is "
                                       "not used in checking"))
        return out

    def _is_count(self, name: str) -> bool:
        kind = (getattr(self.context, "kinds", None) or {}).get(name, "")
        return "integer" in kind

    def _undeclared_samples(self, lhs, rhs) -> list[str]:
        """An estimate over samples z_l that the text never says are drawn from anything."""
        samples = getattr(self.context, "samples", None) or {}
        bases = set()
        for e in (lhs, rhs):
            for node in (e.atoms(sp.Indexed) if e is not None else ()):
                name = str(node.base.label)
                if name not in samples:
                    bases.add(name)
        if not bases:
            return []
        parts = ["the samples of "]
        for i, name in enumerate(sorted(bases)):
            parts += ([", "] if i else []) + [Math(name)]
        return [MathText(*parts, " are not declared as draws from a distribution (write e.g. ",
                         MathText.of("z^(l) ~ q(z|x)", "$z^{(l)} \\sim q(z \\mid x)$"), ")")]

    @staticmethod
    def _unrelated_factors(lhs, rhs) -> list[str]:
        """A density on one side only, next to its own factors (q(z) and q_i(z_i)) on the other.

        The step then rests on a factorization (q(z) = prod q_i(z_i)) the text
        assumes but does not state; without it the checker treats q and q_i as
        unrelated, so a failure says nothing about the student's step.
        """
        from ..terms import Density

        def dens(e):
            return {d.name: d for d in (e.atoms(Density) if e is not None else ())}

        left, right = dens(lhs), dens(rhs)
        out = []
        for one, other in ((left, right), (right, left)):
            for name, d in sorted(one.items()):
                if name in other:
                    continue
                parts = [o for n, o in sorted(other.items()) if n.startswith(name + "_") or name.startswith(n + "_")]
                if parts:
                    out.append(MathText(d, " appears on one side only, next to ", parts[0], " on the other; the "
                                        "submission does not state how they relate (a factorization such as ",
                                        MathText.of("q(z) = prod_i q_i(z_i)", "$q(z) = \\prod_i q_i(z_i)$"), ")"))
        return out

    @staticmethod
    def _looks_named(name: str) -> bool:
        """A named quantity (L, F, ELBO, mathcal_L), not a model variable (mu, x, z_j)."""
        base = name.split("_")[0]
        if any(h in name for h in NAMED_QUANTITY_HINTS):
            return True
        return len(base) == 1 and base.isupper()

    # -- checking with substitution and opaque handling ------------------------------
    def check(self, lhs, rhs, relation: str, **kw) -> tuple[StepVerdict, bool, list[str]]:
        sl, sr = self.substitute(lhs), self.substitute(rhs)
        v, cached = self.grader.check(sl, sr, relation, self.context, memo=self.key_memo, **kw)
        opaque = []
        if v.status is Status.REFUTED:
            v, cached, opaque = self._other_readings(lhs, rhs, relation, v, cached, **kw)
        if v.status is Status.REFUTED and not opaque:
            opaque = self._opaque(sl, sr, relation)
        return v, cached, opaque

    def _other_readings(self, lhs, rhs, relation, v, cached, **kw):
        """Where the text admits several readings (Submission.readings: a line's term -> other
        plausible terms, with what each reading takes), a step is refuted only when every
        combination is; the first reading that holds is the verdict, else one that is undecided."""
        readings = getattr(self.submission, "readings", None) or {}
        ls = [(lhs, "")] + list(readings.get(lhs, ()))
        rs = [(rhs, "")] + list(readings.get(rhs, ()))
        if len(ls) == 1 and len(rs) == 1:
            return v, cached, []
        undecided = None
        for la, lw in ls[:6]:
            for ra, rw in rs[:6]:
                if not lw and not rw:
                    continue
                sl, sr = self.substitute(la), self.substitute(ra)
                v2, c2 = self.grader.check(sl, sr, relation, self.context, memo=self.key_memo, **kw)
                why = "; ".join(w for w in (lw, rw) if w)
                if _holds(v2):
                    return replace(v2, message=(v2.message + "; " if v2.message else "") + f"read with {why}"), c2, []
                if undecided is None:
                    opaque = self._opaque(sl, sr, relation) if v2.status is Status.REFUTED else []
                    if v2.status is not Status.REFUTED or opaque:
                        undecided = (replace(v2, message=(v2.message + "; " if v2.message else "")
                                             + f"not decided when read with {why}"), c2,
                                     [o + f" (read with {why})" for o in opaque])
        return undecided or (v, cached, [])

    def canon(self, e):
        """The checker's canonical form of a term (for hints), within a small time budget."""
        from ..checking import canonical_form

        if self.grader.over_budget():
            raise TimeoutError("checking budget ran out")
        return canonical_form(e, step_context(e, None, self.context), seconds=min(self.grader.options.time_limit, 2.0))

    def holds(self, lhs, relation, rhs) -> bool:
        """For hints: does the repaired step hold?  Small budget."""
        o = self.grader.options
        v, _, _ = self.check(lhs, rhs, relation, examples=min(o.examples, o.hint_examples),
                             time_limit=min(o.time_limit, 2.0))
        return _holds(v)

    # -- grading ----------------------------------------------------------------
    def grade_all(self) -> list[StepResult]:
        for n, chain in enumerate(getattr(self.submission, "chains", None) or []):
            lines = [_Line(getattr(m, "line", None), str(getattr(m, "latex", "") or ""), getattr(m, "expr", None),
                           getattr(m, "error", None), getattr(m, "relation", None))
                     for m in (getattr(chain, "lines", None) or [])]
            if not lines:
                continue
            if getattr(chain, "kind", "chain") == "claim" and len(lines) == 2:
                self._claim(n, lines)
            else:
                self._chain(n, lines)
        return self.results

    def _step(self, n, line: _Line, verdict: str, message, **kw) -> StepResult:
        kw.setdefault("hint_md", md_of(kw["hint"]) if kw.get("hint") else "")
        if kw.get("hint"):
            kw["hint"] = str(kw["hint"])
        r = StepResult(line=line.line, latex=line.latex, relation=line.relation, verdict=verdict,
                       message=str(message), message_md=md_of(message), chain=n, **kw)
        self.results.append(r)
        return r

    def _verdict_fields(self, v: StepVerdict, cached: bool, lhs, rhs) -> dict:
        return dict(method=v.method, status=v.status.value, seconds=round(v.seconds, 4), cached=cached,
                    lhs=_text(lhs), rhs=_text(rhs))

    def _ok_message(self, v: StepVerdict) -> str:
        reading = v.message.rpartition("read with ")[2] if "read with " in (v.message or "") else ""
        reading = f"; read with {reading}" if reading else ""
        if v.status is Status.SUPPORTED:
            return f"numerically supported ({v.examples} model{'' if v.examples == 1 else 's'})" + reading
        return "proved" + (f" ({', '.join(v.rewrites[:4])})" if v.rewrites else "") + reading

    def _unverified_message(self, v: StepVerdict, opaque: list) -> MathText:
        if opaque:
            parts = ["not checkable: "]
            for i, o in enumerate(opaque):
                parts += (["; "] if i else []) + [o]
            return MathText(*parts)
        return MathText(f"not checkable: {tidy(v.message)}" if v.message else "not checkable")

    def _wrong(self, n, line: _Line, lhs, rhs, relation, v, cached, *, against, message, new_error=True):
        hint = ""
        if self.grader.options.hints:
            from ..limits import phase

            sl, sr = self.substitute(lhs), self.substitute(rhs)
            try:  # the whole search within one limit: a hint never costs more than a step
                with phase(lambda: ("hint", sl, relation, sr), max(2.0, 2 * self.grader.options.time_limit)):
                    hint = diagnose(sl, sr, relation, self.holds, self.canon)
            except Exception:
                hint = ""
        text = MathText(message, "; ", hint) if hint else message
        return self._step(n, line, INVALID, text, against=against,
                          counterexample=_counterexample(v, against if against is not None else line.line, line.line),
                          hint=hint, new_error=new_error, **self._verdict_fields(v, cached, lhs, rhs))

    def _claim(self, n, lines: list[_Line]):
        lhs_line, rhs_line = lines
        rel = rhs_line.relation or "="
        latex_rel = {"<=": r"\le", ">=": r"\ge", "~=": r"\approx"}.get(rel, rel)
        shown = _Line(rhs_line.line,
                      f"{lhs_line.latex} {latex_rel} {rhs_line.latex}" if lhs_line.latex else rhs_line.latex,
                      rhs_line.expr, rhs_line.error, rel)
        if lhs_line.expr is None or rhs_line.expr is None:
            err = lhs_line.error or rhs_line.error or "could not be read"
            self._step(n, shown, UNPARSED, f"could not be read: {err}", kind="claim")
            return
        defined = self._is_definition(lhs_line.expr, rhs_line.expr)
        if defined is not None and rel == "=":
            self._step(n, shown, VALID, MathText("definition of ", defined), kind="claim", lhs=_text(lhs_line.expr),
                       rhs=_text(rhs_line.expr))
            return
        v, cached, opaque = self.check(lhs_line.expr, rhs_line.expr, rel)
        fields = self._verdict_fields(v, cached, lhs_line.expr, rhs_line.expr)
        if _holds(v):
            self._step(n, shown, VALID, self._ok_message(v), kind="claim", **fields)
        elif v.status is Status.REFUTED and not opaque:
            r = self._wrong(n, shown, lhs_line.expr, rhs_line.expr, rel, v, cached, against=None,
                            message="this claim does not hold for every model")
            r.kind = "claim"
        else:
            self._step(n, shown, UNVERIFIED, self._unverified_message(v, opaque), kind="claim", **fields)

    def _chain(self, n, lines: list[_Line]):
        prev = None        # index of the last readable line
        anchor = None      # index of the last line known to be on track
        verified = None    # index of the last line reached by a valid step (or the head)
        off_track = False
        error_line = None
        skipped = []       # unreadable lines since prev
        for i, ln in enumerate(lines):
            if i > 0 and not ln.relation:
                ln.relation = "="
            if ln.expr is None:
                self._step(n, ln, UNPARSED, f"could not be read: {ln.error or 'no expression'}",
                           kind="step" if i else "line")
                skipped.append(ln.line)
                continue
            if prev is None:
                if i > 0:
                    self._step(n, ln, UNVERIFIED, "not checkable: the line before could not be read")
                prev = anchor = verified = i
                skipped = []
                continue
            rels = [lines[k].relation or "=" for k in range(prev + 1, i + 1)]
            rel_prev = compose(rels)
            p = lines[prev]
            if rel_prev is None:
                self._step(n, ln, UNVERIFIED, "not checkable: the relations between the lines point both ways",
                           against=p.line)
                prev = i
                if not off_track:
                    anchor = i
                skipped = []
                continue
            defined = self._is_definition(p.expr, ln.expr)
            if defined is not None and rel_prev == "=" and not off_track:
                self._step(n, ln, VALID, MathText("definition of ", defined), against=p.line, lhs=_text(p.expr),
                           rhs=_text(ln.expr))
                prev = anchor = verified = i
                skipped = []
                continue
            gap = (f" (line{'s' if len(skipped) > 1 else ''} {', '.join(map(str, skipped))} in between could not be read)"
                   if skipped else "")
            if not off_track:
                v, cached, opaque = self.check(p.expr, ln.expr, rel_prev)
                fields = self._verdict_fields(v, cached, p.expr, ln.expr)
                if _holds(v):
                    self._step(n, ln, VALID, self._ok_message(v), against=p.line, **fields)
                    anchor = verified = i
                elif (v.status is Status.REFUTED and not opaque and not skipped and verified is not None
                      and verified != prev and self._follows_from(lines, verified, i)):
                    # the line before could not be checked and may be the wrong one: this line
                    # follows from the last checked line, so it is not blamed
                    w = lines[verified]
                    self._step(n, ln, UNVERIFIED,
                               f"not checkable: does not follow from line {p.line}, which could not be checked, "
                               f"but follows from line {w.line}; if there is an error, it is at line {p.line}",
                               against=p.line, counterexample=_counterexample(v, p.line, ln.line), **fields)
                    anchor = verified = i
                elif v.status is Status.REFUTED and not opaque and not skipped:
                    self._wrong(n, ln, p.expr, ln.expr, rel_prev, v, cached, against=p.line,
                                message=f"does not follow from line {p.line}")
                    off_track = True
                    error_line = ln.line
                elif v.status is Status.REFUTED and not opaque:
                    self._step(n, ln, UNVERIFIED, f"not checkable: does not follow from line {p.line}{gap}",
                               against=p.line, counterexample=_counterexample(v, p.line, ln.line), **fields)
                    anchor = i
                else:
                    self._step(n, ln, UNVERIFIED, self._unverified_message(v, opaque), against=p.line, **fields)
                    anchor = i
            else:
                a = lines[anchor]
                rel_anchor = compose([lines[k].relation or "=" for k in range(anchor + 1, i + 1)])
                va = None
                if rel_anchor is not None:
                    va, ca, _ = self.check(a.expr, ln.expr, rel_anchor)
                    if not _holds(va) and rel_anchor != "=":
                        va, ca, _ = self.check(a.expr, ln.expr, "=")   # the stronger claim
                if va is not None and _holds(va):
                    verified = i
                    self._step(n, ln, VALID,
                               f"back on track: follows from line {a.line}"
                               + (f" ({self._ok_message(va)})" if va.status is Status.SUPPORTED else ""),
                               against=a.line, back_on_track=True, **self._verdict_fields(va, ca, a.expr, ln.expr))
                    off_track = False
                    anchor = i
                else:
                    v, cached, opaque = self.check(p.expr, ln.expr, rel_prev)
                    fields = self._verdict_fields(v, cached, p.expr, ln.expr)
                    if _holds(v):
                        self._step(n, ln, VALID,
                                   f"follows from line {p.line}, but carries the error of line {error_line}",
                                   against=p.line, carries_error=True, **fields)
                    elif v.status is Status.REFUTED and not opaque and not skipped:
                        self._wrong(n, ln, p.expr, ln.expr, rel_prev, v, cached, against=p.line,
                                    message=f"does not follow from line {p.line} (nor from line {a.line}, "
                                            f"the last correct line)")
                    else:
                        msg = (self._unverified_message(v, opaque) if v.status is not Status.REFUTED
                               else f"not checkable: does not follow from line {p.line}{gap}")
                        self._step(n, ln, UNVERIFIED, msg, against=p.line, **fields)
            prev = i
            skipped = []

    def _follows_from(self, lines, k: int, i: int) -> bool:
        rel = compose([lines[j].relation or "=" for j in range(k + 1, i + 1)])
        if rel is None:
            return False
        v, _, _ = self.check(lines[k].expr, lines[i].expr, rel)
        if not _holds(v) and rel != "=":
            # an equality is the stronger claim: it implies <=, >= and "an estimate of"
            v, _, _ = self.check(lines[k].expr, lines[i].expr, "=")
        return _holds(v)

    # -- the assignment's goal -----------------------------------------------------
    def _equivalent(self, a, b) -> bool:
        if a == b:
            return True
        names_a = {getattr(s, "name", str(s)) for s in getattr(a, "free_symbols", set())}
        names_b = {getattr(s, "name", str(s)) for s in getattr(b, "free_symbols", set())}
        if names_a != names_b:
            return False
        v, _, _ = self.check(a, b, "=")
        return _holds(v)

    def _rename(self, e):
        """Goal terms use the assignment's symbols; map them onto the submission's by name."""
        if self.context is None:
            return e
        symbols = getattr(self.context, "symbols", {}) or {}
        repl = {s: symbols[s.name] for s in getattr(e, "free_symbols", ()) if isinstance(s, sp.Symbol)
                and s.name in symbols and symbols[s.name] != s}
        return e.xreplace(repl) if repl else e

    @staticmethod
    def _goal_readings(first, last, head):
        yield first, last
        mapping = unify(first, head)
        if mapping is not None and (mapping.symbols or mapping.densities):
            renamed = rename(first, mapping), rename(last, mapping)
            if renamed != (first, last):
                yield renamed

    def attribute_problems(self, problems) -> list[dict]:
        """Each chain to the first problem whose goal it starts from; whether each goal is reached."""
        out, owner = [], {}
        for prob in problems:
            g = self.check_goal(prob, chains_out=(touched := set()))
            for c in touched:
                owner.setdefault(c, prob.name)
            out.append({"name": prob.name, "goal": prob.goal_text, "goal_reached": g.reached, "goal_line": g.line,
                        "goal_message": g.message})
        for r in self.results:
            r.problem = owner.get(r.chain, "")
        return out

    def check_goal(self, assignment, chains_out: set | None = None) -> GoalResult:
        g_lhs, g_rel, g_rhs = assignment.goal
        g_lhs, g_rhs = self._rename(g_lhs), self._rename(g_rhs)
        text = assignment.goal_text
        latex_rel = {"<=": r"\le", ">=": r"\ge", "=": "=", "~=": r"\approx"}.get(g_rel, g_rel)
        text_md = f"${to_latex(g_lhs)} {latex_rel} {to_latex(g_rhs)}$"
        reached = None
        # a claim or a chain from one side of the goal to the other, with no invalid step between
        by_line: dict[tuple, StepResult] = {}
        for r in self.results:
            by_line[(r.chain, r.line)] = r
        for n, chain in enumerate(getattr(self.submission, "chains", None) or []):
            lines = list(getattr(chain, "lines", None) or [])
            if not lines or lines[0].expr is None:
                continue
            head = self.substitute(lines[0].expr)
            for first0, last0, rel_goal in ((g_lhs, g_rhs, g_rel), (g_rhs, g_lhs, relations.flip(g_rel) or g_rel)):
                # the goal in its own letters, or renamed to the student's (P, X for p, x) by the roles
                # the names play in the chain's first line; the checker still decides equality
                found = None
                for first, last in self._goal_readings(first0, last0, head):
                    if self._equivalent(head, self.substitute(first)):
                        found = (first, last)
                        break
                if found is None:
                    continue
                first, last = found
                if chains_out is not None:
                    chains_out.add(n)
                rels = []
                for k in range(1, len(lines)):
                    m = lines[k]
                    r = by_line.get((n, m.line))
                    rels.append(m.relation or "=")
                    if m.expr is None or r is None or r.verdict != VALID:
                        break
                    c = compose(rels)
                    if c is None:
                        break
                    if relations.implies(c, rel_goal) and self._equivalent(self.substitute(m.expr), self.substitute(last)):
                        reached = reached or GoalResult(text, True, m.line, f"goal reached on line {m.line}", text_md)
                        break
        if reached is not None:
            return reached
        return GoalResult(text, False, None, "the derivation does not reach the goal with valid steps", text_md)


def grade_file(path, options: GradeOptions | None = None, cache: StepCache | None = None, assignment=None,
               **kw) -> SubmissionResult:
    """Grade one file in this process (no isolation): the worker's unit of work."""
    return Grader(options, cache, assignment, **kw).grade_path(Path(path))
