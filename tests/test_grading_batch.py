"""Batches: worker crashes and timeouts are reported and the rest graded; CLI exit codes and formats."""
from __future__ import annotations

import json
import os
import time
from argparse import ArgumentParser

import pytest

from elbo_proofs.grading import GradeOptions
from elbo_proofs.grading.batch import BatchConfig, collect_paths, grade_batch
from elbo_proofs.grading.commands import main as grade_main
from elbo_proofs.grading.commands import register
from elbo_proofs.grading.results import SubmissionResult
from elbo_proofs.reports.grading_gradescope import gradescope_results

from test_grading_support import ToyChecker, build

OPTS = GradeOptions(examples=10, time_limit=2.0)


def faulty(path, config, cache):
    """A unit of work that misbehaves on request, by file name."""
    name = os.path.basename(path)
    if name.startswith("crash"):
        os._exit(3)
    if name.startswith("hang"):
        time.sleep(60)
    if name.startswith("raise"):
        raise ValueError("bad luck")
    if name.startswith("greedy"):
        hog = bytearray(2 * 1024**3)  # more than the worker may have
        return SubmissionResult(path=path, score=len(hog)).to_dict()
    return SubmissionResult(path=path, score=10.0).to_dict()


def _files(tmp_path, names):
    out = []
    for n in names:
        p = tmp_path / n
        p.write_text("x\n")
        out.append(str(p))
    return out


@pytest.mark.parametrize("jobs", [1, 2])
def test_crash_and_timeout_are_isolated(tmp_path, jobs):
    paths = _files(tmp_path, ["a.md", "crash.md", "b.md", "hang.md", "raise.md", "c.md"])
    seen = []
    config = BatchConfig(options=OPTS, timeout=1.5)
    t0 = time.monotonic()
    results = grade_batch(paths, config, jobs=jobs, grade_fn=faulty, on_result=lambda i, r: seen.append(i))
    assert time.monotonic() - t0 < 20
    by = {os.path.basename(r.path): r for r in results}
    assert [os.path.basename(r.path) for r in results] == [os.path.basename(p) for p in paths]
    for ok in ("a.md", "b.md", "c.md"):
        assert by[ok].status == "graded" and by[ok].score == 10
    assert by["crash.md"].status == "failed" and "exit" in by["crash.md"].reason
    assert by["hang.md"].status == "failed" and "timed out" in by["hang.md"].reason
    assert by["raise.md"].status == "failed" and "ValueError" in by["raise.md"].reason
    assert sorted(seen) == list(range(len(paths)))


def test_memory_limit_turns_a_runaway_into_a_reported_failure(tmp_path):
    vm = [ln for ln in open("/proc/self/status") if ln.startswith("VmSize")]
    if not vm:
        pytest.skip("no /proc/self/status")
    current_mb = int(vm[0].split()[1]) // 1024
    paths = _files(tmp_path, ["greedy.md", "a.md"])
    config = BatchConfig(options=OPTS, timeout=20, memory_mb=current_mb + 512)
    results = grade_batch(paths, config, jobs=1, grade_fn=faulty)
    assert results[0].status == "failed" and "MemoryError" in results[0].reason
    assert results[1].status == "graded"


def test_in_process_mode_catches_exceptions(tmp_path):
    paths = _files(tmp_path, ["raise.md", "a.md"])
    results = grade_batch(paths, BatchConfig(options=OPTS), jobs=0, grade_fn=faulty)
    assert results[0].status == "failed" and results[1].status == "graded"


def test_collect_paths(tmp_path):
    (tmp_path / "s").mkdir()
    for n in ("a.md", "b.tex", "c.txt", "d.pdf", ".hidden.md", "README.md"):
        (tmp_path / "s" / n).write_text("x")
    paths, folder = collect_paths([str(tmp_path / "s")])
    assert folder and [os.path.basename(p) for p in paths] == ["a.md", "b.tex", "c.txt"]
    from elbo_proofs.errors import InputError

    with pytest.raises(InputError, match="no such file"):
        collect_paths([str(tmp_path / "missing.md")])


