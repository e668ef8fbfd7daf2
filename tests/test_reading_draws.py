"""Several draws under one expectation, names defined for every index, densities named by a bare
letter, and conditions joined by commas: how the reader takes them and what the grader decides."""
from __future__ import annotations

import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from elbo_proofs.errors import InputError
from elbo_proofs.grading import GradeOptions, Grader
from elbo_proofs.grading.cache import StepCache
from elbo_proofs.parsing.latex_parser import LatexEnv, draw_lists, parse_latex
from elbo_proofs.parsing.submission import read_submission_text
from elbo_proofs.terms import Density, Expectation, SampleExpectation, draws_as_variables

R = dict(real=True)
z, x = sp.Symbol("z", **R), sp.Symbol("x", **R)


def read(text):
    return read_submission_text(text, path="t.md")


def grade(text):
    opts = GradeOptions(examples=20, time_limit=8.0, hints=False)
    return Grader(opts, StepCache()).grade_submission(read(text))


def verdicts(result):
    out: dict = {}
    for s in result.steps:
        out.setdefault(s.line, []).append(s.verdict)
    return out


# -- the subscript of an expectation over several draws ---------------------------------------------
DRAWS = st.sampled_from([
    r"z_{1:K}",
    r"z_{1 : K}",
    r"z_1, \dots, z_K",
    r"z_1, \ldots, z_K",
    r"z_{1},\cdots,z_{K}",
    r"z^{(1)}, \dots, z^{(K)}",
])
SIM = st.sampled_from([r"\sim", r"\stackrel{\text{iid}}{\sim}", r"\overset{\text{i.i.d.}}{\sim}",
                       r"\stackrel{iid}{\sim}"])


@settings(max_examples=40, deadline=None)
@given(DRAWS, SIM)
def test_every_spelling_of_several_draws_reads_as_one_expectation_over_them(draws, sim):
    env = LatexEnv()
    t = parse_latex(r"\mathbb{E}_{%s %s q(z|x)}\left[\log \frac{1}{K}\sum_{k=1}^{K} \frac{p(x, z_k)}{q(z_k|x)}\right]"
                    % (draws, sim), env)
    assert isinstance(t, SampleExpectation)
    assert t.var == z and t.lower == 1 and str(t.upper) == "K"
    assert t.dist == Density("q", (z,), (x,))
    idx, var, dist = env.context.samples["z"]
    assert var == z and dist == t.dist and env.context.indices[idx.name][1:] == (1, t.upper)
    # the draws are bound: z_k inside is the k-th draw, and nothing outside it
    assert str(t) == "E[z_1, ..., z_K ~ q(z | x)](log(1/K)*Sum(p(x, z[k])/q(z[k] | x), (k, 1, K)))"


def test_a_draw_list_is_rewritten_only_for_one_name_under_a_sampling_sign():
    assert draw_lists(r"\mathbb{E}_{z_1, \dots, z_K \sim q}") == r"\mathbb{E}_{z_{1:K} \sim q}"
    # two names, or no sampling sign after the list: left as written
    assert draw_lists(r"\mathbb{E}_{x_1, \dots, z_K \sim q}") == r"\mathbb{E}_{x_1, \dots, z_K \sim q}"
    assert draw_lists(r"f(z_1, \dots, z_K)") == r"f(z_1, \dots, z_K)"


@pytest.mark.parametrize("latex, reason", [
    (r"z_{1:K}", "several draws at once"),
    (r"\mathbb{E}_{z_{2:K} \sim q(z)}[z_2]", "from the first"),
    (r"\mathbb{E}_{z_{1:K} \sim q(x)}[z_1]", "not a density of z"),
])
def test_draws_that_cannot_be_read_are_refused_with_the_reason(latex, reason):
    with pytest.raises(InputError, match=reason):
        parse_latex(latex, LatexEnv())


def test_draws_said_to_come_from_two_densities_are_refused():
    env = LatexEnv()
    parse_latex(r"\mathbb{E}_{z_{1:K} \sim q(z|x)}[z_1]", env)
    with pytest.raises(InputError, match="from"):
        parse_latex(r"\mathbb{E}_{z_{1:K} \sim r(z)}[z_1]", env)


