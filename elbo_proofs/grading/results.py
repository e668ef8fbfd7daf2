"""What grading produces: plain data (strings, numbers, lists), ready for any report.

No SymPy object crosses this boundary; the grader turns terms into strings
before it builds these records, so the reports and the worker processes only
ever see picklable, JSON-friendly values.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

VALID = "valid"
INVALID = "invalid"
UNVERIFIED = "unverified"
UNPARSED = "unparsed"
VERDICTS = (VALID, INVALID, UNVERIFIED, UNPARSED)

# Submission-level status: graded normally, or not graded (worker crash, timeout,
# unreadable input).
GRADED = "graded"
FAILED = "failed"
UNREADABLE = "unreadable"
IGNORED = "ignored"          # a file with no math in it (notes.txt next to the derivation): not graded


@dataclass
class StepResult:
    line: int | None              # 1-based file line where the step's new expression starts
    latex: str                    # the student's LaTeX for that expression
    relation: str | None          # "=", "<=", ">=", "~=" (None for a line that is not a claim)
    verdict: str                  # one of VERDICTS
    message: str = ""             # plain math, for the terminal
    message_md: str = ""          # the same in Markdown with $LaTeX$ (Gradescope, Markdown reports)
    kind: str = "step"            # "step" (chain step), "claim" (standalone relation), "line" (unparsed head)
    chain: int = 0                # index of the chain in the submission
    against: int | None = None    # the line the step was checked against
    lhs: str = ""                 # the two sides as checked, in the project's notation
    rhs: str = ""
    counterexample: dict | None = None   # {values, lhs, rhs, model} for invalid steps
    hint: str = ""                # nearest correct form, where one was found
    hint_md: str = ""
    file: str = ""                # the file of a step when several files make one submission
    problem: str = ""             # the assignment problem the step's chain belongs to
    back_on_track: bool = False
    carries_error: bool = False   # follows from its predecessor, which carries an earlier error
    new_error: bool = False       # an invalid step that is a fresh mistake (not a carried one)
    method: str = ""
    status: str = ""              # the checker's status, for the curious
    seconds: float = 0.0
    cached: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GoalResult:
    text: str
    reached: bool
    line: int | None = None
    message: str = ""
    text_md: str = ""


@dataclass
class SubmissionResult:
    path: str
    status: str = GRADED
    reason: str = ""
    steps: list[StepResult] = field(default_factory=list)
    first_error_line: int | None = None
    score: float = 0.0
    max_score: float = 10.0
    score_explanation: str = ""
    goal: GoalResult | None = None
    notes: list[str] = field(default_factory=list)
    notes_md: list[str] = field(default_factory=list)
    # the math that was not graded as a claim, as it was read: {line, role, latex, word, file}, role one of
    # "declared", "defined", "assumed", "intent", "condition"; latex is the student's own
    read_as: list[dict] = field(default_factory=list)
    # lines nobody checked (unread, undecided, cut by a time limit): {line, latex, reason, file}
    needs_review: list[dict] = field(default_factory=list)
    provisional: bool = False     # the score stands only once a person has read the needs_review lines
    problems: list[dict] = field(default_factory=list)   # per assignment problem: name, score, max_score, ...
    seconds: float = 0.0
    cache_hits: int = 0
    cache_misses: int = 0

    @property
    def has_invalid(self) -> bool:
        return any(s.verdict == INVALID for s in self.steps)

    def counts(self) -> dict[str, int]:
        out = {v: 0 for v in VERDICTS}
        for s in self.steps:
            out[s.verdict] = out.get(s.verdict, 0) + 1
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["counts"] = self.counts()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SubmissionResult":
        d = dict(d)
        d.pop("counts", None)
        steps = [StepResult(**s) for s in d.pop("steps", [])]
        goal = d.pop("goal", None)
        return cls(steps=steps, goal=GoalResult(**goal) if goal else None, **d)


def failed(path: str, reason: str, *, status: str = FAILED, max_score: float = 10.0, seconds: float = 0.0) -> SubmissionResult:
    """A submission that could not be graded: it scores 0 for now, says why, and asks for a person."""
    review = [{"line": None, "latex": "", "reason": f"not graded: {reason}", "file": str(path)}]
    return SubmissionResult(path=str(path), status=status, reason=reason, max_score=max_score,
                            score=0.0, score_explanation=f"not graded: {reason}", seconds=seconds,
                            needs_review=review, provisional=True)