# -- the command line, with a tiny reader so these tests stand on their own --------------
def _tiny_reader(path):
    """Each non-empty line is `REL expr` (the first just `expr`); `claim: a <= b` lines are claims."""
    from elbo_proofs.errors import InputError

    try:
        text = open(path, encoding="utf-8").read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file: {exc}", file=path) from None
    if "HANG" in text:
        time.sleep(30)
    if "CRASH" in text:
        os._exit(7)
    chain, claims = [], []
    for n, raw in enumerate(text.splitlines(), start=1):
        raw = raw.strip()
        if not raw:
            continue
        if raw.startswith("claim:"):
            body = raw[len("claim:"):]
            for rel in ("<=", ">=", "="):
                if rel in body:
                    a, b = body.split(rel, 1)
                    claims.append(("claim", [(n, None, a.strip()), (n, rel, b.strip())]))
                    break
            continue
        rel, _, expr = raw.partition(" ")
        if rel in ("=", "<=", ">=", "~="):
            chain.append((n, rel, expr))
        else:
            chain.append((n, None, raw))
    return build(([("chain", chain)] if chain else []) + claims, path=str(path))


@pytest.fixture
def tiny(monkeypatch):
    """The command line with the tiny reader and the toy checker (workers are forked, so they inherit it)."""
    import elbo_proofs.grading.grader as grader_mod

    monkeypatch.setattr(grader_mod.Grader, "reader", property(lambda self: _tiny_reader))
    monkeypatch.setattr(grader_mod.Grader, "checker", property(lambda self: ToyChecker()))
    return None


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


GOOD = "(a + b)^2\n= a^2 + 2*a*b + b^2\n<= a^2 + 2*a*b + b^2 + c^2\n"
BAD = "a*(b - c)\n= a*b + a*c\n= a*b - a*c\n"


