"""Checking one step: symbolic proof first, numeric evidence always.

The symbolic side may prove the step; the numeric side (Hypothesis-generated
concrete models) may find a counterexample.  Their combination is the verdict.
"""
from __future__ import annotations

import time

from ..limits import LimitExceeded, phase
from ..terms import Context
from .symbolic import SymbolicResult, prove
from .verdict import Status, StepVerdict


def check_step(lhs, rhs, relation: str, context: Context, *, examples: int = 50,
               time_limit: float = 5.0, numeric: bool = True, numeric_result=None) -> StepVerdict:
    """Check `lhs relation rhs`; relation is "=", "<=", ">=" or "~=" (an unbiased estimate).

    `time_limit` bounds the symbolic work (and twice that the numeric work), in seconds.
    `numeric_result`: the numeric check already done for this step (by `numeric_chain`).
    """
    limit = time_limit
    start = time.perf_counter()
    sym, sym_error = _symbolic(lhs, rhs, relation, context, limit)
    if not numeric:
        num = None
    elif numeric_result is not None:
        num = numeric_result
    else:
        num = _numeric(lhs, rhs, relation, context, examples, limit)
    verdict = _combine(sym, sym_error, num, relation)
    verdict.seconds = time.perf_counter() - start
    return verdict


def _symbolic(lhs, rhs, relation, context, limit):
    try:
        with phase(lambda: ("symbolic", lhs, relation, rhs, limit), limit):
            return prove(lhs, rhs, relation, context), ""
    except LimitExceeded as exc:
        return None, f"symbolic work {exc}"
    except RecursionError:
        return None, "expression too deeply nested for symbolic work"
    except (TypeError, ValueError, AttributeError, NotImplementedError, ZeroDivisionError) as exc:
        return None, f"symbolic work failed: {type(exc).__name__}: {exc}"


def _numeric(lhs, rhs, relation, context, examples, limit):
    from ..numeric import numeric_check

    try:
        with phase(lambda: ("numeric", lhs, relation, rhs, examples, limit), limit * 2 if limit else None):
            return numeric_check(lhs, rhs, relation, context, examples=examples)
    except LimitExceeded as exc:
        return _Unevaluable(f"numeric check {exc}")


def numeric_chain(pairs, context, examples, limit) -> list:
    """The numeric checks of several steps ``(lhs, relation, rhs)`` on shared models, one Hypothesis
    run for all; None for a step to be checked on its own (also all of them when time runs out)."""
    from ..numeric import numeric_check_chain

    try:
        with phase(lambda: ("numeric chain", *[x for pair in pairs for x in pair], examples, limit),
                   limit * 2 * len(pairs) if limit else None):
            return numeric_check_chain(pairs, context, examples=examples)
    except LimitExceeded:
        return [None] * len(pairs)


class _Unevaluable:
    status = "unevaluable"
    counterexample = None
    examples = 0

    def __init__(self, detail):
        self.detail = detail


def _combine(sym: SymbolicResult | None, sym_error: str, num, relation: str) -> StepVerdict:
    proved = sym is not None and sym.holds is True
    rewrites = sym.rewrites if sym else []
    cert = sym.certificate if sym else ""
    n_status = num.status if num is not None else "skipped"
    n_examples = getattr(num, "examples", 0) if num is not None else 0
    v = StepVerdict(Status.NOT_CHECKABLE, relation, rewrites=rewrites, certificate=cert, examples=n_examples)
    if n_status == "counterexample":
        v.counterexample = num.counterexample
    if proved and n_status == "counterexample":
        v.status = Status.NOT_CHECKABLE
        v.contradiction = True
        v.method = "symbolic vs numeric"
        v.message = ("INTERNAL CONTRADICTION: the symbolic rules proved this step but a concrete model refutes it; "
                     "this is a bug in elbo-proofs, please report it")
    elif proved:
        v.status = Status.PROVED
        v.method = "symbolic+numeric" if n_status == "agree" else "symbolic"
        v.message = _proof_message(sym, n_status, n_examples, num)
    elif n_status == "counterexample":
        v.status = Status.REFUTED
        v.method = "numeric"
        v.message = f"fails on a concrete model: left side {num.counterexample.lhs:.6g}, right side {num.counterexample.rhs:.6g}"
    elif n_status == "agree" and not sym_error:
        v.status = Status.SUPPORTED
        v.method = "numeric"
        v.message = f"no symbolic proof found; {n_examples} generated models agree"
        if sym is not None and sym.note:
            v.message += f" ({sym.note})"
    else:
        v.method = "none"
        reasons = [r for r in (sym_error, getattr(num, "detail", "") if num is not None else "") if r]
        if sym is not None and sym.note:
            reasons.append(sym.note)
        v.message = "; ".join(reasons) or "no proof found and the numeric check does not apply"
        if n_status == "agree":
            v.message += f"; {n_examples} generated models agree"
    return v


def _proof_message(sym, n_status, n_examples, num):
    what = "certified: " + sym.certificate if sym.certificate and sym.certificate != "equality" else "identity"
    if n_status == "agree":
        return f"{what}; {n_examples} generated models agree"
    detail = getattr(num, "detail", "") if num is not None else "numeric check off"
    return f"{what}; numeric check not applicable ({detail})" if detail else what
