"""How the reader decides the role of each piece of math, and how the grader uses several
readings of one line: a step is wrong only when every plausible reading is refuted."""
from __future__ import annotations

from elbo_proofs.grading import GradeOptions, Grader
from elbo_proofs.grading.cache import StepCache
from elbo_proofs.parsing.submission import read_submission_text, split_connectives


def read(text):
    return read_submission_text(text, path="t.md")


def grade(text):
    opts = GradeOptions(examples=20, time_limit=5.0, hints=False)
    return Grader(opts, StepCache()).grade_submission(read(text))


def verdicts(result):
    return {s.line: s.verdict for s in result.steps}


# -- statements of intent ----------------------------------------------------------
def test_approximation_between_densities_over_the_same_variables_is_intent():
    sub = read("## Setup\n- $p(z)$ - prior\n- $q_\\phi(z | x) \\approx p(z | x)$ - approximate posterior\n")
    assert sub.chains == []
    assert any("line 3" in n and "statement of intent" in n for n in sub.notes)


def test_approximation_between_densities_over_different_variables_stays_a_claim():
    sub = read("- $p_\\theta(z | x) \\approx p(x | z)$ - true posterior\n")
    assert len(sub.chains) == 1 and sub.chains[0].lines[1].relation == "~="
    r = grade("- $p_\\theta(z | x) \\approx p(x | z)$ - true posterior\n")
    assert verdicts(r) == {1: "invalid"}


# -- connective words ----------------------------------------------------------------
def test_connectives_split_a_row_and_carry_their_word():
    parts = split_connectives(r"a \approx b \quad \text{with} \quad x \sim p(x), \text{ for } j = 1")
    assert [(p.strip(), w) for _, p, w in parts] == [(r"a \approx b", ""), (r"x \sim p(x)", "with"),
                                                      ("j = 1", "for")]


def test_samples_declared_after_with_make_the_average_an_estimate():
    text = ("$$\n\\mathbb{E}_{p(x)}[f(\\mathbf{x})] \\approx \\frac{1}{N} \\sum_{n=1}^{N} f(\\hat{\\mathbf{x}}^{(n)})"
            " \\quad \\text{with} \\quad \\hat{\\mathbf{x}}^{(n)} \\sim p(\\mathbf{x}),\n$$\n")
    sub = read(text)
    assert any("are samples of p(x)" in n for n in sub.notes)
    (chain,) = sub.chains
    assert chain.lines[1].relation == "~=" and "x_hat" in str(chain.lines[1].expr)
    assert verdicts(grade(text))[2] != "invalid"


def test_a_definition_after_where_is_not_a_claim():
    sub = read("$$\n\\log p(x) \\geq a - b \\quad \\text{where} \\quad a = \\mathbb{E}_{q(z)}[\\log p(x, z)]\n$$\n")
    assert [len(c.lines) for c in sub.chains] == [2]
    assert any("a is defined as" in n for n in sub.notes)


def test_math_after_for_is_a_condition():
    sub = read("$$\n\\mu_j = 0 \\quad \\text{for} \\quad j = 1\n$$\n")
    assert [[m.latex for m in c.lines] for c in sub.chains] == [[r"\mu_j", "0"]]
    assert any("a condition" in n for n in sub.notes)


# -- several readings ------------------------------------------------------------------
TWO_READINGS = ("Assume $q(z) \\sim \\mathcal{N}(0, 1)$ and $P(x) \\sim \\mathcal{N}(\\mu, 1)$.\n\n"
                "$$\n\\mathbb{E}(x) = %s\n$$\n")


def test_a_step_holds_when_some_plausible_reading_holds():
    sub = read(TWO_READINGS % "\\mu")
    (chain,) = sub.chains
    head = chain.lines[0]
    assert head.readings and "distribution of the variable" in head.readings[0][1]
    (step,) = grade(TWO_READINGS % "\\mu").steps
    assert step.verdict == "valid"
    assert "read with E without a subscript" in step.message


def test_a_step_is_invalid_when_every_reading_is_refuted():
    (step,) = grade(TWO_READINGS % "2\\mu + 1").steps
    assert step.verdict == "invalid"


def test_capital_letter_read_as_its_variable():
    text = ("Assume $P(x) \\sim \\mathcal{N}(\\mu, 1)$.\n\n"
            "$$\n\\int_{-\\infty}^{\\infty} P(x) x \\, dx = \\int_{-\\infty}^{\\infty} P(X) x \\, dx = \\mu\n$$\n")
    steps = grade(text).steps
    assert [s.verdict for s in steps] == ["valid", "valid"]


def test_unmatched_closing_bracket_is_dropped_with_a_note():
    sub = read("$$\n\\log(\\int p(x|z) p(z) dz)) = \\log p(x)\n$$\n")
    (chain,) = sub.chains
    assert all(m.expr is not None for m in chain.lines)
    assert any("closes nothing" in n for n in sub.notes)
