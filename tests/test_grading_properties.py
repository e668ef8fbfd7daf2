"""Properties of the grader with the real checker: correct chains are never called wrong;
one planted sign flip is the first error, at its line, and the next right line is back on track."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_proofs.grading import GradeOptions, Grader
from elbo_proofs.grading.cache import StepCache

from test_grading_support import build

TERMS = ["log(p(x|z))", "log(p(z))", "log(q(z|x))", "mu^2", "sigma^2", "log(sigma)", "mu*sigma"]
OPTS = GradeOptions(examples=10, time_limit=3.0)
CACHE = StepCache()   # shared across examples: Hypothesis repeats terms a lot


@st.composite
def linear_chains(draw):
    """A sum of terms under E_q, written three equal ways; the terms and coefficients drawn."""
    idx = draw(st.lists(st.integers(0, len(TERMS) - 1), min_size=2, max_size=4, unique=True))
    coeffs = draw(st.lists(st.integers(-3, 3).filter(bool), min_size=len(idx), max_size=len(idx)))
    terms = [(c, TERMS[i]) for c, i in zip(coeffs, idx)]
    order = draw(st.permutations(range(len(terms))))
    return terms, list(order)


def _sum(terms):
    return " + ".join(f"({c})*{t}" for c, t in terms)


def _chain(terms, order, flip_at=None):
    inside = _sum(terms)
    shuffled = [terms[k] for k in order]
    lines = [
        (1, None, f"E[z ~ q(z|x)]({inside})"),
        (2, "=", " + ".join(f"({c})*E[z ~ q(z|x)]({t})" for c, t in terms)),
        (3, "=", " + ".join(f"E[z ~ q(z|x)](({c})*{t})" for c, t in shuffled)),
        (4, "=", f"E[z ~ q(z|x)]({_sum(shuffled)})"),
    ]
    if flip_at is not None:
        c, t = shuffled[0]
        rest = shuffled[1:]
        lines[flip_at - 1] = (flip_at, "=", f"E[z ~ q(z|x)]({_sum([(-c, t)] + rest)})")
    return lines


@settings(max_examples=8, deadline=None)
@given(linear_chains())
def test_correct_chains_are_never_called_wrong(chain):
    terms, order = chain
    r = Grader(OPTS, CACHE).grade_submission(build([("chain", _chain(terms, order))]))
    assert all(s.verdict != "invalid" for s in r.steps), [(s.line, s.message) for s in r.steps]
    assert r.first_error_line is None


@settings(max_examples=8, deadline=None)
@given(linear_chains(), st.sampled_from([2, 3]))
def test_a_planted_sign_flip_is_the_first_error_and_the_next_line_recovers(chain, flip_at):
    terms, order = chain
    r = Grader(OPTS, CACHE).grade_submission(build([("chain", _chain(terms, order, flip_at))]))
    by = {s.line: s for s in r.steps}
    assert r.first_error_line == flip_at, [(s.line, s.verdict, s.message) for s in r.steps]
    assert by[flip_at].verdict == "invalid"
    assert by[flip_at + 1].verdict == "valid" and by[flip_at + 1].back_on_track
