"""The submission reader: files to chains, declarations and definitions.

The three shared student submissions are read into the chains a grader needs,
with the right line numbers and relations; small texts pin down each rule.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

from elbo_proofs.errors import InputError
from elbo_proofs.checking import AssumptionChecker
from elbo_proofs.parsing.submission import Chain, MathLine, Submission, read_submission, read_submission_text
from elbo_proofs.terms import KL, Density, Normal

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "submissions"
R = dict(real=True)
# as the grader reads: the checker decides the algebra of assumptions a step reveals
ASSUMPTIONS = AssumptionChecker()
z, x = sp.Symbol("z", **R), sp.Symbol("x", **R)


def shared(name):
    p = SHARED / name
    if not p.exists():
        pytest.skip(f"{p} is not present")
    return read_submission(p, assumptions=ASSUMPTIONS)


def lines(chain):
    return [m.line for m in chain.lines]


def rels(chain):
    return [m.relation for m in chain.lines]


def chain_at(sub, line):
    found = [c for c in sub.chains if c.lines[0].line == line]
    assert found, [lines(c) for c in sub.chains]
    return found[0]


def read(text):
    return read_submission_text(text, assumptions=ASSUMPTIONS)


# -- the shared submissions ----------------------------------------------------------
def test_exercise3_slides_collapse_into_one_chain_per_derivation():
    sub = shared("exercise3_slides.md")
    a = chain_at(sub, 28)
    assert lines(a) == [28, 28, 103, 37, 48, 61, 76, 93, 95, 115]
    assert rels(a) == [None] + ["="] * 9
    assert all(m.expr is not None for m in a.lines)
    assert isinstance(a.lines[0].expr, KL)
    # the sign error of line 93 and the correction of line 95 are distinct lines
    assert a.lines[7].expr != a.lines[8].expr
    b = chain_at(sub, 132)
    assert lines(b) == [132, 132, 143, 154, 167] and b.kind == "chain"
    # the two "Show:" statements are standalone claims
    assert chain_at(sub, 21).kind == "claim" and chain_at(sub, 125).kind == "claim"
    # every line appears in exactly one chain
    seen = [(m.line, m.latex) for c in sub.chains for m in c.lines]
    assert len(seen) == len(set(seen))


def test_exercise3_counterfactual_proof_is_never_read_as_terms():
    sub = shared("exercise3_slides.md")
    late = [m for c in sub.chains for m in c.lines if m.line >= 178]
    assert late and all(m.expr is None and m.error for m in late)
    assert any("transpose" in m.error for m in late if m.line == 184)


def test_cs4641_chains_relations_and_context():
    sub = shared("cs4641_appendix.md")
    heads = [c.lines[0].line for c in sub.chains]
    assert heads[:6] == [15, 25, 29, 37, 53, 63]
    bayes = chain_at(sub, 15)
    assert bayes.kind == "claim" and all(m.expr is not None for m in bayes.lines)
    assert len(chain_at(sub, 25).lines) == 6
    assert rels(chain_at(sub, 29)) == [None, "<="]
    assert rels(chain_at(sub, 63)) == [None, "~=", "="]
    final = chain_at(sub, 79)
    assert rels(final) == [None, "~="]  # a Monte Carlo average written with '='
    ctx = sub.context
    q = Density("q", (z,), (x,))
    assert q in ctx.families and isinstance(ctx.families[q], sp.Product)
    assert Density("p", (z,)) in ctx.families
    assert {"z", "eps"} <= set(ctx.samples)
    assert "x_hat" in ctx.functions and ctx.kinds["x_hat"] == "probability"
    L = ctx.symbols["L"]
    assert L in sub.definitions and L != ctx.symbols.get("L_plain")
    # log(sigma_j^{(i)})^2 is log(sigma_j^2)
    kl = chain_at(sub, 53).lines[1].expr
    assert any(isinstance(a, sp.log) and a.args[0].is_Pow for a in kl.atoms(sp.log))


def test_csc421_chains_comments_tags_and_definitions():
    sub = shared("csc421_hw5.md")
    a = chain_at(sub, 17)
    assert lines(a) == [17, 17, 18, 19, 20, 21, 22, 23]
    assert all(m.expr is not None for m in a.lines)
    assert "#" not in a.lines[4].latex and "Bayes" not in a.lines[4].latex
    assert all("tag" not in m.latex for c in sub.chains for m in c.lines)
    assert lines(chain_at(sub, 40))[-1] == 51
    grad = chain_at(sub, 80)
    assert grad.lines[-1].line == 84 and "since" not in grad.lines[-1].latex
    assert grad.lines[-1].expr == sp.Symbol("mu", **R)
    names = {getattr(k, "name", "") for k in sub.definitions}
    assert {"F", "t_bar", "r_bar", "s_bar"} <= names
    # the adjoint line with derivatives of undefined r, s is not read as terms
    assert chain_at(sub, 62).lines[1].expr is None
    # the substitutions of part (c) reveal the Gaussian q and p, and (d) the reparameterization
    assert any("q(z) = N(z; mu, sigma**2)" in n for n in sub.notes)
    assert sp.Symbol("z", **R) in sub.context.lets
    assert sub.chains[-1].lines[-1].expr is not None


# -- blocks, rows and relations ------------------------------------------------------------
def test_aligned_chain_and_relations():
    sub = read("$$\\begin{aligned} a &= b \\\\ &\\leq c \\\\ &\\approx d \\\\ &> e \\end{aligned}$$")
    (c,) = sub.chains
    assert [m.latex for m in c.lines] == ["a", "b", "c", "d", "e"]
    assert rels(c) == [None, "=", "<=", "~=", ">="]
    assert c.kind == "chain"


@pytest.mark.parametrize("text", [
    "\\[ a = b \\]\n\n\\[ = c \\]",
    "$$a = b$$\n\nsome words\n\n$$= c$$",
    "\\begin{align*}\na &= b \\\\\n  &= c\n\\end{align*}",
    "\\begin{eqnarray} a &=& b \\\\ &=& c \\end{eqnarray}",
    "$$\\begin{split} a &= b \\\\ &= c \\end{split}$$",
    "$$\\begin{gathered} a = b \\\\ = c \\end{gathered}$$",
    "$$a$$\n$$= b$$\n$$= c$$",
])
def test_block_forms_continue_a_chain(text):
    sub = read(text)
    assert [[m.latex for m in c.lines] for c in sub.chains] == [["a", "b", "c"]]


def test_line_numbers_are_where_each_row_starts():
    text = "intro\n\n$$\\begin{aligned}\nA &= B \\\\\n&= C\n\\end{aligned}$$\n"
    (c,) = read(text).chains
    assert lines(c) == [4, 4, 5]


def test_tags_labels_comments_and_punctuation_are_dropped():
    text = ("$$a = b + 1 \\tag{3}\\label{eq:x} \\\\ = c \\quad \\# \\text{since } d = 0 \\\\"
            " \\stackrel{(a)}{=} e \\text{ \\#Bayes' Rule} \\\\ \\overset{\\text{def}}{=} f.$$")
    (c,) = read(text).chains
    assert [m.latex for m in c.lines] == ["a", "b + 1", "c", "e", "f"]
    assert all(m.expr is not None for m in c.lines)


def test_equation_numbers_are_not_math():
    sub = read("$$a = b$$\n(1)\n\n$$(7)$$\n")
    assert len(sub.chains) == 1 and len(sub.chains[0].lines) == 2


def test_standalone_claims_inline_and_display():
    sub = read("and so $\\mathcal{L} \\leq \\log p(x)$ holds.\n\n$$p(z|x) = \\frac{p(x|z)p(z)}{p(x)}$$")
    assert [c.kind for c in sub.chains] == ["claim", "claim"]
    assert rels(sub.chains[0]) == [None, "<="]


def test_repeated_left_side_gives_separate_claims():
    sub = read("$$\\begin{aligned} a &= b \\\\ a &= c \\end{aligned}$$")
    assert [[m.latex for m in c.lines] for c in sub.chains] == [["a", "b"], ["a", "c"]]


def test_unparsable_math_is_a_line_with_an_error():
    sub = read("$$\\log p(x) = x + * 1 \\\\ = \\mathcal{O}(h) \\\\ = x^T y \\\\ = \\log p(x)$$")
    (c,) = sub.chains
    assert [m.expr is None for m in c.lines] == [False, True, True, True, False]
    for m in c.lines[1:4]:
        assert isinstance(m.error, str) and "\n" not in m.error and m.error
    assert isinstance(c.lines[0], MathLine) and isinstance(c, Chain)


def test_unsupported_relations_are_noted_not_read():
    sub = read("$$a \\neq b$$\n$$c \\propto d$$")
    assert sub.chains == [] and len(sub.notes) == 2


# -- declarations --------------------------------------------------------------------------
def test_declarations_fill_the_context_and_are_not_claims():
    text = (
        "Let $q(z|x) \\sim \\mathcal{N}(\\mu, \\sigma^2)$ and $p(z) = \\mathcal{N}(z; 0, I)$, "
        "where $\\epsilon \\sim N(0, 1)$ and let $a = \\mu + 1$.\n\n"
        "$$z = \\mu + \\sigma \\odot \\epsilon$$\n\n"
        "$$D_{KL}(q(z|x) \\| p(z)) = \\frac{1}{2}(\\mu^2 + \\sigma^2 - \\log \\sigma^2 - 1)$$\n"
    )
    sub = read(text)
    ctx = sub.context
    sigma, mu, eps = sp.Symbol("sigma", real=True, positive=True), sp.Symbol("mu", **R), sp.Symbol("eps", **R)
    assert ctx.families[Density("q", (z,), (x,))] == Normal(z, mu, sigma ** 2)
    assert ctx.families[Density("p", (z,))] == Normal(z, 0, 1)
    assert ctx.randoms[eps] == Normal(eps, 0, 1)
    assert ctx.lets[z] == mu + sigma * eps
    assert sub.definitions[ctx.symbols["a"]] == mu + 1
    assert len(sub.chains) == 1 and sub.chains[0].kind == "claim"


def test_samples_and_decoder_outputs():
    text = ("If $z^{(1)}, \\dots, z^{(L)}$ are L samples from $q(z|x)$ and "
            "$$\\hat{x}_j = \\mathbb{P}(x_j = 1, z)$$ then\n\n"
            "$$\\mathbb{E}_{q(z|x)}[\\log p(x|z)] \\approx \\frac{1}{L}\\sum_{l=1}^L \\log p(x|z^{(l)})$$")
    sub = read(text)
    ctx = sub.context
    assert ctx.samples["z"][2] == Density("q", (z,), (x,))
    assert ctx.functions["x_hat"] == (z,) and ctx.kinds["x_hat"] == "probability"
    assert rels(sub.chains[0]) == [None, "~="]


def test_chain_head_naming_a_new_quantity_is_a_definition():
    sub = read("$$\\mathcal{L} = \\mathbb{E}_{q(z|x)}[\\log p(x, z) - \\log q(z|x)] \\\\ "
               "= \\mathbb{E}_{q(z|x)}[\\log p(x|z)] - D_{KL}(q(z|x) \\| p(z))$$")
    L = sub.context.symbols["L"]
    assert sub.definitions[L] == sub.chains[0].lines[1].expr


def test_family_read_off_a_substitution():
    text = ("$$D_{KL}(q(z)||p(z)) = \\int q(z)\\log \\frac{q(z)}{p(z)}dz \\\\ "
            "= \\int q(z)\\log \\frac{\\frac{1}{\\sqrt{2\\pi}\\sigma} \\exp(-\\frac{(z-\\mu)^2}{2\\sigma^2})}"
            "{\\frac{1}{\\sqrt{2\\pi}} \\exp(-\\frac{z^2}{2})} dz$$")
    sub = read(text)
    head = sub.chains[0].lines[0].expr
    sigma, mu = sp.Symbol("sigma", real=True, positive=True), sp.Symbol("mu", **R)
    assert head == KL(Normal(z, mu, sigma ** 2), Normal(z, 0, 1))


# -- files ----------------------------------------------------------------------------------
def test_unreadable_files_raise_input_error(tmp_path):
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"\xff\xfe\x00 not utf-8 \xc3")
    with pytest.raises(InputError):
        read_submission(bad)
    with pytest.raises(InputError):
        read_submission(tmp_path / "missing.md")
    big = tmp_path / "big.md"
    big.write_text("x" * 1_100_000)
    with pytest.raises(InputError):
        read_submission(big)


def test_plain_text_and_tex_files(tmp_path):
    f = tmp_path / "a.tex"
    f.write_text("\\section*{P}\n% a comment $x$\n\\begin{align*}\na &= b % note\n\\end{align*}\n")
    sub = read_submission(f)
    assert isinstance(sub, Submission) and sub.path == str(f)
    assert [[m.latex for m in c.lines] for c in sub.chains] == [["a", "b"]]
    g = tmp_path / "b.txt"
    g.write_text("no math here at all\n")
    assert read_submission(g).chains == []


def test_where_with_a_non_name_left_side_is_a_claim():
    sub = read("where $\\mathbb{E}_{\\epsilon}[\\epsilon] = 0$ and let $b = 2$.")
    assert len(sub.chains) == 1 and sub.chains[0].kind == "claim"
    assert sub.definitions == {sub.context.symbols["b"]: 2}


def test_a_name_used_as_a_number_is_not_kept_as_a_vector():
    text = ("$$E_q[\\sum_{i=1}^D \\log q_i(z_i)] = \\sum_{i=1}^D E_q[\\log q_i(z_i)]$$\n\n"
            "$$\\int q(z)(z-\\mu)^2 dz = \\sigma^2$$\n")
    sub = read(text)
    assert "z" not in sub.context.vectors
    assert any("used as a number" in n for n in sub.notes)


def test_declared_vector_families_keep_their_vectors():
    text = ("Let $q(z|x) = \\prod_{j=1}^d \\mathcal{N}(z_j; \\mu_j, \\sigma_j^2)$.\n\n"
            "$$\\mathbb{E}_{q(z|x)}[z_1] = \\mu_1$$\n")
    sub = read(text)
    assert "z" in sub.context.vectors and "mu" in sub.context.vectors
    fam = sub.context.families[Density("q", (z,), (x,))]
    assert isinstance(fam, sp.Product) and isinstance(fam.function, Normal)


def test_a_word_starting_a_row_names_a_quantity_and_later_words_are_remarks():
    sub = read("$$\\text{ELBO} = \\mathbb{E}_{q(z|x)}[\\log p(x|z)] - D_{KL}(q(z|x) \\| p(z)) \\text{ by definition}$$")
    (c,) = sub.chains
    assert c.lines[0].expr == sub.context.symbols["ELBO"]
    assert "definition" not in c.lines[1].latex
    assert sub.context.symbols["ELBO"] in sub.definitions


def test_tex_comments_are_not_math(tmp_path):
    f = tmp_path / "c.tex"
    f.write_text("\\begin{document}\n% old: $x = y$\nprice \\$5 and $a$.\n$$a = b$$\n\\end{document}\n")
    sub = read_submission(f)
    assert [[m.latex for m in c.lines] for c in sub.chains] == [["a", "b"]]
    assert list(sub.definitions) == [sub.context.symbols["a"]] and "% old" in sub.text


def test_bare_p_in_a_kl_is_the_p_over_the_variable_of_the_other_side():
    sub = read("$$\\log p(x) = \\log p(x)$$\n\n$$\\mathcal{L} = \\mathbb{E}_{q(z|x)}[\\log p(x|z)] - \\mathrm{KL}(q \\| p)$$\n\n"
               "with $p(z)$ the prior.")
    kl = [a for a in sub.chains[1].lines[1].expr.atoms(KL)][0]
    assert kl == KL(Density("q", (z,), (x,)), Density("p", (z,)))


def test_a_repeat_that_branches_off_becomes_its_own_chain():
    sub = read("$$h = a \\\\ = b \\\\ = c$$\n\n$$h = a \\\\ = d$$")
    assert [[m.latex for m in c.lines] for c in sub.chains] == [["h", "a", "b", "c"], ["a", "d"]]
    assert [m.line for m in sub.chains[1].lines] == [1, 3]


def test_prose_words_and_intertext_are_remarks():
    sub = read("$$\\begin{align} a &= b \\\\ \\intertext{and hence} &= c \\\\ "
               "\\text{so } d &\\leq e \\end{align}$$")
    assert [[m.latex for m in c.lines] for c in sub.chains] == [["a", "b", "c"], ["d", "e"]]


def test_html_comments_in_markdown_are_not_math():
    sub = read("<!-- draft:\n$$a = c$$\n-->\n$$a = b$$\n")
    assert [[(m.line, m.latex) for m in c.lines] for c in sub.chains] == [[(4, "a"), (4, "b")]]


@pytest.mark.parametrize("decl", [
    "$z^{(l)} \\sim q(z|x)$", "$z_1, \\dots, z_L \\sim q(z|x)$", "$z^{(1)}, \\ldots, z^{(L)}$ are samples from $q(z|x)$",
])
def test_sample_declaration_forms(decl):
    sub = read(f"Let {decl}.\n\n$$\\mathbb{{E}}_{{q(z|x)}}[\\log p(x|z)] \\approx "
               "\\frac{1}{L}\\sum_{l=1}^L \\log p(x|z^{(l)})$$")
    ctx = sub.context
    idx, var, dist = ctx.samples["z"]
    assert idx.name == "l" and var == z and dist == Density("q", (z,), (x,))
    assert ctx.indices["l"][2] == ctx.symbols["L"]
    assert rels(sub.chains[0]) == [None, "~="]


def test_a_word_in_math_position_is_a_name():
    sub = read("so $\\log p(x) \\geq \\text{ELBO}$.\n\n$$a = b \\text{ where } b = 1$$")
    assert [[m.latex for m in c.lines] for c in sub.chains] == [["\\log p(x)", "\\text{ELBO}"], ["a", "b"]]
    assert sub.chains[0].lines[1].expr == sub.context.symbols["ELBO"]


def test_model_parameters_are_not_defined_by_chain_heads():
    sub = read("Let $q(z) = \\mathcal{N}(z; \\mu, \\sigma^2)$.\n\n$$\\mu = 0$$\n\n$$t = \\mu + 1$$")
    names = {k.name for k in sub.definitions}
    assert "mu" not in names and "t" in names


def test_let_does_not_define_a_model_parameter():
    sub = read("where $\\mu = 0$ and $q(z) \\sim \\mathcal{N}(\\mu, 1)$, and let $t = 2$.")
    assert {k.name for k in sub.definitions} == {"t"}


def test_statements_in_one_row_and_numbers_after_quad():
    sub = read("$$z = \\mu + \\sigma\\epsilon, \\quad \\epsilon \\sim N(0, 1)$$\n\n$$a = b \\qquad (3)$$\n\n"
               "$$c = d; \\; e \\leq f$$")
    eps = sp.Symbol("eps", **R)
    assert sub.context.randoms[eps] == Normal(eps, 0, 1) and z in sub.context.lets
    assert [[m.latex for m in c.lines] for c in sub.chains] == [["a", "b"], ["c", "d"], ["e", "f"]]


def test_sum_limits_are_the_same_positive_integer_everywhere():
    sub = read("Let $q(z|x) \\sim \\mathcal{N}(\\mu, \\sigma^2)$.\n\n"
               "$$D_{KL}(q(z|x) \\| p(z)) = \\frac{1}{2}\\sum_{j=1}^{J}(\\mu_j^2 + \\sigma_j^2 - \\log \\sigma_j^2 - 1)$$")
    ctx = sub.context
    J = ctx.symbols["J"]
    assert J.is_integer and J.is_positive
    fam = ctx.families[Density("q", (z,), (x,))]
    assert fam.limits[0][2] == J
    s = [a for a in sub.chains[0].lines[1].expr.atoms(sp.Sum)][0]
    assert s.limits[0][2] == J


def test_inline_ranges_and_conditions_are_not_claims():
    sub = read("for $j = 1, \\dots, d$ and $l = 1..L$, the probability that $x_j = 1$ is high; "
               "if $a = b$ then so $c \\leq d$.")
    assert [[m.latex for m in c.lines] for c in sub.chains] == [["c", "d"]]


def test_a_row_over_several_lines_gives_each_expression_its_line():
    (c,) = read("$$\n\\log p(x) = \\mathbb{E}_{q(z|x)}[\\log p(x)]\n  = \\mathbb{E}_{q(z|x)}[\\log p(x, z) - \\log p(z|x)]\n$$").chains
    assert lines(c) == [2, 2, 3]


def test_reader_decides_no_algebra_itself():
    """A step replacing an undeclared density by a Gaussian formula reveals q(z) = N(z; mu, sigma^2) only
    when the checker's AssumptionChecker says the formula is that density; the reader alone infers nothing."""
    text = ("$$\\log q(z) = \\log \\left( \\frac{1}{\\sqrt{2\\pi}\\sigma} "
            "\\exp\\left(-\\frac{(z-\\mu)^2}{2\\sigma^2}\\right) \\right)$$\n")
    alone = read_submission_text(text)
    assert not any("read as the assumption" in n for n in alone.notes)
    judged = read_submission_text(text, assumptions=ASSUMPTIONS)
    assert any("read as the assumption" in n and "q(z) = N(z; mu, sigma**2)" in n for n in judged.notes), \
        judged.notes


