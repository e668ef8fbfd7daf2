"""Real submissions, end to end through the reader and the checker.

The three shared student derivations must be graded as their README says, and
the submissions in tests/data/submissions as tests/data/submissions/expected.yaml
says (correct ones and ones with planted errors, in varied notation).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

pytest.importorskip("elbo_proofs.parsing.submission")

from elbo_proofs.grading import GradeOptions, Grader  # noqa: E402
from elbo_proofs.grading.cache import StepCache  # noqa: E402
from elbo_proofs.grading.commands import main as grade_main  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "submissions"
OWN = Path(__file__).resolve().parent / "data" / "submissions"
OPTS = GradeOptions(examples=15, time_limit=3.0)
EXPECTED = yaml.safe_load((OWN / "expected.yaml").read_text())

_CACHE = StepCache()


def grade(path):
    return Grader(OPTS, _CACHE).grade_path(path)


def lines_with(result, verdict):
    return sorted({s.line for s in result.steps if s.verdict == verdict})


def shared(name):
    p = SHARED / name
    if not p.exists():
        pytest.skip(f"{p} is not present")
    return p


def test_csc421_nothing_wrong():
    r = grade(shared("csc421_hw5.md"))
    assert r.status == "graded"
    assert lines_with(r, "invalid") == [], [(s.line, s.message) for s in r.steps if s.verdict == "invalid"]
    assert r.first_error_line is None
    # the closed-form KL of part (c) ends in a valid step
    assert any(s.verdict == "valid" for s in r.steps)


def test_cs4641_only_line_15_wrong():
    r = grade(shared("cs4641_appendix.md"))
    assert all(s.verdict != "invalid" for s in r.steps if s.line != 15), \
        [(s.line, s.message) for s in r.steps if s.verdict == "invalid"]
    assert lines_with(r, "invalid") == [15], [(s.line, s.message) for s in r.steps if s.verdict == "invalid"]
    assert r.first_error_line == 15
    bad = [s for s in r.steps if s.line == 15][0]
    assert bad.counterexample is not None


def test_exercise3_sign_error_then_back_on_track():
    r = grade(shared("exercise3_slides.md"))
    assert r.first_error_line == 93
    assert lines_with(r, "invalid") == [93], [(s.line, s.message) for s in r.steps if s.verdict == "invalid"]
    step93 = [s for s in r.steps if s.line == 93][0]
    assert "log" in step93.hint and "sign" in step93.hint
    after = [s for s in r.steps if s.line == 95]
    assert after and all(s.verdict == "valid" and s.back_on_track for s in after)
    # later slides repeat the derivation correctly: no new errors
    assert all(s.verdict != "invalid" for s in r.steps if s.line and s.line > 95)
    # the dropped transpose on line 184 is never called valid
    assert all(s.verdict != "valid" for s in r.steps if s.line == 184)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_own_submissions(name):
    exp = EXPECTED[name]
    r = grade(OWN / name)
    assert r.status == "graded"
    info = [(s.line, s.verdict, s.message) for s in r.steps]
    assert r.first_error_line == exp["first_error"], info
    if "invalid" in exp:
        assert lines_with(r, "invalid") == sorted(exp["invalid"]), info
    by_line = {}
    for s in r.steps:
        by_line.setdefault(s.line, []).append(s)
    for ln in exp.get("valid", []):
        assert ln in by_line and all(s.verdict == "valid" for s in by_line[ln]), (ln, info)
    for ln in exp.get("back_on_track", []):
        assert ln in by_line and all(s.back_on_track for s in by_line[ln]), (ln, info)
    for ln in exp.get("never_invalid", []):
        assert all(s.verdict != "invalid" for s in by_line.get(ln, [])), (ln, info)


def test_cli_json_on_the_shared_folder(capsys):
    if not SHARED.exists():
        pytest.skip("shared submissions are not present")
    code = grade_main([str(SHARED), "--format", "json", "--examples", "15", "--time-limit", "3", "--jobs", "2"])
    data = {Path(d["path"]).name: d for d in json.loads(capsys.readouterr().out)}
    assert code == 1
    assert "README.md" not in data
    assert data["csc421_hw5.md"]["first_error_line"] is None
    assert data["exercise3_slides.md"]["first_error_line"] == 93
    for d in data.values():
        assert {"path", "first_error_line", "score", "max_score", "steps"} <= set(d)
        assert 0 <= d["score"] <= d["max_score"]
        for s in d["steps"]:
            assert s["verdict"] in ("valid", "invalid", "unverified", "unparsed")
            assert isinstance(s["line"], int) and s["line"] >= 1
    assert data["csc421_hw5.md"]["score"] == data["csc421_hw5.md"]["max_score"]
    assert data["exercise3_slides.md"]["score"] < data["exercise3_slides.md"]["max_score"]
    cs = {s["line"]: s for s in data["cs4641_appendix.md"]["steps"]}
    assert cs[15]["verdict"] == "invalid"
    assert data["cs4641_appendix.md"]["first_error_line"] == 15


def test_assignment_goal_on_a_real_submission(tmp_path, capsys):
    asg = tmp_path / "elbo.yaml"
    asg.write_text(
        "title: ELBO decomposition\n"
        "points: 10\n"
        "goal_points: 4\n"
        "goal: \"log(p(x)) = E[z ~ q(z|x)](log(p(x, z)) - log(q(z|x))) + KL(q(z|x) || p(z|x))\"\n"
    )
    code = grade_main([str(OWN / "elbo_decomposition_ok.md"), str(OWN / "kl_swapped.md"), "--assignment", str(asg),
                       "--format", "json", "--examples", "15", "--time-limit", "3", "--jobs", "0"])
    data = {Path(d["path"]).name: d for d in json.loads(capsys.readouterr().out)}
    assert code == 1
    ok, other = data["elbo_decomposition_ok.md"], data["kl_swapped.md"]
    assert ok["goal"]["reached"] and ok["goal"]["line"] == 9
    assert ok["score"] == 10
    assert not other["goal"]["reached"]
    assert other["score"] <= 6
