"""Bad input: one clear line naming the file and the step, exit code 2, never a traceback."""
import json
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_proofs.cli import main
from elbo_proofs.errors import InputError
from elbo_proofs.parsing import parse_expression
from elbo_proofs.terms import Context

GOOD_HEADER = """\
title: t
symbols: {mu: real, sigma: positive}
distributions:
  q(z): N(z; mu, sigma^2)
  p(z): N(z; 0, 1)
"""


def run(tmp_path, capsys, text, *extra):
    path = tmp_path / "d.yaml"
    path.write_text(textwrap.dedent(text))
    code = main(["check", str(path), "--examples", "5", *extra])
    out, err = capsys.readouterr()
    return code, out, err, path


def one_error_line(err):
    lines = [l for l in err.splitlines() if l.strip()]
    assert lines, "expected an error line on stderr"
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("text, expect", [
    ("title: [unclosed\nsteps: []\n", "malformed YAML"),
    ("steps:\n  - expr: mu\n", "missing field 'title'"),
    ("title: t\n", "missing field 'steps'"),
    (GOOD_HEADER + "steps:\n  - expr: mu\n  - expr: nu + 1\n", "unknown symbol 'nu'"),
    (GOOD_HEADER + "steps:\n  - expr: mu\n  - expr: frobnicate(mu)\n", "unknown function 'frobnicate'"),
    (GOOD_HEADER + "steps:\n  - expr: mu\n  - expr: (mu + \n", "ends early"),
    (GOOD_HEADER + "steps:\n  - expr: mu\n  - expr: mu $ 2\n", "unexpected character '$'"),
    (GOOD_HEADER + "steps:\n  - expr: mu\n  - expr: mu\n    rel: '<>'\n", "unknown relation"),
    (GOOD_HEADER + "steps:\n  - expr: mu\n  - {by: nothing}\n", "missing field 'expr'"),
    (GOOD_HEADER + "steps:\n  - expr: mu\n  - expr: " + "(" * 60 + "mu" + ")" * 60 + "\n", "nests 60 brackets"),
    (GOOD_HEADER + "steps:\n  - expr: mu\n  - expr: " + "mu + " * 1500 + "mu\n", "characters long"),
    (GOOD_HEADER + "steps:\n  - expr: mu\n  - expr: 2^100000000\n", "too large"),
    ("title: t\nsymbols: {mu: complex}\nsteps: [mu, mu]\n", "unknown assumption"),
    ("title: t\nbogus: 1\nsteps: [mu]\n", "unknown field"),
])
def test_bad_input_one_line_exit_2(tmp_path, capsys, text, expect):
    code, out, err, path = run(tmp_path, capsys, text)
    assert code == 2
    line = one_error_line(err)
    assert str(path) in line
    assert expect in line


def test_error_names_step_and_line(tmp_path, capsys):
    code, out, err, path = run(tmp_path, capsys, GOOD_HEADER + "steps:\n  - expr: mu\n  - expr: mu\n  - expr: nu\n")
    line = one_error_line(err)
    assert code == 2 and "step 3" in line and f"{path}:9" in line


def test_missing_file_and_batch_continues(tmp_path, capsys, derivations_dir):
    code = main(["check", str(tmp_path / "nope.yaml"), str(derivations_dir / "kl_gaussian.yaml"),
                 "--examples", "5", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "nope.yaml" in err and "no such file" in err
    payload = json.loads(out)
    assert payload["derivations"][0]["proved"] is True  # the good file was still checked


def test_time_limit_reports_not_checkable(tmp_path, capsys):
    """A step too heavy for the limit is not checkable (exit 1, a mathematical reason), never a hang."""
    text = """\
    title: heavy
    symbols: {a: real, b: real, c: real, d: real}
    steps:
      - expr: (a + b + c + d)^40
      - expr: (a + b + c - d)^40
    """
    code, out, err, path = run(tmp_path, capsys, text, "--time-limit", "0.05", "--no-numeric")
    assert code == 1
    assert "not checkable" in out and "Traceback" not in err


@settings(max_examples=60)
@given(st.text(alphabet="abcxyzmu_sigma()[]{}|~=<>+-*/^.,;0123456789 EKLHNdplogsumint", max_size=80))
def test_parser_never_crashes(text):
    ctx = Context()
    for name in ("a", "b", "c", "x", "y", "z", "mu", "sigma"):
        ctx.symbol(name)
    try:
        parse_expression(text, ctx)
    except InputError as exc:
        assert str(exc)
