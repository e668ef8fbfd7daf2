"""An assignment of several problems: each scored on its own chains, tests named by problem and line."""
from __future__ import annotations

import json

import pytest

from elbo_proofs.grading.assignment import load_assignment
from elbo_proofs.grading.commands import main as grade_main

ASSIGNMENT = """title: Homework 5
problems:
  - name: 1(a)
    points: 4
    goal: "(a + b)^2 = a^2 + 2*a*b + b^2"
  - name: 1(b)
    points: 6
    goal: "a*(b - c) = a*b - a*c"
"""

BOTH_RIGHT = r"""
Part (a)

$$(a + b)^2 = (a + b)(a + b) = a^2 + 2ab + b^2$$

Part (b)

$$a(b - c) = ab - ac$$
"""

B_WRONG = r"""
Part (a)

$$(a + b)^2 = (a + b)(a + b) = a^2 + 2ab + b^2$$

Part (b)

$$a(b - c) = ab + ac = ab - ac$$
"""

ONLY_A = r"""
$$(a + b)^2 = (a + b)(a + b) = a^2 + 2ab + b^2$$
"""


def _run(tmp_path, text, fmt="json"):
    folder = tmp_path / "submission"
    folder.mkdir(exist_ok=True)
    (folder / "hw.md").write_text(text)
    asg = tmp_path / "hw.yaml"
    asg.write_text(ASSIGNMENT)
    out = tmp_path / "out.json"
    grade_main([str(folder), "--assignment", str(asg), "--format", fmt, "--jobs", "0", "--examples", "10",
                "--output", str(out)])
    data = json.loads(out.read_text())
    return data[0] if fmt == "json" else data


def test_points_are_the_sum_of_the_problems(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text(ASSIGNMENT)
    a = load_assignment(p)
    assert a.points == 10 and [x.name for x in a.problems] == ["1(a)", "1(b)"]


def test_each_problem_scored_on_its_own_steps(tmp_path):
    r = _run(tmp_path, BOTH_RIGHT)
    assert r["score"] == 10
    assert [(p["name"], p["score"], p["max_score"]) for p in r["problems"]] == [("1(a)", 4, 4), ("1(b)", 6, 6)]


def test_an_error_in_one_problem_costs_that_problem(tmp_path):
    r = _run(tmp_path, B_WRONG)
    by = {p["name"]: p for p in r["problems"]}
    assert by["1(a)"]["score"] == 4
    # 1(b): 6 points, 30 % for the goal (reached by the last line, which is back on track), one error: 20 % of 6
    assert by["1(b)"]["score"] == pytest.approx(6 - 1.2)
    assert r["score"] == pytest.approx(8.8)


def test_a_problem_not_attempted_scores_nothing(tmp_path):
    r = _run(tmp_path, ONLY_A)
    by = {p["name"]: p for p in r["problems"]}
    assert by["1(a)"]["score"] == 4 and by["1(b)"]["score"] == 0
    assert "not attempted" in by["1(b)"]["explanation"]


def test_gradescope_names_tests_by_problem_and_line(tmp_path):
    data = _run(tmp_path, B_WRONG, fmt="gradescope")
    names = [t["name"] for t in data["tests"]]
    assert "Problem 1(a): score" in names and "Problem 1(b): score" in names
    assert any(n == "Problem 1(b), line 8: wrong" for n in names), names
    assert any(n == "Problem 1(a), line 4: valid" for n in names), names
    assert len(names) == len(set(names))
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


@pytest.mark.parametrize("content,needle", [
    (ASSIGNMENT + "points: 12\n", "sum of the problems"),
    ("problems:\n  - name: a\n    points: 2\n", "goal"),
    ("problems:\n  - name: a\n    points: 2\n    goal: \"x = x\"\n  - name: a\n    points: 2\n    goal: \"y = y\"\n",
     "used twice"),
    ("goal: \"x = x\"\nproblems:\n  - name: a\n    points: 2\n    goal: \"x = x\"\n", "either"),
])
def test_bad_problems_are_one_line_exit_2(tmp_path, capsys, content, needle):
    sub = tmp_path / "a.md"
    sub.write_text(ONLY_A)
    asg = tmp_path / "hw.yaml"
    asg.write_text(content)
    assert grade_main([str(sub), "--assignment", str(asg), "--jobs", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "hw.yaml" in err[0] and needle in err[0], err
