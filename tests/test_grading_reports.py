"""Reports: plain data in; brackets in LaTeX survive the terminal table; JSON fields."""
from __future__ import annotations

import json

from elbo_proofs.grading.results import StepResult, SubmissionResult
from elbo_proofs.reports.grading_json import to_json
from elbo_proofs.reports.grading_text import render_to_string


def _result():
    steps = [
        StepResult(line=3, latex=r"\mathbb{E}_{q}[\log q(z) - \log p(z)]", relation="=", verdict="valid",
                   message="proved"),
        StepResult(line=4, latex=r"[bold]\log p(x)[/bold]", relation="=", verdict="invalid",
                   message="does not follow from line 3; the sign of log(p(x)) is flipped",
                   counterexample={"values": {"mu": 0.5}, "lhs": 1.0, "rhs": 2.0, "model": "[linear-Gaussian]"},
                   hint="the sign of log(p(x)) is flipped", new_error=True),
        StepResult(line=5, latex="x", relation="=", verdict="valid", message="back on track: follows from line 3",
                   back_on_track=True),
    ]
    return SubmissionResult(path="hw[1].md", steps=steps, first_error_line=4, score=5.0).to_dict()


def test_text_report_keeps_brackets_and_counterexample():
    text = render_to_string([_result()], width=250)
    assert r"\mathbb{E}_{q}[\log q(z) - \log p(z)]" in text
    assert r"[bold]\log p(x)[/bold]" in text
    assert "[linear-Gaussian]" in text and "mu = 0.5" in text
    assert "hw[1].md" in text and "back on track" in text and "line 4" in text


def test_json_report_fields():
    d = json.loads(to_json([_result()]))[0]
    assert d["path"] == "hw[1].md" and d["first_error_line"] == 4 and d["score"] == 5.0
    s3, s4, s5 = d["steps"]
    assert "counterexample" not in s3
    cx = s4["counterexample"]
    assert (cx["values"], cx["lhs"], cx["rhs"], cx["model"]) == ({"mu": 0.5}, 1.0, 2.0, "[linear-Gaussian]")
    assert s5["back_on_track"] is True
    for s in d["steps"]:
        assert set(s) >= {"line", "relation", "verdict", "message", "latex"}


def test_not_graded_submission_in_text():
    r = SubmissionResult(path="x.md", status="failed", reason="timed out after 3 s").to_dict()
    assert "not graded" in render_to_string([r]) and "timed out" in render_to_string([r])


def test_summary_table_for_several_submissions():
    other = SubmissionResult(path="b.md", status="failed", reason="timed out after 3 s").to_dict()
    text = render_to_string([_result(), other], width=200)
    assert "summary" in text and "b.md" in text and "timed out" in text and "5/10" in text
