"""Verdicts: what the checker says of a step, in plain data for the reports.

Reports see strings and numbers only, never SymPy objects.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum

from ..numeric.result import Counterexample


class Status(str, Enum):
    PROVED = "proved"                # symbolic proof, numeric evidence agrees
    SUPPORTED = "supported"          # no proof found, no counterexample either
    REFUTED = "refuted"              # numeric counterexample (and no proof)
    NOT_CHECKABLE = "not checkable"  # unparsed, unknown symbol, out of scope, timeout


@dataclass
class StepVerdict:
    status: Status
    relation: str
    method: str = ""                              # "symbolic+numeric", "numeric", ...
    message: str = ""
    rewrites: list[str] = field(default_factory=list)   # names of the rules the proof used
    certificate: str = ""                         # for inequalities: the non-negative gap
    counterexample: Counterexample | None = None
    examples: int = 0                             # numeric examples that agreed
    seconds: float = 0.0
    contradiction: bool = False                   # a symbolic proof that a counterexample refutes

    @property
    def ok(self) -> bool:
        return self.status is Status.PROVED

    def to_dict(self) -> dict:
        d = asdict(self)
        d["status"] = self.status.value
        return d
