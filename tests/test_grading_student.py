"""A course on Gradescope: one student's folder is one result; nothing unchecked passes;
the partial-credit policy of docs/grading.md, computed exactly."""
from __future__ import annotations

import json

import pytest

from elbo_proofs.grading.assignment import load_assignment
from elbo_proofs.grading.commands import main as grade_main
from elbo_proofs.grading.results import INVALID, UNPARSED, UNVERIFIED, VALID, StepResult, SubmissionResult
from elbo_proofs.grading.scoring import score_submission

CORRECT = r"""# Problem 1

We expand the square:

$$
(a + b)^2 = a^2 + 2ab + b^2
$$

and bound it:

$$
a^2 + 2ab + b^2 \le a^2 + 2ab + b^2 + c^2
$$
"""

WITH_UNREADABLE = r"""# Problem 1

$$
\begin{aligned}
(a + b)^2 &= a^2 + 2ab + b^2 \\
&= a^2 + b^2 + 2ab \circ \\
&= b^2 + 2ab + a^2
\end{aligned}
$$
"""


def _folder(tmp_path, files: dict[str, str]):
    sub = tmp_path / "submission"
    sub.mkdir()
    for name, text in files.items():
        (sub / name).write_text(text)
    return sub


def _gradescope(tmp_path, folder, *extra):
    out = tmp_path / "results.json"
    code = grade_main([str(folder), "--format", "gradescope", "--jobs", "0", "--output", str(out),
                       "--examples", "10", *extra])
    return code, json.loads(out.read_text())


def test_a_notes_file_next_to_a_correct_derivation_costs_nothing(tmp_path):
    folder = _folder(tmp_path, {"derivation.md": CORRECT,
                                "notes.txt": "I worked with Bob on this homework.\nThanks for grading!\n"})
    code, data = _gradescope(tmp_path, folder)
    assert code == 0
    assert data["score"] == 10.0
    points = [t for t in data["tests"] if t["max_score"] > 0]
    assert [(t["name"], t["score"], t["max_score"]) for t in points] == [("Score", 10.0, 10.0)]
    assert not any("notes.txt" in t["name"] for t in data["tests"])
    assert "notes.txt" in data["output"] and "not graded" in data["output"]
    assert data["output_format"] == "md" and data["execution_time"] >= 1
    line_tests = [t for t in data["tests"] if t["max_score"] == 0]
    assert line_tests and all(t["output"].startswith("$") for t in line_tests)


def test_only_notes_is_not_full_marks_and_asks_for_a_person(tmp_path):
    folder = _folder(tmp_path, {"notes.txt": "I could not finish.\n"})
    _, data = _gradescope(tmp_path, folder)
    assert data["score"] == 0
    assert "provisional" in data["output"] and "no derivation found" in data["output"]


def test_an_unreadable_line_in_a_correct_derivation_is_not_passed(tmp_path):
    folder = _folder(tmp_path, {"derivation.md": WITH_UNREADABLE})
    code, data = _gradescope(tmp_path, folder)
    review = [t for t in data["tests"] if "needs review" in t["name"]]
    assert review, [t["name"] for t in data["tests"]]
    assert all("status" not in t for t in review)          # neither passed nor failed: a person decides
    assert "line 6: needs review" in {t["name"] for t in review}
    assert "provisional" in data["output"] and "Needs review by a person" in data["output"]
    score = [t for t in data["tests"] if t["name"] == "Score"][0]
    assert "status" not in score                           # not "passed" while lines wait for a person

    out = tmp_path / "r.json"
    grade_main([str(folder / "derivation.md"), "--format", "json", "--jobs", "0", "--output", str(out)])
    r = json.loads(out.read_text())[0]
    assert r["provisional"] is True
    assert 6 in [x["line"] for x in r["needs_review"]]
    assert "1 line needs a person" in r["score_explanation"] or "lines need a person" in r["score_explanation"]


