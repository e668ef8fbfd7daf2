"""Every derivation shipped in derivations/ is proved, step by step and as a whole."""
from pathlib import Path

import pytest

from elbo_proofs.checking import Status, check_derivation
from elbo_proofs.parsing import load_derivations

DERIVATIONS = sorted((Path(__file__).resolve().parents[1] / "derivations").glob("*.yaml"))
REQUIRED = {"kl_gaussian", "kl_diag_gaussian", "kl_two_gaussians", "elbo_jensen", "elbo_decomposition", "iwae_bound",
            "kl_gradients_reparam", "bernoulli_decoder", "mc_estimator", "vae_elbo"}


def test_all_required_derivations_exist():
    assert REQUIRED <= {p.stem for p in DERIVATIONS}


@pytest.mark.parametrize("path", DERIVATIONS, ids=lambda p: p.stem)
def test_derivation_is_proved(path):
    for derivation in load_derivations(path):
        result = check_derivation(derivation, examples=12)
        bad = result.reasons()
        assert result.proved, f"{path.name}: {bad}"
        assert all(s.verdict.status is Status.PROVED for s in result.steps)
        assert result.goal is not None, "every shipped derivation states its goal"
        # the numeric cross-check ran (or says why it could not)
        for s in result.steps:
            assert s.verdict.method in ("symbolic+numeric", "symbolic")


def test_every_step_is_justified():
    for path in DERIVATIONS:
        for derivation in load_derivations(path):
            for step in derivation.steps[1:]:
                assert step.justification, f"{path.name} step {step.number} has no 'by:'"


def test_a_true_goal_is_not_proved_by_a_chain_with_a_refuted_step():
    from elbo_proofs.parsing.derivation import parse_derivation
    text = """\
title: right ends, wrong middle
symbols: {mu: real, sigma: positive}
distributions:
  q(z): N(z; mu, sigma^2)
  p(z): N(z; 0, 1)
goal: KL(q || p) = (mu^2 + sigma^2 - 1 - log(sigma^2))/2
steps:
  - expr: KL(q || p)
  - expr: mu^2 + sigma^2 - 1 - log(sigma^2)
  - expr: (mu^2 + sigma^2 - 1 - log(sigma^2))/2
"""
    result = check_derivation(parse_derivation(text), examples=12)
    assert [s.verdict.status for s in result.steps] == [Status.REFUTED, Status.REFUTED]
    assert result.goal.verdict.status is not Status.PROVED
    assert "step 2 is refuted" in result.goal.verdict.message
    assert not result.proved
