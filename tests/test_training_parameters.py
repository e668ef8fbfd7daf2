"""Values for the declared scalar parameters of a proved objective (train --set NAME=VALUE, --NAME VALUE).

Which names can be set and which values they take comes from the derivation's declarations: its
kinds and its assumptions, never the spelling of a name. These tests need no torch; the compiled
beta-VAE objective and a short training run are in test_training_beta_vae.py.
"""
from fractions import Fraction
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_proofs.parsing import load_derivations
from elbo_proofs.parsing.derivation import parse_derivations
from elbo_proofs.training.parameters import (ParameterError, bind_parameters, describe, parse_setting, parse_value,
                                             settable_parameters, settings_from)

ROOT = Path(__file__).resolve().parents[1]


def last_chain(name: str):
    return load_derivations(ROOT / "derivations" / f"{name}.yaml")[-1]


BETA = last_chain("beta_vae")
OBJECTIVE, CONTEXT = BETA.steps[-1].expr, BETA.context


def bind(settings_, chain=BETA):
    return bind_parameters(chain.steps[-1].expr, chain.context, settings_, source="f.yaml")


# -- which names are parameters -------------------------------------------------------------------

def test_the_settable_parameters_come_from_the_declarations():
    assert set(settable_parameters(OBJECTIVE, CONTEXT)) == {"beta"}
    # vectors (x, mu, sigma), functions (x_hat), sizes of indices (D, K, L) and summation indices are not
    for name in ("vae_elbo", "iwae_bound"):
        chain = last_chain(name)
        assert settable_parameters(chain.steps[-1].expr, chain.context) == {}


def test_a_parameter_of_any_name_with_any_assumption_is_read_from_its_declarations():
    text = """\
title: t
symbols: {gamma: positive, n: positive integer, w: probability, a: real, x: real, D: positive integer}
indices: {j: 1..D}
vectors: {x: D}
assume: ["gamma > 2", "a <= gamma"]
steps:
  - sum(j, gamma*x_j + n + w + a)
  - sum(j, gamma*x_j + n + w + a)
"""
    chain = parse_derivations(text)[-1]
    assert set(settable_parameters(chain.steps[-1].expr, chain.context)) == {"gamma", "n", "w", "a"}
    ok = {"gamma": "5/2", "n": "3", "w": "0.25", "a": "-7"}
    bound = bind(ok, chain)
    assert not any(bound.has(chain.context.symbols[name]) for name in ok)
    symbols = chain.context.symbols
    assert bound == chain.steps[-1].expr.xreplace({symbols[n]: sp.Rational(v) for n, v in ok.items()})
    for bad, words in ((dict(ok, gamma="2"), "gamma > 2"),           # strict assumption, at its bound
                       (dict(ok, a="3"), "a <= gamma"),              # an assumption between two parameters
                       (dict(ok, n="1.5"), "positive integer"),      # the kind: an integer
                       (dict(ok, n="0"), "positive integer"),
                       (dict(ok, w="1"), "probability"),             # the kind: in (0, 1)
                       (dict(ok, gamma="-3"), "positive")):
        with pytest.raises(ParameterError, match=words):
            bind(bad, chain)
    with pytest.raises(ParameterError, match="depends on the parameter w"):
        bind({k: v for k, v in ok.items() if k != "w"}, chain)


# -- the beta of derivations/beta_vae.yaml ----------------------------------------------------------

def test_beta_takes_its_value_exactly():
    beta = CONTEXT.symbols["beta"]
    assert bind({"beta": "4"}) == OBJECTIVE.xreplace({beta: sp.Integer(4)})
    assert bind({"beta": "1"}) == OBJECTIVE.xreplace({beta: sp.Integer(1)})      # the bound itself: beta >= 1
    assert bind({"beta": "2.5"}) == OBJECTIVE.xreplace({beta: sp.Rational(5, 2)})
    assert not bind({"beta": "4"}).has(beta)


@settings(max_examples=60, deadline=None)
@given(st.fractions(min_value=Fraction(-5), max_value=Fraction(10), max_denominator=1000))
def test_a_value_is_accepted_exactly_when_the_declarations_allow_it(value):
    text = str(value)
    if value >= 1:
        assert not bind({"beta": text}).has(CONTEXT.symbols["beta"])
    else:
        with pytest.raises(ParameterError) as info:
            bind({"beta": text})
        message = str(info.value)
        assert "\n" not in message
        assert ("beta >= 1" in message) if value > 0 else ("positive" in message)


@pytest.mark.parametrize("settings_, words", [
    ({"beta": "0.5"}, "proved under the assumption beta >= 1, which this value violates"),
    ({"beta": "0.999999999999999999999"}, "beta >= 1"),       # decided exactly, not in floating point
    ({"beta": "0"}, "declares beta positive"),
    ({"gamma": "2"}, "has no scalar parameter gamma (its parameters: beta)"),
    ({"D": "3"}, "has no scalar parameter D"),                # a size, read off the tensors
    ({"x": "1"}, "has no scalar parameter x"),                # a vector
    ({"beta": "inf"}, "not a number"),
    ({"beta": "nan"}, "not a number"),
    ({"beta": "4*2"}, "not a number"),
    ({}, "depends on the parameter beta (positive, assumed beta >= 1): give it a value with --set beta=VALUE"),
])
def test_values_the_declarations_refuse(settings_, words):
    with pytest.raises(ParameterError) as info:
        bind(settings_)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_a_derivation_without_parameters_refuses_every_name():
    with pytest.raises(ParameterError, match=r"has no scalar parameter beta \(its parameters: none\)"):
        bind({"beta": "4"}, last_chain("vae_elbo"))


# -- reading the settings --------------------------------------------------------------------------

def test_settings_from_the_command_line():
    assert settings_from(["beta=4"]) == {"beta": "4"}
    assert settings_from([], ["--beta", "4"]) == {"beta": "4"}
    assert settings_from([], ["--beta=1/2", "--gamma", "-3"]) == {"beta": "1/2", "gamma": "-3"}
    assert settings_from([" beta = 4 "]) == {"beta": "4"}
    for assignments, options, words in ((["beta=4"], ["--beta", "3"], "twice"),
                                        (["beta"], [], "NAME=VALUE"),
                                        (["=4"], [], "NAME=VALUE"),
                                        ([], ["--beta"], "needs a value"),
                                        ([], ["--beta", "--gamma", "2"], "needs a value"),
                                        ([], ["4"], "unrecognized argument")):
        with pytest.raises(ParameterError, match=words):
            settings_from(assignments, options)


def test_parse_value_is_exact_and_never_evaluates():
    assert parse_value("b", "0.1") == Fraction(1, 10)
    assert parse_value("b", "1e-3") == Fraction(1, 1000)
    assert parse_value("b", "-2/6") == Fraction(-1, 3)
    for text in ("__import__('os')", "1+1", "beta", "1/0", "9" * 61):
        with pytest.raises(ParameterError):
            parse_value("b", text)
    assert parse_setting("beta=4") == ("beta", "4")
    assert describe({"beta": "0.5", "a": "2"}) == "a=2,beta=1/2"