def test_assumption_checker_answers():
    mu, sigma = sp.Symbol("mu", real=True), sp.Symbol("sigma", positive=True)
    q = Density("q", (z,))
    gauss = sp.exp(-(z - mu) ** 2 / (2 * sigma ** 2)) / sp.sqrt(2 * sp.pi * sigma ** 2)
    assert ASSUMPTIONS.family(q, gauss) == Normal(z, mu, sigma ** 2)
    assert ASSUMPTIONS.family(q, 2 * gauss) is None          # not normalized: no density of the family
    assert ASSUMPTIONS.family(q, sp.exp(-z)) is None
    eps = sp.Symbol("epsilon", real=True)
    assert ASSUMPTIONS.substitution_holds(z ** 2, z, mu + sigma * eps, mu ** 2 + 2 * mu * sigma * eps + sigma ** 2 * eps ** 2)
    assert not ASSUMPTIONS.substitution_holds(z ** 2, z, mu + sigma * eps, mu ** 2 + sigma ** 2 * eps ** 2)


def test_a_letter_declared_a_distribution_names_the_density_written_with_it():
    text = ("Let $P = \\mathcal{N}(\\mu_1, \\sigma_1^2)$ (density $P(x)$).\n\n"
            "$$D_{KL}(P \\| Q) = \\int P(x) \\log \\frac{P(x)}{Q(x)} dx$$\n")
    sub = read(text)
    fam = sub.context.families[Density("P", (x,))]
    assert isinstance(fam, Normal) and fam.x == x and str(fam.mean) == "mu_1" and str(fam.var) == "sigma_1**2"
    # a letter with no density written with it stays what it was
    assert not any(d.name == "T" for d in read("Let $T = \\mathcal{N}(0, 1)$.\n\n$$a = b$$\n").context.families)