def test_a_submission_cut_by_its_time_limit_is_reviewed_not_passed():
    from elbo_proofs.grading.results import failed
    from elbo_proofs.grading.student import merge_student

    ok = SubmissionResult(path="/s/a.md", steps=[StepResult(1, "x", "=", VALID)])
    cut = failed("/s/b.md", "timed out after 5 s")
    merged = merge_student([score_submission(ok), cut])
    assert merged.provisional
    assert any("timed out" in x["reason"] for x in merged.needs_review)


# -- the partial-credit policy, with the examples of docs/grading.md ------------------------
def _steps(spec):
    """spec: verdict letters, v valid, x a fresh error, c carries the error along, u unverified, p unparsed."""
    out = []
    for i, c in enumerate(spec, start=1):
        verdict = {"v": VALID, "x": INVALID, "c": VALID, "u": UNVERIFIED, "p": UNPARSED}[c]
        out.append(StepResult(line=i, latex=f"e_{i}", relation="=", verdict=verdict, lhs=f"l{i}", rhs=f"r{i}",
                              new_error=c == "x", carries_error=c == "c"))
    return out


class _Policy:
    points = 10.0
    goal = None
    goal_points = None
    error_penalty = None
    unchecked_penalty = None


@pytest.mark.parametrize("spec,policy,score,provisional", [
    ("vvvvvx", {}, 8.0, False),                              # one slip in six steps: 10 - 2
    ("vvxvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv", {}, 8.0, False),  # one slip in 40 steps: the same 2 points
    ("vxccv", {}, 8.0, False),                               # lines carrying the error are not charged again
    ("vxvxv", {}, 6.0, False),                               # two fresh errors
    ("xx", {}, 0.0, False),                                  # nothing valid: no step credit
    ("vvpv", {}, 10.0, True),                                # an unread line: flagged, no points lost by default
    ("vvpv", {"unchecked_penalty": 1}, 9.0, True),           # ... unless the assignment says so
    ("vxvu", {"error_penalty": 3, "unchecked_penalty": 0.5}, 6.5, True),
    ("pu", {}, 0.0, True),                                   # nothing checked: 0, provisional
])
def test_partial_credit_examples(spec, policy, score, provisional):
    pol = _Policy()
    for k, v in policy.items():
        setattr(pol, k, v)
    r = score_submission(SubmissionResult(path="a.md", steps=_steps(spec)), pol)
    assert r.score == score
    assert r.provisional is provisional
    assert len(r.needs_review) == sum(1 for c in spec if c in "up")


def test_goal_points_example():
    class Goal(_Policy):
        goal = ("a", "=", "b")
        goal_points = 3.0
    r = score_submission(SubmissionResult(path="a.md", steps=_steps("vvxv")), Goal())
    assert r.score == 5.0          # 7 step points - 2 for the error, goal not reached
    assert "goal not reached (0/3)" in r.score_explanation


def test_assignment_partial_credit_block(tmp_path):
    p = tmp_path / "hw.yaml"
    p.write_text("points: 20\npartial_credit:\n  error_penalty: 5\n  unchecked_penalty: 1\n")
    a = load_assignment(p)
    assert (a.points, a.error_penalty, a.unchecked_penalty) == (20.0, 5.0, 1.0)


@pytest.mark.parametrize("content,needle", [
    ("partial_credit: 3\n", "partial_credit"),
    ("partial_credit:\n  error_penalty: -1\n", "error_penalty"),
    ("partial_credit:\n  eror_penalty: 1\n", "eror_penalty"),
    ("error_penalty: 1\npartial_credit:\n  error_penalty: 2\n", "both"),
])
def test_bad_partial_credit_is_one_line_exit_2(tmp_path, capsys, content, needle):
    sub = tmp_path / "a.md"
    sub.write_text(CORRECT)
    asg = tmp_path / "hw.yaml"
    asg.write_text(content)
    assert grade_main([str(sub), "--assignment", str(asg), "--jobs", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "hw.yaml" in err[0] and needle in err[0]
