"""docs/latex.md's notation tables are the reader's specification: one test per row.

"Notation table": each example reads as the term in its last column (as the reader
prints it).  "Readings": notation that admits several readings gives the first reading
by default and the other one when that reading is asked for; the grader tries both."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from elbo_proofs.parsing.latex_parser import READINGS, LatexEnv, parse_latex

DOC = Path(__file__).resolve().parent.parent / "docs" / "latex.md"


def _table(heading: str) -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(heading)
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("## "):
            break
        if not line.startswith("|") or line.startswith("| ---"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        rows.append([c.replace("\\|", "|") for c in cells])
    return rows[1:]  # without the header


def _code(cell: str) -> str:
    m = re.fullmatch(r"`(.*)`", cell)
    assert m, f"expected `code` in {cell!r}"
    return m.group(1)


NOTATION = _table("## Notation table")
READING_ROWS = _table("## Readings")


def test_tables_are_not_empty():
    assert len(NOTATION) >= 40 and len(READING_ROWS) >= 3


@pytest.mark.parametrize("construct, example, term", NOTATION, ids=[r[0] for r in NOTATION])
def test_notation_row(construct, example, term):
    assert str(parse_latex(_code(example), LatexEnv())) == _code(term)


@pytest.mark.parametrize("reading, example, first, other", READING_ROWS, ids=[r[0] for r in READING_ROWS])
def test_reading_row(reading, example, first, other):
    name = _code(reading)
    assert name in READINGS
    setup, _, latex = _code(example).rpartition(" ;; ")
    env = LatexEnv()
    for s in filter(None, setup.split(" ;; ")):
        parse_latex(s, env)
    assert str(parse_latex(latex, env)) == _code(first)
    env.switches = frozenset([name])
    assert str(parse_latex(latex, env)) == _code(other)
