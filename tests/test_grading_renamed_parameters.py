"""A name the author gives a parameter of a declared family (mu_d for the components of a
decoder mean declared as mu_theta(z)) is one plausible reading among two: a step that only a
free value of that name refutes is left for a person, never called wrong.  A wrong step in
the declared names is still found."""
from __future__ import annotations

import pytest

from elbo_proofs.grading import GradeOptions, grade_file

OPTS = GradeOptions(examples=12, time_limit=5.0)

DECLARATION = (r"Let the decoder be $p_\theta(\mathbf{x}|\mathbf{z}) = \mathcal{N}(\mathbf{x}; "
               r"\boldsymbol{\mu}_\theta(\mathbf{z}), \sigma^2 I)$ with $\mathbf{x} \in \mathbb{R}^D$." "\n\n")


def _grade(tmp_path, body):
    path = tmp_path / "decoder.md"
    path.write_text(DECLARATION + body)
    return {s.line: s for s in grade_file(path, OPTS).steps}


@pytest.mark.parametrize("name", [r"\mu_d", r"m_d", r"\hat{x}_d"])
def test_the_authors_name_for_a_declared_mean_is_not_a_false_alarm(tmp_path, name):
    body = ("$$\n\\begin{aligned}\n"
            r"\log p_\theta(\mathbf{x}|\mathbf{z}) &= \sum_{d=1}^{D} \log \mathcal{N}(x_d; " + name + r", \sigma^2) \\" "\n"
            r"&= \sum_{d=1}^{D} \left( -\frac{1}{2}\log(2\pi\sigma^2) - \frac{(x_d - " + name + r")^2}{2\sigma^2} \right)"
            "\n\\end{aligned}\n$$\n")
    steps = _grade(tmp_path, body)
    assert steps, "the chain is read"
    assert all(s.verdict != "invalid" for s in steps.values()), {k: (s.verdict, s.message) for k, s in steps.items()}
    first = steps[min(steps)]
    assert first.verdict == "unverified" and "does not define" in str(first.message)
    # the next step, in the author's names on both sides, is checked and holds
    assert steps[max(steps)].verdict == "valid"


def test_a_wrong_step_in_the_authors_names_is_still_found(tmp_path):
    body = ("$$\n\\begin{aligned}\n"
            r"\log p_\theta(\mathbf{x}|\mathbf{z}) &= \sum_{d=1}^{D} \log \mathcal{N}(x_d; \mu_d, \sigma^2) \\" "\n"
            r"&= \sum_{d=1}^{D} \left( -\log(2\pi\sigma^2) - \frac{(x_d - \mu_d)^2}{2\sigma^2} \right)"
            "\n\\end{aligned}\n$$\n")
    steps = _grade(tmp_path, body)
    assert steps[max(steps)].verdict == "invalid"
