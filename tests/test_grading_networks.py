"""Factorizations a student states in the text are declared, and the steps over several
latent variables are checked with the network rules and the linear-Gaussian networks.

Only a stated factorization (``with $p(x, z_1, z_2) = p(x|z_1)p(z_1|z_2)p(z_2)$``, "the
joint factorizes as", "the generative model is") creates a network; a correct line is
never called invalid, and a planted error is found.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("elbo_proofs.parsing.submission")

from elbo_proofs.grading import GradeOptions, Grader  # noqa: E402
from elbo_proofs.grading.cache import StepCache  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "networks"
OPTS = GradeOptions(examples=15, time_limit=3.0)
_CACHE = StepCache()


def grade(name):
    return Grader(OPTS, _CACHE).grade_path(DATA / name)


def verdicts(result):
    return sorted((s.line, s.verdict) for s in result.steps)


def test_hierarchical_declared_in_prose_is_proved():
    r = grade("hier_two_layers.md")
    assert r.status == "graded"
    # both factorizations are declarations, not claims; the two relations of the display are proved
    assert verdicts(r) == [(3, "valid"), (3, "valid")], [(s.line, s.verdict, s.message) for s in r.steps]
    assert all("declared" in s.message or "network" in s.message for s in r.steps)


def test_hierarchical_we_assume():
    r = grade("hier_prose.md")
    assert verdicts(r) == [(6, "valid"), (7, "valid")], [(s.line, s.verdict, s.message) for s in r.steps]


def test_conditional_generative_model_is():
    r = grade("cvae_given.md")
    assert [v for _, v in verdicts(r)] == ["valid"] * 3, [(s.line, s.verdict, s.message) for s in r.steps]


def test_hierarchical_planted_sign_error():
    r = grade("hier_sign_error.md")
    assert verdicts(r) == [(7, "valid"), (8, "invalid")], [(s.line, s.verdict, s.message) for s in r.steps]
    assert r.first_error_line == 8


def test_mean_field_over_indexed_factors_is_never_called_wrong():
    # q(z) = prod_i q_i(z_i) over m factors is a family declaration; E_{q_i} and H[q_i] are not read yet
    r = grade("meanfield_entropy.md")
    assert all(s.verdict != "invalid" for s in r.steps), [(s.line, s.message) for s in r.steps]


def _grade_text(tmp_path, text):
    p = tmp_path / "s.md"
    p.write_text(text)
    return Grader(OPTS, _CACHE).grade_path(p)


def test_no_network_without_a_stated_factorization(tmp_path):
    # the same display, with no factorization stated: nothing over three variables is checkable
    r = _grade_text(tmp_path, (DATA / "hier_two_layers.md").read_text().split("\n", 1)[1])
    assert all(s.verdict == "unverified" for s in r.steps), [(s.line, s.verdict, s.message) for s in r.steps]


def test_a_factorization_that_is_no_network_is_not_declared(tmp_path):
    # a cycle (z_1 given z_2 and z_2 given z_1) is no Bayesian network: not declared, nothing called wrong
    text = ("With $p(x, z_1, z_2) = p(x|z_1)p(z_1|z_2)p(z_2|z_1)$:\n\n"
            "$$\\mathbb{E}_{q(z_1, z_2|x)}[\\log p(x, z_1, z_2)] = "
            "\\mathbb{E}_{q(z_1, z_2|x)}[\\log p(x|z_1) + \\log p(z_1|z_2) + \\log p(z_2|z_1)]$$\n")
    r = _grade_text(tmp_path, text)
    assert all(s.verdict != "invalid" for s in r.steps), [(s.line, s.verdict, s.message) for s in r.steps]
    assert not any(s.verdict == "valid" and s.line == 3 for s in r.steps)


def test_a_wrong_use_of_the_declared_network_is_found(tmp_path):
    # p(x|z_1, z_2) = p(x|z_1) holds in the declared network, p(z_1|x) = p(z_1) does not
    text = ("The generative model is $p(x, z_1, z_2) = p(z_2)p(z_1|z_2)p(x|z_1)$.\n\n"
            "$$\\log p(x|z_1, z_2) = \\log p(x|z_1)$$\n\n"
            "$$\\log p(z_1|z_2) = \\log p(z_1)$$\n")
    r = _grade_text(tmp_path, text)
    got = {s.line: s.verdict for s in r.steps}
    assert got.get(3) == "valid", [(s.line, s.verdict, s.message) for s in r.steps]
    assert got.get(5) != "valid", [(s.line, s.verdict, s.message) for s in r.steps]


def test_mean_field_of_two_factors_entropy_splits():
    r = grade("meanfield_two_factors.md")
    got = sorted((s.line, s.verdict) for s in r.steps)
    assert got == [(3, "valid"), (3, "valid"), (5, "invalid")], [(s.line, s.verdict, s.message) for s in r.steps]


def test_mean_field_with_factors_of_other_letters():
    r = grade("meanfield_other_letters.md")
    assert verdicts(r) == [(3, "valid")], [(s.line, s.verdict, s.message) for s in r.steps]


def test_a_joint_of_two_variables_stays_a_claim(tmp_path):
    # p(x, z) = p(x|z) p(z) is the chain rule itself: checked as a claim, no network is declared
    r = _grade_text(tmp_path, "With $p(x, z) = p(x|z)p(z)$ we have\n\n$$\\log p(x, z) = \\log p(x|z) + \\log p(z)$$\n")
    assert all(s.verdict == "valid" for s in r.steps) and r.steps, [(s.line, s.verdict, s.message) for s in r.steps]
    assert any(s.line == 1 for s in r.steps)
