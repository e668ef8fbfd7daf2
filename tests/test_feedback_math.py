"""Feedback speaks mathematics: LaTeX in Markdown outputs, readable plain math on the terminal.

Never the Python spelling of a term (sigma**2/2, Product(...), Integral(...), z[j]), numbers
rounded for a reader, the two sides of a failing step named by their lines.
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest
import sympy as sp

from elbo_proofs.grading.grader import _counterexample
from elbo_proofs.reports.grading_text import counterexample_md, counterexample_text
from elbo_proofs.terms import KL, Density, Expectation, Normal
from elbo_proofs.terms.printing import MathText, number, tidy, to_latex, to_plain

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "submissions"
PYTHON_SPELLING = re.compile(r"\*\*|\bProduct\(|\bSum\(|\bIntegral\(|\bDerivative\(|\bSymbol\(|\bIndexed|"
                             r"\b(?!(?:E|H|Var)\[)[A-Za-z]\w*\[[A-Za-z0-9_, +-]+\]")

j, D = sp.symbols("j D", integer=True)
z_, mu_, sigma_ = sp.IndexedBase("z"), sp.IndexedBase("mu"), sp.IndexedBase("sigma")
X, Z = sp.Symbol("X"), sp.Symbol("z")


def test_plain_and_latex_of_a_diagonal_gaussian():
    e = sp.Product(Normal(z_[j], mu_[j], sigma_[j] ** 2), (j, 1, D))
    assert to_plain(e) == "prod_{j=1}^{D} (N(z_j; mu_j, sigma_j^2))"
    assert to_latex(e) == r"\prod_{j=1}^{D} \mathcal{N}(z_{j}; \mu_{j}, \sigma_{j}^{2})"


def test_student_names_are_kept():
    P, Q = Density("P", (X,), (Z,)), Density("Q", (Z,), (X,))
    assert to_plain(sp.log(P)) == "log(P(X | z))"
    assert to_latex(KL(Q, Density("P", (Z,), (X,)))) == r"\mathrm{KL}\left(Q(z \mid X) \,\|\, P(z \mid X)\right)"
    assert to_latex(sp.Symbol("q_phi")) == r"q_{\phi}"
    assert to_latex(sp.Symbol("x_hat")) == r"\hat{x}"
    assert to_latex(sp.Symbol("eps")) == r"\epsilon"
    assert to_plain(sp.Symbol("sigma", positive=True) ** 2 / 2) == "sigma^2/2"
    e = Expectation(sp.log(Q) - sp.log(P), Z, Q)
    assert to_plain(e).startswith("E_{z ~ Q(z | X)}[")
    assert to_latex(e).startswith(r"\mathbb{E}_{z \sim Q(z \mid X)}")


@pytest.mark.parametrize("value,shown", [(-1.066e-14, "0"), (0.3989422804014327, "0.3989"), (1.8378770664093063, "1.838"),
                                         (3.0, "3"), (-2.5, "-2.5"), (123456789.0, "1.235*10^8"),
                                         (float("nan"), "undefined")])
def test_numbers_are_rounded_and_noise_is_zero(value, shown):
    assert number(value) == shown


def test_math_text_has_both_forms_and_survives_pickling():
    m = MathText("the term ", sp.Symbol("sigma", positive=True) ** 2 / 2, " is missing")
    assert str(m) == "the term sigma^2/2 is missing"
    assert m.md == r"the term $\frac{\sigma^{2}}{2}$ is missing"
    back = pickle.loads(pickle.dumps(m))
    assert str(back) == str(m) and back.md == m.md


def test_tidy_rewrites_printed_terms_but_not_quoted_student_text():
    assert tidy("q(z) ~ Product(N(z[j]; mu[j], sigma[j]**2), (j, 1, k))") == \
        "q(z) ~ prod_{j=1}^{k} N(z_j; mu_j, sigma_j^2)"
    assert tidy("Integral(q(z)*log(q(z)), z)") == "int q(z)*log(q(z)) dz"
    assert tidy("'\\mathbb{E}[x]' is a range") == "'\\mathbb{E}[x]' is a range"
    assert tidy("variance as E[f] - m") == "variance as E[f] - m"


class _Cx:
    values = {sp.Symbol("sigma", positive=True): 0.49999999999999994, "q(z) mean": -1.066e-14}
    lhs, rhs, model = -1.1010312051697997e-17, 1.8378770664093063, "Gaussian q"


class _V:
    counterexample = _Cx()


def test_counterexample_names_sides_by_lines_and_rounds():
    cx = _counterexample(_V(), 10, 11)
    assert cx["values"] == {"sigma": 0.5, "q(z) mean": 0.0}
    assert cx["lhs"] == 0.0 and cx["rhs"] == 1.838
    text = counterexample_text(cx)
    assert "line 10 is 0 but line 11 is 1.838" in text
    assert "left" not in text and "right" not in text and "e-" not in text
    md = counterexample_md(cx)
    assert r"$\sigma$ = 0.5" in md and "line 10 is 0" in md


def _feedback(results: list[dict]) -> list[str]:
    out = []
    for r in results:
        out += r.get("notes", []) + r.get("notes_md", []) + [r.get("score_explanation", "")]
        out += [x.get("reason", "") for x in r.get("needs_review", [])]
        for s in r["steps"]:
            out += [s.get("message", ""), s.get("message_md", ""), s.get("hint", ""), s.get("hint_md", "")]
            cx = s.get("counterexample")
            if cx:
                out += [counterexample_text(cx), counterexample_md(cx)]
    return [t for t in out if t]


def test_no_python_spelling_in_feedback_on_the_shared_submissions(capsys):
    from elbo_proofs.grading.commands import main as grade_main
    import json

    files = sorted(SHARED.glob("*.md")) if SHARED.exists() else []
    files = [f for f in files if f.name != "README.md"]
    if not files:
        pytest.skip("../shared/submissions is not present")
    grade_main([str(f) for f in files] + ["--format", "json", "--jobs", "0", "--examples", "15",
                                           "--time-limit", "3"])
    results = json.loads(capsys.readouterr().out)
    assert len(results) == 3
    texts = _feedback(results)
    assert len(texts) > 40
    bad = [t for t in texts if PYTHON_SPELLING.search(t.replace("$", " "))]
    assert bad == []
    by = {Path(r["path"]).name: r for r in results}
    wrong = [s for s in by["exercise3_slides.md"]["steps"] if s["verdict"] == "invalid"]
    assert wrong and wrong[0]["line"] == 93
    assert "$" in wrong[0]["message_md"] and "is flipped" in wrong[0]["message_md"]
    text = counterexample_text(wrong[0]["counterexample"])
    assert "line 76" in text and "line 93" in text
