"""How the reader decides the role of each piece of math, and how the grader uses several
readings of one line: a step is wrong only when every plausible reading is refuted."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

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


# -- every piece of math that is not a claim has a role, with its line and the student's LaTeX ----------
def roles(text):
    return [(s.line, s.role, s.latex, s.word) for s in read(text).statements]


def test_assumptions_in_prose_are_not_claims():
    text = ("Assume $\\beta \\geq 1$ and $\\sigma > 0$.\n"
            "For $0 < \\gamma \\le 1$ the bound holds, where $q_k > 0$.\n")
    sub = read(text)
    assert sub.chains == []
    assert roles(text) == [(1, "assumed", "\\beta \\geq 1", "assume"), (1, "assumed", "\\sigma > 0", "and"),
                           (2, "assumed", "0 < \\gamma \\le 1", "for"), (2, "assumed", "q_k > 0", "where")]
    got = [(a.line, str(a.lhs), a.relation, str(a.rhs)) for a in sub.assumptions]
    assert got == [(1, "beta", ">=", "1"), (1, "sigma", ">", "0"), (2, "0", "<", "gamma"), (2, "gamma", "<=", "1"),
                   (2, "q_k", ">", "0")]


def test_kramdown_inline_math_gets_the_same_roles():
    sub = read("Assume $$\\beta \\geq 1$$ throughout.\n")
    assert sub.chains == [] and [(s.role, s.latex) for s in sub.statements] == [("assumed", "\\beta \\geq 1")]


def test_an_inequality_after_plain_words_stays_a_claim():
    sub = read("So $\\mathcal{L} \\leq \\log p(x)$ and hence $a \\leq b$.\n")
    assert len(sub.chains) == 2 and sub.assumptions == [] and sub.statements == []


def test_a_bound_after_where_in_a_display_is_an_assumption():
    text = "$$\n\\log p(x) \\geq \\mathcal{L} \\quad \\text{where} \\quad \\beta \\geq 1\n$$\n"
    sub = read(text)
    assert [[m.latex for m in c.lines] for c in sub.chains] == [["\\log p(x)", "\\mathcal{L}"]]
    assert roles(text) == [(2, "assumed", "\\beta \\geq 1", "where")]


def test_an_interval_after_an_assuming_word_is_two_assumptions():
    sub = read("Let $\\lambda \\in [1, 2)$.\n")
    assert [(str(a.lhs), a.relation, str(a.rhs)) for a in sub.assumptions] == [("lambda", ">=", "1"),
                                                                              ("lambda", "<", "2")]
    sub = read("Here $x \\in \\mathbb{R}^d$ and for $j \\in \\{1, \\dots, d\\}$.\n")
    assert [(s.role, s.latex) for s in sub.statements] == [("declared", "x \\in \\mathbb{R}^d"),
                                                           ("condition", "j \\in \\{1, \\dots, d\\}")]
    assert sub.assumptions == []


def test_definition_signs_define_the_name_and_the_chain_goes_on_from_the_definiens():
    text = ("$$\n"
            "\\mathcal{F} \\triangleq \\mathbb{E}_{q(z)}[\\log p(x|z)] \\\\\n"
            "&= \\mathbb{E}_{q(z)}[\\log p(x|z)] + 0\n"
            "$$\n"
            "and $\\mathcal{G} := \\log p(x)$.\n")
    sub = read(text)
    assert [[(m.line, m.latex) for m in c.lines] for c in sub.chains] == [
        [(2, "\\mathbb{E}_{q(z)}[\\log p(x|z)]"), (3, "\\mathbb{E}_{q(z)}[\\log p(x|z)] + 0")]]
    assert [(s.line, s.role, s.word) for s in sub.statements] == [(2, "defined", "\\triangleq"), (5, "defined", ":=")]
    assert {str(k) for k in sub.definitions} == {"F", "G"}


def test_a_name_defined_at_the_end_of_a_chain():
    sub = read("$$\n\\log p(x) \\geq \\mathbb{E}_{q(z)}[\\log p(x, z) - \\log q(z)] \\equiv \\mathcal{L}_q\n$$\n")
    assert [[m.latex for m in c.lines] for c in sub.chains] == [
        ["\\log p(x)", "\\mathbb{E}_{q(z)}[\\log p(x, z) - \\log q(z)]"]]
    assert [(s.role, s.word) for s in sub.statements] == [("defined", "\\equiv")]


def test_declarations_intent_and_conditions_are_listed():
    text = ("where $\\epsilon \\sim \\mathcal{N}(0, 1)$ and $p(z) = \\mathcal{N}(z; 0, 1)$,\n"
            "- $q_\\phi(z | x) \\approx p(z | x)$ - approximate posterior\n"
            "for $j = 1, \\dots, d$.\n")
    assert [(s.line, s.role) for s in read(text).statements] == [
        (1, "declared"), (1, "declared"), (2, "intent"), (3, "condition")]


def test_the_report_lists_how_the_text_was_read():
    from elbo_proofs.reports.grading_gradescope import gradescope_results
    from elbo_proofs.reports.grading_json import to_json
    from elbo_proofs.reports.grading_text import render_to_string
    import json

    text = ("Assume $\\beta \\geq 1$.\n\n"
            "$$\n\\mathcal{L} := \\log p(x) \\\\\n&\\leq \\log p(x) + 1\n$$\n")
    d = grade(text).to_dict()
    assert d["read_as"] == [{"line": 1, "role": "assumed", "latex": "\\beta \\geq 1", "word": "assume", "file": ""},
                            {"line": 4, "role": "defined", "latex": "\\mathcal{L} := \\log p(x)", "word": ":=",
                             "file": ""}]
    assert json.loads(to_json([d]))[0]["read_as"] == d["read_as"]
    out = render_to_string([d], width=200)
    assert "line 1: assumed  \\beta \\geq 1" in out and "line 4: defined  \\mathcal{L} := \\log p(x)" in out
    gs = json.dumps(gradescope_results([d]))
    assert "line 1, assumed: $\\\\beta \\\\geq 1$" in gs


# -- assumptions reach the checker through the grader -------------------------------------------------
BETA = ("The weight is $\\beta$; %s\n\n"
        "$$\n-\\beta \\, \\mathrm{KL}(q(z) \\| p(z)) \\leq -\\mathrm{KL}(q(z) \\| p(z))\n$$\n")


def test_a_stated_assumption_lets_a_bound_be_proved():
    (step,) = grade(BETA % "assume $\\beta \\geq 1$.").steps
    assert step.verdict == "valid"


def test_without_the_assumption_the_bound_is_not_proved():
    (step,) = grade(BETA % "nothing more is said.").steps
    assert step.verdict != "valid"


def test_an_assumption_the_checker_cannot_use_is_said_so():
    r = grade("Assume $\\beta \\geq 1$ and $\\beta < 0$.\n\n$$\n\\beta + 1 = 1 + \\beta\n$$\n")
    assert any("line 1: the assumption \\beta < 0 is not used" in n and "contradicts" in n for n in r.notes)
    assert [s.verdict for s in r.steps] == ["valid"]


def test_a_list_of_definitions():
    text = ("## Notation\n"
            "- $p(z)$ - prior\n"
            "- $\\mathcal{L} = \\mathbb{E}_{q(z)}[\\log p(x, z) - \\log q(z)]$ - the ELBO\n"
            "- $q_\\phi(z|x) \\approx p(z|x)$ - approximate posterior\n\n"
            "1. $a = b + 0$ so the step holds\n")
    sub = read(text)
    assert [(s.line, s.role) for s in sub.statements] == [(3, "defined"), (4, "intent")]
    assert [[m.latex for m in c.lines] for c in sub.chains] == [["a", "b + 0"]]


# -- any spelling of a bound after an assuming word is an assumption; after plain words, a claim -------
_NAMES = {"\\beta": "beta", "\\sigma": "sigma", "a": "a", "\\lambda": "lambda", "q_k": "q_k"}
_RELS = {"\\geq": ">=", "\\ge": ">=", "\\geqslant": ">=", ">": ">", "\\gt": ">",
         "\\leq": "<=", "\\le": "<=", "\\leqslant": "<=", "<": "<", "\\lt": "<"}


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(_NAMES)), st.sampled_from(sorted(_RELS)), st.integers(-3, 5),
       st.sampled_from(["Assume", "Suppose that", "Let", "For", "where", "with", "assuming"]))
def test_a_bound_after_an_assuming_word(name, rel, number, word):
    sub = read(f"{word} ${name} {rel} {number}$ throughout.\n")
    assert sub.chains == []
    assert [(s.role, s.latex) for s in sub.statements] == [("assumed", f"{name} {rel} {number}")]
    (a,) = sub.assumptions
    assert (str(a.lhs), a.relation, int(a.rhs)) == (_NAMES[name], _RELS[rel], number)


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(sorted(_NAMES)), st.sampled_from(sorted(_RELS)), st.integers(-3, 5),
       st.sampled_from(["So", "Hence", "We get", "Therefore", "and thus"]))
def test_a_bound_after_plain_words_is_a_claim(name, rel, number, word):
    sub = read(f"{word} ${name} {rel} {number}$.\n")
    assert sub.assumptions == [] and len(sub.chains) == 1