# -- one draw under an expectation over its variable -----------------------------------------------
def test_one_draw_under_an_expectation_over_its_variable_is_that_variable():
    zk = sp.IndexedBase("z")[sp.Symbol("k", integer=True)]
    q = Density("q", (z,), (x,))
    e = Expectation(sp.log(Density("p", (x, zk))) - sp.log(Density("q", (zk,), (x,))), zk, q)
    assert draws_as_variables(e) == Expectation(sp.log(Density("p", (x, z))) - sp.log(q), z, q)
    # another draw z_j in the body stays a draw; z itself in the body: left as written
    zj = sp.IndexedBase("z")[sp.Symbol("j", integer=True)]
    assert draws_as_variables(Expectation(zk * zj, zk, q)) == Expectation(z * zj, z, q)
    assert draws_as_variables(Expectation(zk * z, zk, q)) == Expectation(zk * z, zk, q)


# -- a name defined for every index -----------------------------------------------------------------
def test_let_w_k_defines_w_at_every_index_of_the_text():
    sub = read("Let $w_k = \\frac{p(x, z_k)}{q(z_k|x)}$ for the draws $z_1, \\dots, z_K \\sim q(z|x)$.\n\n"
               "$$\\mathbb{E}_{z_k \\sim q(z|x)}[w_k] = p(x)$$\n\n"
               "$$\\sum_{j=1}^{K} w_j = \\sum_{j=1}^{K} \\frac{p(x, z_j)}{q(z_j|x)}$$\n")
    defined = {str(k): str(v) for k, v in sub.definitions.items()}
    assert defined["w[k]"] == "p(x, z[k])/q(z[k] | x)"
    assert defined["w[j]"] == "p(x, z[j])/q(z[j] | x)"
    assert any(s.role == "defined" and s.line == 1 for s in sub.statements)


def test_a_name_on_both_sides_is_not_a_definition():
    sub = read("Let $w_k = 2 w_k$ for the draws $z_1, \\dots, z_K \\sim q(z|x)$.\n\n$$w_1 = 1$$\n")
    assert not any(str(k).startswith("w") for k in sub.definitions)


# -- densities named by a bare letter ---------------------------------------------------------------
def test_a_bare_letter_set_to_a_family_names_the_density_written_with_it():
    sub = read("For $q = \\mathcal{N}(\\mu_1, \\sigma_1^2)$ and $p = \\mathcal{N}(\\mu_2, \\sigma_2^2)$:\n\n"
               "$$\\mathrm{KL}(q \\| p) = \\mathbb{E}_{z \\sim q}\\left[\\log q(z) - \\log p(z)\\right]$$\n")
    fams = {str(d): str(f) for d, f in sub.context.families.items()}
    assert fams == {"q(z)": "N(z; mu_1, sigma_1**2)", "p(z)": "N(z; mu_2, sigma_2**2)"}
    assert str(sub.chains[0].lines[0].expr) == "KL(q(z) || p(z))"


def test_a_bare_letter_never_written_with_its_variable_stays_undeclared():
    sub = read("For $q = \\mathcal{N}(\\mu, \\sigma^2)$:\n\n$$\\mathrm{KL}(q \\| q) = 0$$\n")
    assert sub.context.families == {}


# -- conditions joined by commas --------------------------------------------------------------------
def test_math_joined_by_a_comma_to_a_condition_is_a_condition():
    sub = read("$$q(z) = \\mathcal{N}(z; \\mu, \\sigma^2)$$\n\n"
               "For $\\mu = 0$, $\\sigma = 1$ this is the standard normal.\n")
    assert sub.chains == []
    assert [(s.line, s.role) for s in sub.statements if s.role == "condition"] == [(3, "condition"), (3, "condition")]


# -- the grader on these readings: decided, and never a correct line called wrong -------------------
IWAE = ("Let $w_k = \\frac{p(x, z_k)}{q(z_k|x)}$ for the draws $z_1, \\dots, z_K \\stackrel{\\text{iid}}{\\sim} q(z|x)$.\n\n"
        "$$\\mathbb{E}_{z_k \\sim q(z|x)}[w_k] = %s$$\n\n"
        "$$\\log p(x) = \\log \\mathbb{E}_{z_{1:K} \\sim q(z|x)}\\left[\\frac{1}{K}\\sum_{k=1}^{K} w_k\\right]$$\n\n"
        "$$%s \\mathbb{E}_{z_{1:K} \\sim q(z|x)}\\left[\\log \\frac{1}{K}\\sum_{k=1}^{K} w_k\\right]$$\n")