def test_a_normal_written_with_a_bar_and_a_density_given_by_a_formula():
    sub = read("Let \\(q(z) = \\mathcal{N}(z \\mid \\mu, \\sigma^2)\\) and "
               "$p(x|z) = \\prod_{j=1}^{D} m_j^{x_j}(1 - m_j)^{1 - x_j}$.\n\n$$a = b$$\n")
    sigma, mu = sp.Symbol("sigma", real=True, positive=True), sp.Symbol("mu", **R)
    assert sub.context.families[Density("q", (z,))] == Normal(z, mu, sigma ** 2)
    (formula,) = [v for k, v in sub.definitions.items() if k == Density("p", (x,), (z,))]
    assert isinstance(formula, sp.Product)


def test_a_mixture_in_prose_and_a_named_family_of_quantities_are_definitions():
    text = ("A mixture $p(x) = \\sum_{k=1}^{K}\\pi_k\\mathcal{N}(x|m_k, s_k^2)$. The responsibilities are\n\n"
            "$$r_k = p(z = k|x) = \\frac{\\pi_k\\mathcal{N}(x|m_k, s_k^2)}{\\sum_{j=1}^{K}\\pi_j\\mathcal{N}(x|m_j, s_j^2)}$$\n\n"
            "$$\\sum_{j=1}^{K} r_j = 1$$\n")
    sub = read(text)
    defs = {str(k): v for k, v in sub.definitions.items()}
    assert isinstance(defs["p(x)"], sp.Sum)
    # r_k is defined by the first right side that can be read, for every index of the text
    assert "r[k]" in defs and "r[j]" in defs
    assert {s.name for s in defs["r[k]"].free_symbols} >= {"k"}
    assert "j" in {s.name for s in defs["r[j]"].free_symbols} and "k" not in {s.name for s in defs["r[j]"].free_symbols}
    # the unreadable middle line says what was not read
    (unread,) = [m for c in sub.chains for m in c.lines if m.expr is None]
    assert "fixed to a value ('z = k')" in unread.error
    # p(x) = \sum_z p(x, z) is a claim (a sum of densities, not of named families)
    claim = read("Since $p(x) = \\sum_{z} p(x, z)$, we have\n\n$$a = b$$\n")
    assert len(claim.chains) == 2


def test_a_parameter_shown_later_in_the_text_holds_for_the_lines_before(tmp_path):
    """q_theta written after the gradient that uses the bare q: the reader knows it from the start."""
    from elbo_proofs.parsing.submission import read_submission

    p = tmp_path / "order.md"
    p.write_text("The gradient:\n\n$$\\nabla_\\theta \\mathbb{E}_{q}[f(z)] = 0$$\n\nwhere the density is "
                 "$q_\\theta(z)$.\n")
    sub = read_submission(p)
    assert {k: [t.name for t in v] for k, v in sub.context.parameters.items()} == {"q": ["theta"]}
    (line,) = [m for ch in sub.chains for m in ch.lines if m.expr is not None and m.expr.has(sp.Derivative)]
    assert line.line == 3
