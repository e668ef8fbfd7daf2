"""derivations/beta_vae.yaml: the beta-VAE objective is at most the ELBO, hence at most log p(x),
only under its assumption beta >= 1.  Variants of the shipped file with the assumption dropped,
turned around or replaced by beta < 1, or with the inequality turned around, are not proved: the
step L_beta <= ELBO is refuted by a model that the (changed) assumptions allow."""
from pathlib import Path

import pytest

from elbo_proofs.checking import Status, check_derivation
from elbo_proofs.parsing.derivation import parse_derivations

FILE = Path(__file__).resolve().parents[1] / "derivations" / "beta_vae.yaml"
TEXT = FILE.read_text()
ASSUMED = "assume:\n  - beta >= 1\n"
BOUND_STEP = "E[z ~ q(z|x)](log(p(x, z)) - log(q(z|x)))"   # the ELBO, reached by "<=" from L_beta


def check(text: str):
    return [check_derivation(d, examples=12) for d in parse_derivations(text, path="beta_vae.yaml")]


def _bound_verdict(results):
    """The result of the step from L_beta to the ELBO in the first chain."""
    (step,) = [s for s in results[0].steps if s.text == BOUND_STEP]
    assert step.relation in ("<=", ">=")
    return step


def test_the_shipped_file_states_its_assumption_and_is_proved():
    assert ASSUMED in TEXT
    results = check(TEXT)
    assert len(results) == 2
    for r in results:
        assert r.proved, r.reasons()
    bound = _bound_verdict(results)
    assert bound.verdict.status is Status.PROVED
    assert "assumed beta >= 1" in bound.verdict.certificate


@pytest.mark.parametrize("assume, low, high", [
    ("", 0.0, 1.0),                                  # dropped: beta is any positive number
    ("assume:\n  - beta <= 1\n", 0.0, 1.0),          # turned around
    ("assume:\n  - beta < 1\n", 0.0, 1.0),           # beta < 1 assumed
    ("assume:\n  - beta >= 1/2\n", 0.5, 1.0),        # weakened
], ids=["dropped", "turned-around", "below-one", "weakened"])
def test_without_beta_at_least_one_the_bound_is_refuted(assume, low, high):
    text = TEXT.replace(ASSUMED, assume)
    assert text != TEXT
    results = check(text)
    assert not results[0].proved
    bound = _bound_verdict(results)
    assert bound.verdict.status is Status.REFUTED, bound.verdict.message
    beta = bound.verdict.counterexample.values["beta"]
    assert low <= beta < high      # a counterexample the stated assumptions allow
    # the closed form with its Monte Carlo estimate holds for every beta
    assert results[1].proved, results[1].reasons()


def test_the_inequality_turned_around_is_refuted():
    step = f'      - expr: {BOUND_STEP}\n        rel: "<="\n'
    assert step in TEXT
    results = check(TEXT.replace(step, step.replace('"<="', '">="')))
    bound = _bound_verdict(results)
    assert bound.verdict.status is Status.REFUTED, bound.verdict.message
    assert bound.verdict.counterexample.values["beta"] > 1


def test_a_larger_assumed_beta_is_still_proved():
    results = check(TEXT.replace(ASSUMED, "assume:\n  - beta >= 4\n"))
    assert all(r.proved for r in results)