def test_the_importance_weighted_bound_with_defined_weights_is_proved():
    v = verdicts(grade(IWAE % ("p(x)", "\\geq")))
    assert v == {3: ["valid"], 5: ["valid"], 7: ["valid"]}


@pytest.mark.parametrize("value, rel, bad", [
    ("2 p(x)", "\\geq", 3),          # the mean weight is p(x), not twice it
    ("p(x)", "\\leq", 7),            # Jensen reversed
])
def test_mutants_of_the_importance_weighted_bound_are_found(value, rel, bad):
    v = verdicts(grade(IWAE % (value, rel)))
    assert v[bad] == ["invalid"]
    assert all(verdict != "invalid" for line, vs in v.items() if line != bad for verdict in vs)


# -- a constraint on the parameters in prose ---------------------------------------------------------
MIXTURE = ("Lower bound for the log-likelihood of a mixture, for any weights $q_k > 0$ with $\\sum_k q_k = 1$:\n\n"
           "$$\\ln \\sum_{k=1}^{K} \\pi_k \\mathcal{N}(x; m_k, s_k^2) = \\ln \\sum_{k=1}^{K} q_k "
           "\\frac{\\pi_k \\mathcal{N}(x; m_k, s_k^2)}{q_k} \\ge %s$$\n")


@pytest.mark.parametrize("prose, relation", [
    ("for any weights $q_k > 0$ with $\\sum_k q_k = 1$", ">"),
    ("for all positive weights $q_k > 0$ such that $\\sum_{k=1}^K q_k = 1$", ">"),
    ("where $q_k \\geq 0$ and $q_1 + q_2 = 1$", ">="),
])
def test_bounds_and_equations_on_parameters_after_an_assuming_word_are_assumptions(prose, relation):
    sub = read(f"The weights: {prose}.\n")
    assert sub.chains == []
    assert [a.relation for a in sub.assumptions] == [relation, "="]
    assert all(s.role == "assumed" for s in sub.statements)


@pytest.mark.parametrize("text", [
    "Then $\\sum_k q_k = 1$.\n",               # after plain words: a claim
    "where $a = 1$.\n",                         # a name set to a value: a definition
    "with $\\log a + b = 1$.\n",                # not a sum of names
])
def test_other_equations_are_not_constraints(text):
    assert not any(a.relation == "=" for a in read(text).assumptions)


def test_a_step_resting_on_an_unused_constraint_is_unverified_never_invalid():
    # without the constraint sum_k q_k = 1 this step is false on most models: never called wrong
    result = grade(MIXTURE % "\\ln \\sum_{k=1}^{K} \\pi_k \\mathcal{N}(x; m_k, s_k^2) + \\sum_{k=1}^{K} q_k - 1")
    v = verdicts(result)
    assert "invalid" not in v[3]
    assert any("taken as given" in n and "\\sum_k q_k = 1" in n for n in result.notes)


def test_an_unused_constraint_does_not_excuse_a_step_that_does_not_mention_its_names():
    result = grade(MIXTURE % "2 \\ln \\sum_{k=1}^{K} \\pi_k \\mathcal{N}(x; m_k, s_k^2)")
    # the second step names q; the first one does not, and is right; a wrong step without q stays wrong
    wrong = grade("With $\\sum_k q_k = 1$:\n\n$$\\ln \\sum_{k=1}^{K} \\pi_k \\mathcal{N}(x; m_k, s_k^2) = "
                  "2\\ln \\sum_{k=1}^{K} \\pi_k \\mathcal{N}(x; m_k, s_k^2)$$\n")
    assert verdicts(wrong)[3] == ["invalid"]
    assert verdicts(result)[3][0] == "valid"


def test_messages_about_unusable_assumptions_speak_of_the_mathematics():
    result = grade("Assume $\\gamma \\geq 1$ and $z \\geq 0$ where $z$ is drawn from $q(z)$.\n\n"
                   "$$\\mathbb{E}_{q(z)}[z] = \\mathbb{E}_{q(z)}[z]$$\n")
    text = " ".join(result.notes + [s.message for s in result.steps])
    assert "symbols:" not in text and "distributions:" not in text and "samples:" not in text


