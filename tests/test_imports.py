"""What each entry point loads: heavy or unrelated modules only where they are needed.

Each check runs in a fresh interpreter, so that the modules other tests loaded do not count.
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def loaded_after(code: str) -> set[str]:
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_checking_a_gaussian_derivation_loads_neither_scipy_nor_the_grader():
    # what the supervised worker of `check` runs for one file, here in this process
    mods = loaded_after("from elbo_proofs.cli import _check_job\n"
                        "kind, results = _check_job('derivations/kl_gaussian.yaml', 3, 5.0, True)\n"
                        "assert kind == 'ok' and all(r.proved for r in results), results")
    assert "hypothesis" in mods and "numpy" in mods          # the numeric check ran
    assert not any(m == "scipy" or m.startswith("scipy.") for m in mods)
    assert "elbo_proofs.grading.grader" not in mods and "elbo_proofs.parsing.submission" not in mods
    assert "torch" not in mods


def test_the_numeric_result_types_load_no_numeric_machinery():
    """The checker's verdicts carry numeric.Counterexample; importing it must not load Hypothesis,
    numpy, or (through the checker) the readers' lark and yaml."""
    mods = loaded_after("from elbo_proofs.numeric import Counterexample, NumericResult")
    assert not {"hypothesis", "numpy", "scipy", "lark", "yaml", "sympy"} & mods
    mods = loaded_after("from elbo_proofs.checking import check_step")
    assert not {"lark", "yaml", "hypothesis"} & mods
    assert "elbo_proofs.parsing" not in mods


def test_building_the_command_line_does_not_load_the_checker():
    mods = loaded_after("from elbo_proofs.cli import build_parser\nbuild_parser()")
    assert "sympy" not in mods and "hypothesis" not in mods and "elbo_proofs.checking" not in mods