def test_cli_json_exit_codes(tiny, tmp_path, capsys):
    good = _write(tmp_path, "good.md", GOOD)
    assert grade_main([good, "--format", "json", "--jobs", "0"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["first_error_line"] is None and data[0]["score"] == data[0]["max_score"] == 10
    assert [s["line"] for s in data[0]["steps"]] == [2, 3]

    bad = _write(tmp_path, "bad.md", BAD)
    assert grade_main([good, bad, "--format", "json", "--jobs", "2"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [os.path.basename(d["path"]) for d in data] == ["good.md", "bad.md"]
    steps = {s["line"]: s for s in data[1]["steps"]}
    assert data[1]["first_error_line"] == 2
    assert steps[2]["verdict"] == "invalid" and set(steps[2]["counterexample"]) >= {"values", "lhs", "rhs"}
    assert steps[3]["verdict"] == "valid" and steps[3]["back_on_track"]
    for s in data[1]["steps"]:
        assert {"line", "relation", "verdict", "message", "latex"} <= set(s)


def test_cli_text_report_and_output_file(tiny, tmp_path, capsys):
    bad = _write(tmp_path, "bad.md", BAD)
    out = tmp_path / "report.txt"
    assert grade_main([bad, "--jobs", "0", "--output", str(out)]) == 1
    text = out.read_text()
    assert "invalid" in text and "back on track" in text and "first error" in text
    assert grade_main([bad, "--jobs", "0"]) == 1
    assert "invalid" in capsys.readouterr().out


def test_cli_gradescope_is_one_result_for_one_student(tiny, tmp_path):
    """Gradescope grades one student's folder: two derivation files make one score out of the points."""
    good = _write(tmp_path, "good.md", GOOD)
    bad = _write(tmp_path, "bad.md", BAD)
    out = tmp_path / "results.json"
    grade_main([good, bad, "--format", "gradescope", "--jobs", "0", "--output", str(out)])
    data = json.loads(out.read_text())
    assert isinstance(data["score"], float) and isinstance(data["output"], str)
    assert data["output_format"] == "md" and data["visibility"] == "visible"
    assert {"stdout_visibility", "execution_time"} <= set(data)
    # one error in the student's work: a fixed 2 of 10
    assert data["score"] == 8.0
    points = [t for t in data["tests"] if t["max_score"] > 0]
    assert [(t["name"], t["score"], t["max_score"]) for t in points] == [("Score", 8.0, 10.0)]
    names = [t["name"] for t in data["tests"]]
    assert len(names) == len(set(names))
    for t in data["tests"]:
        assert set(t) >= {"name", "score", "max_score", "output"}
        assert t.get("status", "passed") in ("passed", "failed")
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))
    by_name = {t["name"]: t for t in data["tests"]}
    assert by_name["bad.md, line 2: wrong"]["status"] == "failed"
    assert by_name["good.md, line 2: valid"]["status"] == "passed"
    assert by_name["bad.md, line 2: wrong"]["output"].startswith("$")


def test_gradescope_for_a_submission_that_was_not_graded():
    from elbo_proofs.grading.results import failed

    res = failed("x.md", "timed out after 5 s").to_dict()
    data = gradescope_results([res])
    assert data["score"] == 0
    score_test = data["tests"][0]
    assert "status" not in score_test          # never "passed": a person has to look
    assert "timed out" in data["output"] and "provisional" in data["output"]
    assert res["needs_review"] and res["provisional"]


def test_cli_missing_path_is_bad_input(tiny, tmp_path, capsys):
    assert grade_main([str(tmp_path / "nope.md")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.md" in err[0] and "Traceback" not in err[0]


@pytest.mark.parametrize("content,needle", [
    ("points: [1, 2\n", "malformed YAML"),
    ("points: -3\n", "points"),
    ("pionts: 10\n", "unknown field"),
    ("goal: \"a <= \"\n", "goal"),
    ("- just\n- a list\n", "mapping"),
    ("points: 5\ngoal_points: 9\n", "goal_points"),
])
def test_cli_bad_assignment_is_one_line_exit_2(tiny, tmp_path, capsys, content, needle):
    good = _write(tmp_path, "good.md", GOOD)
    asg = _write(tmp_path, "hw.yaml", content)
    assert grade_main([good, "--assignment", asg, "--jobs", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "hw.yaml" in err[0] and needle in err[0]


def test_cli_missing_assignment_file(tiny, tmp_path, capsys):
    good = _write(tmp_path, "good.md", GOOD)
    assert grade_main([good, "--assignment", str(tmp_path / "none.yaml")]) == 2
    assert "none.yaml" in capsys.readouterr().err


def test_assignment_points_and_goal(tiny, tmp_path, capsys):
    good = _write(tmp_path, "good.md", GOOD)
    asg = _write(tmp_path, "hw.yaml", "points: 20\ngoal_points: 5\ngoal: \"(a + b)^2 <= a^2 + 2*a*b + b^2 + c^2\"\n")
    assert grade_main([good, "--assignment", asg, "--format", "json", "--jobs", "0"]) == 0
    d = json.loads(capsys.readouterr().out)[0]
    assert d["max_score"] == 20 and d["score"] == 20
    assert d["goal"]["reached"] and d["goal"]["line"] == 3

    short = _write(tmp_path, "short.md", "(a + b)^2\n= a^2 + 2*a*b + b^2\n")
    assert grade_main([short, "--assignment", asg, "--format", "json", "--jobs", "0"]) == 0
    d = json.loads(capsys.readouterr().out)[0]
    assert not d["goal"]["reached"] and d["score"] == 15


def test_unreadable_submission_in_a_batch(tiny, tmp_path, capsys):
    good = _write(tmp_path, "good.md", GOOD)
    binary = tmp_path / "binary.md"
    binary.write_bytes(b"\xff\xfe\x00bad")
    code = grade_main([good, str(binary), "--format", "json", "--jobs", "0"])
    out = json.loads(capsys.readouterr().out)
    assert code == 2
    assert out[0]["status"] == "graded" and out[1]["status"] == "unreadable"


def test_register_adds_the_subcommand():
    parser = ArgumentParser(prog="elbo-proofs")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(["grade", "x.md", "--jobs", "2", "--format", "gradescope", "--examples", "7"])
    assert args.jobs == 2 and args.format == "gradescope" and args.examples == 7 and callable(args.func)
    with pytest.raises(SystemExit):
        parser.parse_args(["grade", "x.md", "--jobs", "-1"])


def test_cli_reports_a_hanging_and_a_crashing_submission_and_grades_the_rest(tiny, tmp_path, capsys):
    folder = tmp_path / "class"
    folder.mkdir()
    _write(folder, "a_good.md", GOOD)
    _write(folder, "b_hang.md", "HANG\n")
    _write(folder, "c_crash.md", "CRASH\n")
    _write(folder, "d_bad.md", BAD)
    code = grade_main([str(folder), "--format", "json", "--jobs", "2", "--timeout", "2"])
    data = {os.path.basename(d["path"]): d for d in json.loads(capsys.readouterr().out)}
    assert code == 1
    assert data["a_good.md"]["status"] == "graded" and data["a_good.md"]["first_error_line"] is None
    assert data["d_bad.md"]["status"] == "graded" and data["d_bad.md"]["first_error_line"] == 2
    assert data["b_hang.md"]["status"] == "failed" and "timed out" in data["b_hang.md"]["reason"]
    assert data["c_crash.md"]["status"] == "failed" and "code 7" in data["c_crash.md"]["reason"]
    assert data["b_hang.md"]["score"] == 0