# -- a quantity named inside or at the end of a chain ------------------------------------------------
NAMED = ("$$\\log p(x) \\geq \\mathbb{E}_{q(z|x)}\\left[\\log p(x, z) - \\log q(z|x)\\right] = \\mathcal{B}$$\n\n"
         "$$\\mathcal{B} %s$$\n")


def test_a_name_at_the_end_of_a_chain_names_the_expression_before_it():
    sub = read(NAMED % "\\leq \\log p(x)")
    assert {str(k): str(v) for k, v in sub.definitions.items()} == {
        "B": "E[z ~ q(z | x)](log(p(x, z)) - log(q(z | x)))"}
    assert verdicts(grade(NAMED % "\\leq \\log p(x)")) == {1: ["valid", "valid"], 3: ["valid"]}
    # a chain that starts with the name defines it by its head: the two agree here
    assert verdicts(grade(NAMED % "= \\log p(x) - D_{KL}(q(z|x) \\| p(z|x))")) == {1: ["valid", "valid"],
                                                                                      3: ["valid"]}


def test_a_false_claim_about_a_name_defined_at_the_end_of_a_chain_is_found():
    assert verdicts(grade(NAMED % "\\geq \\log p(x)"))[3] == ["invalid"]


def test_a_name_inside_a_chain_names_the_expression_after_it_in_each_of_its_readings():
    sub = read("$$\\mathcal{L}_K = \\mathbb{E}_{z_{1:K} \\sim q(z|x)}\\left[\\log \\frac{1}{K}\\sum_{k=1}^{K} "
               "\\frac{p(x, z_k)}{q(z_k|x)}\\right]$$\n\n"
               "$$\\mathcal{L}_K \\geq \\mathcal{L}_1 = \\mathbb{E}_{q(z|x)}\\left[\\log \\frac{p(x, z)}{q(z|x)}\\right]$$\n")
    defined = {str(k) for k in sub.definitions}
    assert defined == {"L_K", "L_1"}
    # L_K stands for its expression in both readings of the \log there
    l_k = next(k for k in sub.definitions if str(k) == "L_K")
    assert len(sub.readings[l_k]) == 1


# -- a density letter with a parameter of its declared family as subscript ----------------------------
def test_a_subscript_that_is_a_parameter_of_the_declared_family_is_no_part_of_the_density():
    sub = read("For $q_\\mu(z) = \\mathcal{N}(z; \\mu, \\sigma^2)$ the score is "
               "$\\nabla_\\mu \\log q_\\mu(z) = \\frac{z - \\mu}{\\sigma^2}$.\n\n"
               "$$\\mathbb{E}_{q_\\mu}\\left[z^2\\right] = \\mu^2 + \\sigma^2$$\n")
    assert {str(d): str(f) for d, f in sub.context.families.items()} == {"q(z)": "N(z; mu, sigma**2)"}
    assert [str(m.expr) for ch in sub.chains for m in ch.lines] == [
        "Derivative(log(q(z)), mu)", "(-mu + z)/sigma**2", "E[z ~ q(z)](z**2)", "mu**2 + sigma**2"]


def test_without_such_a_declaration_a_subscripted_letter_stays_what_it_was():
    # q_mu(x), a network output (cs4641)
    sub = read("The encoder outputs $\\mu = q_\\mu(x)$.\n\n$$q_\\mu(x) + q_\\mu(x) = 2 q_\\mu(x)$$\n")
    assert "q" not in sub.context.parameters
    assert [str(m.expr) for m in sub.chains[-1].lines] == ["2*q_mu(x)", "2*q_mu(x)"]


@pytest.mark.parametrize("score, verdict", [("\\frac{z - \\mu}{\\sigma^2}", "valid"),
                                            ("\\frac{\\mu - z}{\\sigma^2}", "invalid")])
def test_the_score_of_a_declared_density_with_its_parameter_as_subscript_is_decided(score, verdict):
    text = f"For $q_\\mu(z) = \\mathcal{{N}}(z; \\mu, \\sigma^2)$ the score is $\\nabla_\\mu \\log q_\\mu(z) = {score}$.\n"
    assert verdicts(grade(text)) == {1: [verdict]}
