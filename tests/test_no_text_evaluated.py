"""Nothing read from a file reaches SymPy's string parser (which evaluates Python).

`sympify` of a string goes through `sympy.parsing.sympy_parser.parse_expr`, and
that runs `eval`. Reading and checking every shipped derivation and grading every
shared submission and real derivation must never call it: the project reads text
with its own grammars only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy.parsing.sympy_parser as sympy_parser

from elbo_proofs.checking import check_derivation
from elbo_proofs.parsing import load_derivations

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


class TextEvaluated(AssertionError):
    pass


@pytest.fixture
def no_string_parsing(monkeypatch):
    # SymPy parses some fixed strings of its own when these load lazily; load them first.
    import sympy.physics.units  # noqa: F401
    import sympy.stats  # noqa: F401

    calls = []

    def refuse(text, *args, **kwargs):
        calls.append(text)
        raise TextEvaluated(f"SymPy's string parser was called on {str(text)[:80]!r}")

    monkeypatch.setattr(sympy_parser, "parse_expr", refuse)
    yield calls
    assert not calls, calls


def test_checking_the_shipped_derivations_parses_no_text_with_sympy(no_string_parsing):
    files = sorted((ROOT / "derivations").glob("*.yaml"))
    assert files
    for path in files:
        for derivation in load_derivations(path):
            check_derivation(derivation)


def test_grading_shared_text_parses_no_text_with_sympy(no_string_parsing):
    from elbo_proofs.grading import GradeOptions, Grader
    from elbo_proofs.grading.cache import StepCache

    files = sorted((SHARED / "submissions").glob("*.md")) + sorted((SHARED / "real").glob("r0[3-5]*.md"))
    if not files:
        pytest.skip("../shared is not present")
    grader = Grader(GradeOptions(examples=5, time_limit=2.0), StepCache())
    for path in files:
        grader.grade_path(path)
