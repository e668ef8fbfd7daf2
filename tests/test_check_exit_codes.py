"""Exit codes of `elbo-proofs check`: 0 proved, 1 refuted / unproved / not checkable, 2 bad input only,
3 an internal contradiction; `proved` in the JSON only where a proof exists."""
import json
import textwrap

from elbo_proofs.checking import SymbolicResult
from elbo_proofs.limits import LimitExceeded
from elbo_proofs.cli import main

HEADER = """\
title: t
symbols: {mu: real, sigma: positive}
distributions:
  q(z): N(z; mu, sigma^2)
  p(z): N(z; 0, 1)
"""


def run(tmp_path, capsys, body, *extra, name="d.yaml"):
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
    code = main(["check", str(path), "--examples", "10", "--format", "json", *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, json.loads(out), err


def steps(payload):
    (d,) = payload["derivations"]
    return d, d["steps"]


def test_every_step_proved_exits_0(tmp_path, capsys):
    code, payload, err = run(tmp_path, capsys, "steps:\n  - expr: KL(q(z) || p(z))\n"
                             "  - expr: (mu^2 + sigma^2 - 1)/2 - log(sigma)\n")
    d, (s,) = steps(payload)
    assert code == 0 and d["proved"] is True and s["proved"] is True and s["verdict"] == "proved"


def test_refuted_step_exits_1(tmp_path, capsys):
    code, payload, err = run(tmp_path, capsys, "steps:\n  - expr: KL(q(z) || p(z))\n"
                             "  - expr: (mu^2 + sigma^2 - 1)/2 + log(sigma)\n")
    d, (s,) = steps(payload)
    assert code == 1 and s["verdict"] == "refuted" and s["proved"] is False and d["proved"] is False


def test_symbolic_only_run_without_a_proof_exits_1(tmp_path, capsys):
    code, payload, err = run(tmp_path, capsys, "steps:\n  - expr: mu\n  - expr: mu + sigma\n", "--no-numeric")
    d, (s,) = steps(payload)
    assert code == 1 and s["verdict"] == "not checkable" and s["proved"] is False and d["proved"] is False
    assert "error" not in err


def test_step_out_of_scope_exits_1_not_2(tmp_path, capsys):
    """An estimate with samples on neither side cannot be checked: a mathematical reason, not bad input."""
    code, payload, err = run(tmp_path, capsys, "steps:\n  - expr: mu\n  - expr: mu\n    rel: '~='\n",
                             "--no-numeric")
    d, (s,) = steps(payload)
    assert code == 1 and s["verdict"] == "not checkable" and "samples" in s["message"] and s["proved"] is False


def test_time_limit_exits_1(tmp_path, capsys, monkeypatch):
    def slow(*args, **kw):
        raise LimitExceeded(5)

    monkeypatch.setattr("elbo_proofs.checking.step.prove", slow)
    code, payload, err = run(tmp_path, capsys, "steps:\n  - expr: mu\n  - expr: mu\n", "--no-numeric")
    d, (s,) = steps(payload)
    assert code == 1 and s["verdict"] == "not checkable" and "time limit" in s["message"] and s["proved"] is False


def test_internal_contradiction_exits_3_and_asks_for_a_report(tmp_path, capsys, monkeypatch):
    """A (deliberately broken) prover that proves a false step: the numeric check refutes it."""
    monkeypatch.setattr("elbo_proofs.checking.step.prove", lambda *a, **k: SymbolicResult(True, ["broken rule"]))
    code, payload, err = run(tmp_path, capsys, "steps:\n  - expr: mu^2\n  - expr: mu^2 + 1\n")
    d, (s,) = steps(payload)
    assert code == 3
    assert s["contradiction"] is True and s["proved"] is False and d["proved"] is False
    assert "report" in err and "d.yaml" in err and "step 2" in err


def test_largest_code_wins_across_files(tmp_path, capsys, derivations_dir):
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: [unclosed\n")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(HEADER + "steps:\n  - expr: mu\n  - expr: mu + 1\n")
    assert main(["check", str(wrong), str(derivations_dir / "kl_gaussian.yaml"), "--examples", "5"]) == 1
    assert main(["check", str(wrong), str(bad), "--examples", "5"]) == 2
    capsys.readouterr()
