"""The grader on derivations written by others and on the project's own corpus, as their keys say.

Three collections, each file graded once per session (in two worker processes):
- ../shared/real: key.json lists the lines that hold a wrong relation (bad_lines);
- ../shared/submissions: what its README says a correct grader reports (written out in SUBMISSIONS);
- tests/data/corpus: key.json (verified numerically by tests/test_corpus_key.py).

Checks per file:
- no_false_alarm: no line outside bad_lines is called invalid;
- first_error: the first line of bad_lines is the first invalid line;
- error_not_valid: a line that holds a planted error and nothing else is never called valid;
- back_on_track: the lines that say so are valid and marked as back on track.

Cases that fail today are listed in KNOWN below, each with what is misread; they run as
strict xfails, so a case that starts to pass fails the suite until its entry is removed.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from elbo_proofs.grading import GradeOptions
from elbo_proofs.grading.batch import BatchConfig, grade_batch

TESTS = Path(__file__).resolve().parent
SHARED = TESTS.parents[1] / "shared"
CORPUS = TESTS / "data" / "corpus"
OPTS = GradeOptions(examples=15, time_limit=6.0, hints=False)

# ../shared/submissions/README.md, as data: bad_lines (first one first), lines back on track
SUBMISSIONS = {
    "csc421_hw5.md": {"bad_lines": []},
    "cs4641_appendix.md": {"bad_lines": [15]},
    "exercise3_slides.md": {"bad_lines": [93, 184], "back_on_track": [95], "not_valid": [93, 184]},
}

# -- cases that fail today: (collection, file, check) -> what is misread ----------------------------
KNOWN: dict[tuple[str, str, str], str] = {
    ("corpus", "bernoulli_decoder_sign.md", "first_error"):
        "hat{x}_j, 'the j-th output of the decoder' in prose, is read as a plain real, so most drawn models "
        "take the log of a negative number and the sign flip of line 5 is not decided",
    ("corpus", "em_free_energy_entropy_sign.md", "first_error"):
        "p(x, z=k) (an argument fixed to a value) is not read, so line 8 is not decided",
    ("corpus", "mc_missing_average.md", "first_error"):
        "'samples z^{(1)}, ..., z^{(L)} drawn from q(z|x)' in prose is not taken as a declaration of draws, "
        "so the estimator of line 3 is not decided",
}


def _load_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _single_step_lines(name: str) -> set[int]:
    """Corpus lines on which the spec has exactly one relation (so a planted error there is the
    only thing the line claims)."""
    sys.path.insert(0, str(CORPUS))
    try:
        spec = importlib.util.spec_from_file_location("corpus_spec_for_reading", CORPUS / "spec.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(CORPUS))
    counts: dict[int, int] = {}
    for chain in mod.SPECS[name]["chains"]:
        for line, rel, _ in chain:
            if rel is not None:
                counts[line] = counts.get(line, 0) + 1
    return {ln for ln, n in counts.items() if n == 1}


def _expectations() -> dict[tuple[str, str], dict]:
    out: dict[tuple[str, str], dict] = {}
    for name, entry in sorted(_load_json(SHARED / "real" / "key.json").items()):
        if (SHARED / "real" / name).exists():
            out[("real", name)] = {"bad_lines": entry["bad_lines"]}
    if (SHARED / "submissions").exists():
        for name, entry in SUBMISSIONS.items():
            if (SHARED / "submissions" / name).exists():
                out[("submissions", name)] = dict(entry)
    corpus_key = _load_json(CORPUS / "key.json")
    single = {name: _single_step_lines(name) for name in corpus_key if corpus_key[name]["bad_lines"]}
    for name, entry in sorted(corpus_key.items()):
        exp = {"bad_lines": entry["bad_lines"]}
        if entry["bad_lines"]:
            exp["not_valid"] = [ln for ln in entry["bad_lines"] if ln in single[name]]
        out[("corpus", name)] = exp
    return out


EXPECT = _expectations()
DIRS = {"real": SHARED / "real", "submissions": SHARED / "submissions", "corpus": CORPUS}


def _cases():
    cases = []
    for (coll, name), exp in EXPECT.items():
        checks = ["no_false_alarm"]
        if exp["bad_lines"]:
            checks.append("first_error")
        if exp.get("not_valid"):
            checks.append("error_not_valid")
        if exp.get("back_on_track"):
            checks.append("back_on_track")
        for check in checks:
            marks = []
            if (coll, name, check) in KNOWN:
                marks.append(pytest.mark.xfail(strict=True, reason=KNOWN[(coll, name, check)]))
            cases.append(pytest.param(coll, name, check, id=f"{coll}/{name}::{check}", marks=marks))
    return cases


CASES = _cases()


def test_known_failures_name_existing_cases():
    """Every entry of KNOWN names a case that exists (a renamed file must not leave a stale entry)."""
    ids = {(c.values[0], c.values[1], c.values[2]) for c in CASES}
    assert set(KNOWN) <= ids, set(KNOWN) - ids
    assert all(reason.strip() for reason in KNOWN.values())


@pytest.fixture(scope="module")
def graded(request):
    """Every file that a selected case needs, graded once, in two worker processes."""
    wanted = sorted({(item.callspec.params["coll"], item.callspec.params["name"])
                     for item in request.session.items
                     if getattr(item, "callspec", None) is not None and "coll" in item.callspec.params
                     and item.module is request.module})
    paths = [str(DIRS[coll] / name) for coll, name in wanted]
    results = grade_batch(paths, BatchConfig(options=OPTS, timeout=300.0), jobs=2)
    return dict(zip(wanted, results))


def _describe(result) -> list[tuple]:
    return [(s.line, s.verdict, s.message[:160]) for s in result.steps if s.verdict != "valid"]


@pytest.mark.parametrize("coll,name,check", CASES)
def test_reading(graded, coll, name, check):
    result = graded[(coll, name)]
    exp = EXPECT[(coll, name)]
    assert result.status == "graded", result.reason
    bad = exp["bad_lines"]
    invalid = sorted({s.line for s in result.steps if s.verdict == "invalid"})
    if check == "no_false_alarm":
        wrong = [ln for ln in invalid if ln not in bad]
        assert not wrong, ("correct lines called invalid", wrong, _describe(result))
    elif check == "first_error":
        assert result.first_error_line == bad[0], ("first error", result.first_error_line, "wanted", bad[0],
                                                   _describe(result))
    elif check == "error_not_valid":
        called_valid = [s.line for s in result.steps if s.line in exp["not_valid"] and s.verdict == "valid"]
        assert not called_valid, ("a wrong line called valid", called_valid)
    elif check == "back_on_track":
        for ln in exp["back_on_track"]:
            at = [s for s in result.steps if s.line == ln]
            assert at and all(s.verdict == "valid" and s.back_on_track for s in at), (ln, _describe(result))
    else:
        raise AssertionError(check)
