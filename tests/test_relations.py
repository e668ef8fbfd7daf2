"""The relation algebra every stage shares: spelling, composition along a chain, reading right to left."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from elbo_proofs.terms import relations as R

REL = st.sampled_from(list(R.RELATIONS))
REL_OR_NONE = st.one_of(st.none(), REL)


@pytest.mark.parametrize("text, rel", [
    ("=", "="), ("==", "="), ("<=", "<="), ("≤", "<="), (">=", ">="), ("≥", ">="),
    ("~=", "~="), ("≈", "~="), ("approx", "~="), (" <= ", "<="), ("<>", None), ("<", None), ("", None), (None, None),
])
def test_parse(text, rel):
    assert R.parse(text) == rel


@pytest.mark.parametrize("a, b, c", [
    ("=", "=", "="), ("=", "<=", "<="), ("<=", "=", "<="), ("<=", "<=", "<="), (">=", ">=", ">="),
    ("<=", ">=", None), (">=", "<=", None), ("~=", "=", "~="), ("=", "~=", "~="), ("~=", "~=", "~="),
    ("~=", "<=", None), (">=", "~=", None), (None, "=", None), ("=", None, None),
])
def test_compose_table(a, b, c):
    assert R.compose(a, b) == c


def test_estimates_compose_the_same_in_every_stage():
    """`[~=, ~=]` establishes an estimate in the checker and in the grader alike."""
    from elbo_proofs.checking import chain_relation
    from elbo_proofs.grading import compose

    for rels in (["~=", "~="], ["~=", "=", "~="], ["<=", "~="], ["=", ">="], []):
        assert chain_relation(rels) == compose(rels) == R.chain(rels)
    assert R.chain(["~=", "~="]) == "~="


@given(REL_OR_NONE, REL_OR_NONE, REL_OR_NONE)
def test_compose_is_associative(a, b, c):
    assert R.compose(R.compose(a, b), c) == R.compose(a, R.compose(b, c))


@given(REL_OR_NONE)
def test_equality_is_the_identity_and_none_absorbs(a):
    assert R.compose("=", a) == a == R.compose(a, "=")
    assert R.compose(None, a) is None and R.compose(a, None) is None


@given(REL)
def test_flip_is_an_involution(a):
    assert R.flip(R.flip(a)) == a


@given(REL_OR_NONE, REL_OR_NONE)
def test_flip_reverses_composition(a, b):
    """Reading a chain right to left: flip(a . b) = flip(b) . flip(a)."""
    assert R.flip(R.compose(a, b)) == R.compose(R.flip(b), R.flip(a))


@given(st.lists(REL, max_size=10), st.lists(REL, max_size=10))
def test_chain_of_a_concatenation_composes_the_parts(xs, ys):
    assert R.chain(xs + ys) == R.compose(R.chain(xs), R.chain(ys))


@given(st.lists(REL, max_size=10))
def test_chain_is_implied_by_each_part_direction(rels):
    """The chain's relation is implied by nothing weaker than its parts: every step implies it,
    unless the steps point different ways, when there is none."""
    c = R.chain(rels)
    if c is None:
        strict = {r for r in rels if r != "="}
        assert len(strict) >= 2
    else:
        assert all(R.implies(r, c) for r in rels)


@given(REL, REL)
def test_implies_is_a_partial_order_with_equality_on_top(a, b):
    assert R.implies(a, a)
    assert R.implies("=", a)
    if R.implies(a, b) and R.implies(b, a):
        assert a == b
    assert R.implies(a, b) == R.implies(R.flip(a), R.flip(b))


@given(st.lists(REL, min_size=1, max_size=6))
def test_chain_holds_on_numbers(rels):
    """On a chain of plain numbers that satisfies each relation (~= read as =), the composed relation holds
    between the ends."""
    values = [0.0]
    for r in rels:
        step = {"=": 0.0, "~=": 0.0, "<=": 1.0, ">=": -1.0}[r]
        values.append(values[-1] + step)
    c = R.chain(rels)
    if c is not None:
        a, b = values[0], values[-1]
        assert {"=": a == b, "~=": a == b, "<=": a <= b, ">=": a >= b}[c]
