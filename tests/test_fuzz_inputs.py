"""Fuzzing the command line with inputs drawn from the grammars and from damaged real files.

Whatever the input, `check` and `grade` end with exit 0, 1 or 2, never a
traceback, and a file they refuse gets one error line naming it.  Inputs come
from the expression grammar (expr.lark) and the LaTeX grammar (latex.lark)
themselves, through Hypothesis' ``from_lark``, and from real derivations and
submissions damaged at random (cut, repeated, spliced, bytes flipped).
Each Hypothesis example is a whole folder, checked by one command.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from elbo_proofs.cli import main
from elbo_proofs.grading.commands import main as grade_main
from lark import Lark

ROOT = Path(__file__).resolve().parents[1]
GRAMMARS = ROOT / "elbo_proofs" / "parsing"
DERIVATIONS = sorted((ROOT / "derivations").glob("*.yaml"))
SUBMISSIONS = sorted(p for p in (ROOT.parent / "shared" / "submissions").glob("*.md")
                     if not p.name.startswith("README"))
FUZZ = settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                database=None)

NAMES = st.sampled_from(["x", "y", "z", "mu", "sigma", "eps", "p", "q", "j", "L"])
NUMBERS = st.sampled_from(["0", "1", "2", "0.5", "10", "64", "65", "1e300", "1e301", "3.25e-2"])
EXPRESSIONS = from_lark(Lark((GRAMMARS / "expr.lark").read_text(), start="start"), explicit={"NAME": NAMES, "NUMBER": NUMBERS, "WS": st.just(" ")})
# the wide terminals drawn from small sets, so that examples stay small enough to be many
LATEX = from_lark(Lark((GRAMMARS / "latex.lark").read_text()), explicit={
    "__IGNORE_0": st.sampled_from([" ", "\n", "\t"]),
    "SUBSCRIPT": st.sampled_from(["_j", "_1", "_{\\theta}", "_{\\phi}", "_{ij}", "_{l}"]),
    "NAME": st.sampled_from(list("xyzpqLKjl")),
    "NUMBER": st.sampled_from(["0", "1", "2", "0.5", "10", "64", "65", "123456789"]),
    "LABEL": st.just("^{(1)}"), "WORD": st.sampled_from(["\\text{and}", "\\mathrm{const}"]),
    "CAL": st.sampled_from(["\\mathcal{L}", "\\mathcal{N}"]),
    "DIFF": st.sampled_from(["dz", "d\\epsilon", "dx"]),
})

HEADER = """\
title: generated
symbols: {x: real, y: real, mu: real, sigma: positive, eps: real, L: positive integer}
vectors: {z: 2}
indices: {j: 1..2}
distributions:
  q(z): N(mu, sigma^2)
