"""Random text built from LaTeX fragments: the reader always ends in a Submission
(math it cannot read is a MathLine with an error), the expression parser only
ever raises InputError, and both stay within a time limit."""
from __future__ import annotations

import time
from pathlib import Path

import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elbo_proofs.errors import InputError
from elbo_proofs.parsing.latex_parser import LatexEnv, parse_latex
from elbo_proofs.parsing.submission import Submission, read_submission_text

FRAGMENTS = [
    "x", "z", "\\mu", "\\sigma", "\\epsilon", "2", "0.5", "+", "-", "*", "/", "^", "_", "^2", "_j", "_{j}",
    "^{(i)}", "^{(i,l)}", "(", ")", "[", "]", "{", "}", "\\left(", "\\right)", "\\left[", "\\right]",
    "=", "&=", "\\leq", "\\geq", "\\approx", "<", ">", "\\sim", "\\\\", "&", ",", ";", "|", "||", "\\|",
    "\\log", "\\ln", "\\exp", "e^{", "\\frac{", "}{", "\\sqrt{", "\\sum_{j=1}^{d}", "\\sum_d", "\\prod_{i=1}^D",
    "\\int", "\\int_z", "dz", "\\,", "\\quad", "\\mathbb{E}", "E_q", "\\mathbb{E}_{z \\sim q(z|x)}", "E_{\\epsilon}",
    "D_{KL}", "KL", "\\mathrm{KL}", "D_{\\text{KL}}", "q(z|x)", "p(x, z)", "p_\\theta(x|z)", "Q(z|X)", "P(X)",
    "\\mathcal{N}(z; \\mu, \\sigma^2)", "\\mathcal{N}(0, I)", "\\mathcal{L}", "\\mathcal{O}", "\\hat{x}_j",
    "\\bar{z}", "\\mathbf{x}", "\\odot", "\\cdot", "\\circ", "^T", "\\frac{\\partial}{\\partial \\mu}",
    "\\frac{\\partial g}{\\partial z}", "\\text{Var}(z)", "Var[\\epsilon]", "\\text{ \\#note}", "\\#", "\\tag{1}",
    "\\label{a}", "\\stackrel{(a)}{=}", "\\begin{aligned}", "\\end{aligned}", "\\begin{align*}", "\\end{align*}",
    "\\nabla", "\\dots", "\\unknown", "g(z)", "F(q)", "0^2", "10^{99}", "\\infty", "\\pi", "H(q(z))", " ", "  ",
    "\\underbrace{", "}_{\\text{note}}", "\\boxed{", "\\textcolor{red}{", "\\mathop{", "\\text{ELBO}", "\\text{so }",
    "\\intertext{and}", "μ", "σ", "≤", "z^{(1)}", "z^{(l)} \\sim q(z|x)", "\\sigma^2_j", "\\sum^{N}_{i=1}",
]
TEXT = ["$$", "$", "\\[", "\\]", "\n", "\n\n", "(1)", "Let ", " where ", " samples from ", " and ", "so ",
        "```", "%", "be a standard normal", "# Title\n"]

fragment = st.sampled_from(FRAGMENTS)
expression = st.lists(fragment, max_size=25).map("".join)
document = st.lists(st.one_of(fragment, st.sampled_from(TEXT), st.text(max_size=8)), max_size=60).map("".join)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(expression)
def test_expression_parser_raises_only_input_error(text):
    start = time.monotonic()
    try:
        out = parse_latex(text, LatexEnv())
    except InputError as exc:
        assert exc.message and "\n" not in exc.message
    else:
        assert isinstance(out, sp.Basic)
    assert time.monotonic() - start < 5


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document)
def test_reader_always_ends_in_a_submission(text):
    start = time.monotonic()
    sub = read_submission_text(text)
    assert isinstance(sub, Submission)
    n_lines = text.count("\n") + 1
    for chain in sub.chains:
        assert chain.kind in ("chain", "claim") and len(chain.lines) >= 2
        assert chain.lines[0].relation is None
        for m in chain.lines[1:]:
            assert m.relation in ("=", "<=", ">=", "~=")
        for m in chain.lines:
            assert (m.expr is None) != (m.error is None)
            assert m.error is None or (m.error and "\n" not in m.error)
            assert 1 <= m.line <= n_lines
    assert time.monotonic() - start < 10


@FAST
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12).map("".join))
def test_math_blocks_of_fragments(body):
    sub = read_submission_text(f"$$\\begin{{aligned}} {body} &= {body} \\\\ &= x \\end{{aligned}}$$")
    assert isinstance(sub, Submission)


SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "submissions"
REAL = sorted(SHARED.glob("*.md")) if SHARED.exists() else []


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_damaged_real_submissions(data):
    if not REAL:
        return
    text = data.draw(st.sampled_from(REAL)).read_text()
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(text) - 1))
        j = min(len(text), i + data.draw(st.integers(0, 40)))
        text = text[:i] + data.draw(st.sampled_from(["", "$", "\\\\", "{", "}", "&=", "\\left(", "x"])) + text[j:]
    sub = read_submission_text(text)
    assert isinstance(sub, Submission)
    for chain in sub.chains:
        for m in chain.lines:
            assert (m.expr is None) != (m.error is None)
