"""Symbolic proof of one step: identity, inequality certificate, or unbiasedness."""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ..limits import LimitExceeded, phase
from ..terms import Context
from .canonical import Canonicalizer
from .rules.estimator import expectation_over_samples, has_samples
from .rules.inequality import Certifier, candidate_terms
from .trace import Trace


@dataclass
class SymbolicResult:
    holds: bool | None           # True: proved; None: no proof found
    rewrites: list[str] = field(default_factory=list)
    certificate: str = ""
    residual: str = ""           # the canonical difference when no proof was found
    note: str = ""


def prove(lhs, rhs, relation: str, context: Context) -> SymbolicResult:
    """Try to prove `lhs relation rhs` for every model allowed by the context."""
    trace = Trace()
    canon = Canonicalizer(context, trace)
    note = ""
    if relation == "~=":
        lhs, rhs, note = _estimator_sides(lhs, rhs, context, trace)
        if lhs is None:
            return SymbolicResult(None, trace.names(), note=note)
        relation = "="
    a, b = canon(lhs), canon(rhs)
    diff = sp.expand(a - b)
    if relation == "=":
        if diff == 0 or _simplifies_to_zero(diff):
            return SymbolicResult(True, trace.names(), note=note)
        return SymbolicResult(None, trace.names(), residual=str(diff), note=note)
    gap = diff if relation == ">=" else -diff
    if gap == 0:
        return SymbolicResult(True, trace.names(), certificate="equality")
    certifier = Certifier(Canonicalizer(context, trace), candidate_terms(context), context)
    cert = certifier.certify(sp.expand(gap), [lhs, rhs])
    if cert:
        trace.use("non-negativity certificate")
        return SymbolicResult(True, trace.names(), certificate=cert)
    return SymbolicResult(None, trace.names(), residual=str(gap))


def canonical_form(e, context: Context, *, seconds: float | None = None):
    """The checker's canonical form of a term (moments evaluated, KL unfolded), within ``seconds``.

    Raises TimeoutError when the time runs out.
    """
    try:
        with phase(lambda: ("canon", e), seconds):
            return Canonicalizer(context)(e)
    except LimitExceeded as exc:
        raise TimeoutError(str(exc)) from None


def _estimator_sides(lhs, rhs, context, trace):
    """Replace the estimator side by its expectation over the samples."""
    l_s, r_s = has_samples(lhs, context), has_samples(rhs, context)
    if l_s == r_s:
        which = "both sides" if l_s else "neither side"
        return None, None, f"an estimate needs samples on exactly one side; {which} has declared samples"
    est, target = (lhs, rhs) if l_s else (rhs, lhs)
    expected = expectation_over_samples(est, context)
    if expected is None:
        return None, None, "the estimator is not linear in its samples; unbiasedness is left to the numeric check"
    trace.use("expectation over iid samples")
    return (expected, target, "") if l_s else (target, expected, "")


def _simplifies_to_zero(diff) -> bool:
    try:
        return sp.simplify(diff) == 0
    except Exception:  # simplify can fail on exotic terms; no proof then
        return False
