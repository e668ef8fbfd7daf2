"""bench/read_corpus.py counts what the grader read, decided and called wrong against a key."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from elbo_proofs.grading.results import StepResult, SubmissionResult

_spec = importlib.util.spec_from_file_location(
    "read_corpus_bench", Path(__file__).resolve().parents[1] / "bench" / "read_corpus.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def _result(*steps):
    r = SubmissionResult(path="x.md", steps=[StepResult(line=ln, latex="", relation="=", verdict=v)
                                             for ln, v in steps])
    invalid = [ln for ln, v in steps if v == "invalid"]
    r.first_error_line = min(invalid) if invalid else None
    return r


def test_measure_counts_read_decided_and_false_alarms():
    r = _result((3, "valid"), (4, "invalid"), (5, "unparsed"), (6, "unverified"), (9, "invalid"))
    m = bench.measure(r, [9])
    assert (m["steps"], m["read"], m["decided"]) == (5, 4, 3)
    assert m["false_alarms"] == [4]
    assert m["first_error"] == 4 and m["first_found"] is False
    assert bench.measure(r, [4, 9])["first_found"] is True
    assert bench.measure(r, [4, 9])["false_alarms"] == []
    assert bench.measure(_result((3, "valid")), [])["first_found"] is None


def test_totals():
    rows = {"a": bench.measure(_result((1, "valid"), (2, "invalid")), [2]),
            "b": bench.measure(_result((1, "invalid"), (2, "unparsed")), []),
            "c": bench.measure(_result((1, "valid")), [1])}
    t = bench.totals(rows)
    assert t == {"files": 3, "erroneous": 2, "first_found": 1, "clean_files": 2, "steps": 5, "read": 4,
                 "decided": 4, "false_alarm_lines": 1}
    assert bench.pct(1, 3) == "33%" and bench.pct(0, 0) == "-"


def test_collections_skip_what_is_absent(tmp_path):
    found = bench.collections(tmp_path)
    assert set(found) == {"corpus"}
    folder, key = found["corpus"]
    assert len(key) >= 60 and all((folder / name).exists() for name in key)