"""


def _no_traceback(err: str):
    assert "Traceback" not in err and "Error:" not in err.replace("error:", ""), err


def _check_folder(folder: Path, capsys, count: int):
    code = main(["check", str(folder), "--no-numeric", "--time-limit", "0.5", "--format", "json"])
    out, err = capsys.readouterr()
    assert code in (0, 1, 2)
    _no_traceback(err)
    payload = json.loads(out)
    reported = {d["path"] for d in payload["derivations"]} | {e["path"] for e in payload["errors"]}
    assert len(reported) == count   # every file either checked or refused, none lost
    for line in filter(None, err.splitlines()):
        assert line.startswith(f"error: {folder}"), line


@FUZZ
@given(st.lists(st.tuples(EXPRESSIONS, EXPRESSIONS), min_size=3, max_size=3))
def test_check_on_expressions_from_the_grammar(tmp_path_factory, capsys, pairs):
    folder = tmp_path_factory.mktemp("expr")
    for k, (a, b) in enumerate(pairs):
        (folder / f"d{k}.yaml").write_text(HEADER + f"steps:\n  - expr: {json.dumps(a)}\n  - expr: {json.dumps(b)}\n")
    _check_folder(folder, capsys, len(pairs))


@FUZZ
@given(st.lists(st.tuples(LATEX, st.sampled_from(["=", "\\le", "\\geq", "\\approx"]), LATEX),
                min_size=2, max_size=2))
def test_grade_on_latex_from_the_grammar(tmp_path_factory, capsys, lines):
    folder = tmp_path_factory.mktemp("latex")
    text = "".join(f"$$ {a} {rel} {b} $$\n\n" for a, rel, b in lines)
    (folder / "s.md").write_text("$$ \\log p(x) = \\log p(x) $$\n\nDerivation:\n\n" + text)
    code = grade_main([str(folder), "--time-limit", "0.5", "--no-numeric", "--format", "json", "--timeout", "60"])
    out, err = capsys.readouterr()
    assert code in (0, 1, 2)
    _no_traceback(err)
    results = json.loads(out)
    [result] = results
    assert result["status"] == "graded", result["reason"]
    assert result["steps"][0]["verdict"] == "valid"   # whatever follows


def _damage(data: st.DataObject, raw: bytes) -> bytes:
    for _ in range(data.draw(st.integers(1, 4))):
        n = len(raw)
        kind = data.draw(st.sampled_from(["cut", "repeat", "splice", "flip", "insert", "truncate"]))
        i = data.draw(st.integers(0, n))
        j = data.draw(st.integers(i, min(n, i + 400)))
        if kind == "cut":
            raw = raw[:i] + raw[j:]
        elif kind == "repeat":
            raw = raw[:j] + raw[i:j] * data.draw(st.integers(2, 40)) + raw[j:]
        elif kind == "splice":
            k = data.draw(st.integers(0, n))
            raw = raw[:k] + raw[i:j] + raw[k:]
        elif kind == "flip" and n:
            k = min(i, n - 1)
            raw = raw[:k] + bytes([raw[k] ^ data.draw(st.integers(1, 255))]) + raw[k + 1:]
        elif kind == "insert":
            junk = data.draw(st.sampled_from([b"&a [1]", b"*a", b"\x00", b"\xff\xfe", b"{{{{{{", b"[[[[[[[[",
                                              b": 1: 2", b"\n- \n", b"\t", b"1e999999", b"^{10^{60}}",
                                              b"\\frac{", b"$$", b"\\begin{align}", b"!!python/object:os.system"]))
            raw = raw[:i] + junk + raw[i:]
        else:
            raw = raw[:i]
    return raw


@pytest.mark.skipif(not DERIVATIONS, reason="no derivations")
@FUZZ
@given(st.data())
def test_check_on_damaged_derivations(tmp_path_factory, capsys, data):
    folder = tmp_path_factory.mktemp("damaged")
    for k in range(4):
        source = data.draw(st.sampled_from(DERIVATIONS))
        (folder / f"{k}_{source.name}").write_bytes(_damage(data, source.read_bytes()))
    _check_folder(folder, capsys, 4)


@pytest.mark.skipif(not SUBMISSIONS, reason="../shared/submissions is not present")
@FUZZ
@given(st.data())
def test_grade_on_damaged_submissions(tmp_path_factory, capsys, data):
    folder = tmp_path_factory.mktemp("damaged")
    for k in range(2):
        source = data.draw(st.sampled_from(SUBMISSIONS)).read_bytes()
        start = data.draw(st.integers(0, max(0, len(source) - 1500)))
        (folder / f"{k}.md").write_bytes(_damage(data, source[start:start + 1500]))
    code = grade_main([str(folder), "--time-limit", "0.5", "--no-numeric", "--no-hints", "--format", "json",
                       "--timeout", "60"])
    out, err = capsys.readouterr()
    assert code in (0, 1, 2)
    _no_traceback(err)
    results = json.loads(out)
    assert len(results) == 2
    for r in results:
        assert r["status"] in ("graded", "unreadable", "ignored"), r["reason"]   # ignored: no math left in it
