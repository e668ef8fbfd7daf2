"""Goals reached modulo the student's letters (P, X, Q for p, x, q), never by renaming alone."""
from __future__ import annotations

import json

import sympy as sp

from elbo_proofs.grading.commands import main as grade_main
from elbo_proofs.grading.goals import rename, unify
from elbo_proofs.parsing import parse_expression
from elbo_proofs.terms import Context

GOAL = 'goal: "KL(q(z|x) || p(z|x)) = E[z ~ q(z|x)](log(q(z|x)) - log(p(z|x)))"\npoints: 10\n'

UPPER = r"""
$$D_{KL}[Q(z|X)||P(z|X)] = \int_{z} Q(z|X) \log \frac{Q(z|X)}{P(z|X)} dz$$

$$= \mathbb{E}_{z \sim Q(z|X)} \left[\log Q(z|X) - \log P(z|X) \right]$$
"""

WRONG_END = r"""
$$D_{KL}[Q(z|X)||P(z|X)] = \int_{z} Q(z|X) \log \frac{Q(z|X)}{P(z|X)} dz$$

$$= \mathbb{E}_{z \sim Q(z|X)} \left[\log Q(z|X) + \log P(z|X) \right]$$
"""


def _terms(*texts):
    ctx = Context()
    return [parse_expression(t, ctx, strict=False) for t in texts]


def test_unify_maps_letters_one_to_one():
    goal, student = _terms("log(p(x|z)) + log(p(z))", "log(P(X|Z)) + log(P(Z))")
    m = unify(goal, student)
    assert m is not None and m.densities == {"p": "P"}
    assert {a.name: b.name for a, b in m.symbols.items()} == {"x": "X", "z": "Z"}
    assert rename(goal, m) == student


def test_unify_refuses_to_merge_two_names_into_one():
    goal, student = _terms("log(p(x)) - log(q(x))", "log(P(X)) - log(P(X))")
    assert unify(goal, student) is None
    a, b = _terms("x + y", "X + X")
    assert unify(a, b) is None


def _grade(tmp_path, text, capsys):
    sub = tmp_path / "hw.md"
    sub.write_text(text)
    asg = tmp_path / "hw.yaml"
    asg.write_text(GOAL)
    grade_main([str(sub), "--assignment", str(asg), "--format", "json", "--jobs", "0", "--examples", "15"])
    return json.loads(capsys.readouterr().out)[0]


def test_goal_in_lower_case_reached_by_a_derivation_in_upper_case(tmp_path, capsys):
    r = _grade(tmp_path, UPPER, capsys)
    assert r["first_error_line"] is None
    assert r["goal"]["reached"], r["goal"]
    assert r["score"] == 10


def test_renaming_never_reaches_a_goal_the_steps_do_not_show(tmp_path, capsys):
    r = _grade(tmp_path, WRONG_END, capsys)
    assert r["first_error_line"] == 4
    assert not r["goal"]["reached"]
