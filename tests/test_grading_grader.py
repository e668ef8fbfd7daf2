"""The grader's chain logic with a toy checker: first error, back on track, claims, definitions."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_proofs.grading import GradeOptions, Grader, compose
from elbo_proofs.grading.cache import StepCache
from elbo_proofs.grading.scoring import score_submission

from test_grading_support import ToyChecker, build

OPTS = GradeOptions(examples=10, time_limit=2.0)


def grade(sub, checker=None, cache=None):
    return Grader(OPTS, cache or StepCache(), checker=checker or ToyChecker()).grade_submission(sub)


def by_line(result):
    return {s.line: s for s in result.steps}


def test_correct_chain_is_all_valid():
    r = grade(build([("chain", [(1, None, "(a + b)^2"), (2, "=", "a^2 + 2*a*b + b^2"),
                                (3, "<=", "a^2 + 2*a*b + b^2 + c^2")])]))
    assert [s.verdict for s in r.steps] == ["valid", "valid"]
    assert r.first_error_line is None
    assert r.score == r.max_score == 10


def test_sign_error_then_back_on_track():
    r = grade(build([("chain", [
        (10, None, "a*(b - c) + d"),
        (11, "=", "a*b - a*c + d"),
        (12, "=", "a*b + a*c + d"),       # the sign of a*c flipped
        (13, "=", "d + a*b - a*c"),       # right again: follows from line 11, not from 12
        (14, "=", "a*(b - c) + d"),
    ])]))
    s = by_line(r)
    assert s[11].verdict == "valid"
    assert s[12].verdict == "invalid" and "line 11" in s[12].message
    assert "sign" in s[12].hint and "a*c" in s[12].hint
    assert s[12].counterexample and set(s[12].counterexample) >= {"values", "lhs", "rhs"}
    assert s[13].verdict == "valid" and s[13].back_on_track and "back on track" in s[13].message
    assert s[14].verdict == "valid" and not s[14].back_on_track
    assert r.first_error_line == 12
    assert sum(1 for x in r.steps if x.verdict == "invalid") == 1


def test_error_carried_forward_is_not_a_new_error():
    r = grade(build([("chain", [
        (1, None, "a + b"),
        (2, "=", "a + 2*b"),      # wrong
        (3, "=", "2*b + a"),      # follows from line 2 only
        (4, "=", "b + a + b"),
    ])]))
    s = by_line(r)
    assert s[2].verdict == "invalid" and s[2].new_error
    assert s[3].verdict == "valid" and s[3].carries_error and "line 2" in s[3].message
    assert s[4].verdict == "valid"
    assert r.first_error_line == 2


def test_second_independent_error_is_reported():
    r = grade(build([("chain", [(1, None, "a + b"), (2, "=", "a + 2*b"), (3, "=", "a + 5*b")])]))
    s = by_line(r)
    assert s[2].verdict == s[3].verdict == "invalid"
    assert r.first_error_line == 2


def test_reversed_inequality_gets_a_hint():
    r = grade(build([("chain", [(1, None, "a^2"), (2, ">=", "a^2 + b^2")])]))
    step = r.steps[0]
    assert step.verdict == "invalid"
    assert "other way" in step.hint


def test_unparsed_line_is_unparsed_and_never_invalid():
    r = grade(build([("chain", [(1, None, "a + b"), (2, "=", "?? \\frac{a}{"), (3, "=", "a + 3*b")])]))
    s = by_line(r)
    assert s[2].verdict == "unparsed"
    # line 3 cannot be blamed: the error may sit in the line that could not be read
    assert s[3].verdict == "unverified"
    assert r.first_error_line is None


def test_unparsed_line_skipped_when_the_chain_still_holds():
    r = grade(build([("chain", [(1, None, "a + b"), (2, "=", "?? junk"), (3, "=", "b + a")])]))
    assert by_line(r)[3].verdict == "valid"


def test_claim_must_hold_for_every_model():
    r = grade(build([("claim", [(5, None, "a^2 + b^2"), (5, ">=", "2*a*b")]),
                     ("claim", [(7, None, "a + b"), (7, "<=", "a")])]))
    s = by_line(r)
    assert s[5].verdict == "valid" and s[5].kind == "claim"
    assert s[7].verdict == "invalid"
    assert r.first_error_line == 7


def test_definition_is_substituted():
    sub = build([("chain", [(1, None, "F"), (2, "=", "a + b"), (3, "=", "b + a")]),
                 ("claim", [(6, None, "F"), (6, "<=", "a + b + c^2")])],
                definitions={"F": "a + b"})
    r = grade(sub)
    s = by_line(r)
    assert s[2].verdict == "valid" and "definition" in s[2].message
    assert s[6].verdict == "valid"


def test_undefined_named_quantity_makes_a_failing_step_unverified():
    r = grade(build([("claim", [(3, None, "F"), (3, "<=", "a")]),
                     ("claim", [(4, None, "a + b"), (4, "<=", "a")]),
                     ("claim", [(5, None, "ELBO"), (5, "<=", "a")]),
                     ("claim", [(6, None, "g(a)"), (6, "=", "a")]),
                     ("claim", [(7, None, "L*a"), (7, "<=", "a")])]))   # L: a count (positive integer)
    s = by_line(r)
    assert s[3].verdict == "unverified" and "F" in s[3].message
    assert s[5].verdict == "unverified" and "ELBO" in s[5].message
    assert s[6].verdict == "unverified" and "g" in s[6].message
    assert s[7].verdict == "invalid"
    assert s[4].verdict == "invalid"   # a plain variable (b) is no excuse


def test_supported_step_says_how_many_models():
    r = grade(build([("chain", [(1, None, "a^2"), (2, "<=", "a^2 + b^2")])]))
    assert r.steps[0].verdict == "valid"
    assert r.steps[0].message.startswith("numerically supported (")


def test_estimates_are_unverified_not_invalid():
    r = grade(build([("chain", [(1, None, "a"), (2, "~=", "a + b")])]))
    assert r.steps[0].verdict == "unverified"


def test_checker_exception_is_unverified():
    def boom(*a, **k):
        raise RuntimeError("unsupported term")

    r = grade(build([("chain", [(1, None, "a"), (2, "=", "a + b")])]), checker=boom)
    assert r.steps[0].verdict == "unverified" and "RuntimeError" in r.steps[0].message


def test_cache_checks_identical_steps_once():
    chk = ToyChecker()
    cache = StepCache()
    g = Grader(OPTS, cache, checker=chk)
    text = [("chain", [(1, None, "(a + b)^2"), (2, "=", "a^2 + 2*a*b + b^2")])]
    r1 = g.grade_submission(build(text, path="alice.md"))
    r2 = g.grade_submission(build(text + [("claim", [(9, None, "z"), (9, "<=", "z + 1")])], path="bob.md"))
    assert len(chk.calls) == 2          # one for the shared step, one for bob's claim
    assert r1.cache_misses == 1 and r1.cache_hits == 0
    assert r2.cache_hits == 1
    assert r2.steps[0].cached


def test_cache_shared_through_sqlite(tmp_path):
    path = tmp_path / "steps.sqlite"
    text = [("chain", [(1, None, "(a + b)^2"), (2, "=", "a^2 + 2*a*b + b^2")])]
    c1 = ToyChecker()
    Grader(OPTS, StepCache(path), checker=c1).grade_submission(build(text))
    c2 = ToyChecker()
    r = Grader(OPTS, StepCache(path), checker=c2).grade_submission(build(text))
    assert c1.calls and not c2.calls
    assert r.steps[0].verdict == "valid" and r.steps[0].cached


def test_score_counts_checked_steps_and_charges_the_error():
    r = grade(build([("chain", [(1, None, "a + b"), (2, "=", "b + a"), (3, "=", "a + 2*b"), (4, "=", "a + b"),
                                (5, "~=", "a")])]))
    # 3 checked (2 valid, 1 invalid), 1 error: a fixed 2 of 10, whatever the length; line 5 is unverified,
    # so the score is provisional and line 5 waits for a person
    assert r.score == 8.0
    assert "2 of 3" in r.score_explanation and "1 error (-2 each)" in r.score_explanation
    assert r.provisional and [x["line"] for x in r.needs_review] == [5]
    assert "provisional" in r.score_explanation


def test_nothing_checkable_scores_zero_and_says_so():
    r = grade(build([("chain", [(1, None, "a"), (2, "~=", "b")])]))
    assert r.score == 0 and "person" in r.score_explanation


@pytest.mark.parametrize("rels,expected", [
    (["=", "="], "="), (["=", "<="], "<="), (["<=", "<="], "<="), (["<=", ">="], None),
    (["~=", "="], "~="), (["~=", "<="], None), ([], "="),
])
def test_compose(rels, expected):
    assert compose(rels) == expected


@given(st.lists(st.sampled_from(["=", "<=", ">="]), min_size=1, max_size=8))
def test_compose_matches_the_direction_of_its_parts(rels):
    c = compose(rels)
    strict = {r for r in rels if r != "="}
    if len(strict) == 2:
        assert c is None
    elif strict:
        assert c == strict.pop()
    else:
        assert c == "="


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.integers(-4, 4).filter(lambda k: k != 0), st.sampled_from(["a", "b*c", "a^2", "c/b"]))
def test_any_sign_flip_is_found_and_the_chain_recovers(n, k, term):
    """For any coefficient k and term t: writing -k*t for k*t is one error; the next right line is back on track."""
    right = f"{n} + ({k})*{term}"
    wrong = f"{n} - ({k})*{term}"
    r = grade(build([("chain", [(1, None, f"({right})*1"), (2, "=", wrong), (3, "=", right)])]))
    s = by_line(r)
    assert s[2].verdict == "invalid" and "sign" in s[2].hint
    assert s[3].verdict == "valid" and s[3].back_on_track


def test_score_dedupes_repeated_slides():
    chain = [(1, None, "a + b"), (2, "=", "b + a"), (3, "=", "a + 2*b")]
    once = grade(build([("chain", chain)]))
    thrice = grade(build([("chain", chain)] * 3))
    assert once.score == thrice.score
    score_submission(thrice)
    assert thrice.score == once.score


class Refuter:
    """A checker that refutes everything: only the grader's own excuses can save a step."""

    def __call__(self, lhs, rhs, relation, context, **kw):
        from elbo_proofs.checking.verdict import Counterexample, Status, StepVerdict

        return StepVerdict(Status.REFUTED, relation, method="numeric", counterexample=Counterexample({}, 0.0, 1.0))


def test_unstated_factorization_is_not_an_error():
    r = grade(build([("claim", [(2, None, "E[z ~ q(z)](log(q_1(z)))"), (2, "=", "E[z ~ q_1(z)](log(q_1(z)))")]),
                     ("claim", [(3, None, "E[z ~ q(z)](log(q(z)))"), (3, "=", "E[z ~ q(z)](log(p(z)))")])]),
              checker=Refuter())
    s = by_line(r)
    assert s[2].verdict == "unverified" and "factorization" in s[2].message
    assert s[3].verdict == "invalid"


def test_estimate_over_undeclared_samples_is_not_an_error():
    reader = pytest.importorskip("elbo_proofs.parsing.submission")
    sub = reader.read_submission_text(
        "Estimate:\n\n"
        "$$\\mathbb{E}_{q(z)}[z] \\approx \\frac{1}{L} \\sum_{l=1}^L w^{(l)}$$\n\n"
        "$$\\mathbb{E}_{q(z)}[z] = \\frac{2}{L} \\sum_{l=1}^L w^{(l)}$$\n", path="est.md")
    r = grade(sub, checker=Refuter())
    s = by_line(r)
    assert s[3].verdict == "unverified" and "samples of w" in s[3].message
    assert s[5].verdict == "invalid"   # written as an equality, it is a plain claim


def test_checking_budget_leaves_later_steps_unverified():
    import time as _time

    class Slow(ToyChecker):
        def __call__(self, *a, **k):
            _time.sleep(0.3)
            return super().__call__(*a, **k)

    opts = GradeOptions(examples=10, time_limit=2.0, budget=0.5)
    chain = [(1, None, "a + b")] + [(k, "=", f"(a + {k})^2 - a^2 - {2 * k - 1}*a - {k * k} + b") for k in range(2, 8)]
    r = Grader(opts, StepCache(), checker=Slow()).grade_submission(build([("chain", chain)]))
    verdicts = [s.verdict for s in r.steps]
    assert verdicts[0] == "valid" and verdicts[-1] == "unverified"
    assert "budget" in r.steps[-1].message and any("budget" in n for n in r.notes)
    assert "invalid" not in verdicts


def test_soft_budget_leaves_room_for_one_slow_check():
    from elbo_proofs.grading.grader import soft_budget

    assert soft_budget(300, 5) == 255
    assert soft_budget(10, 5) == 5


def test_a_line_after_an_uncheckable_line_is_not_blamed_for_it():
    """Line 3 cannot be checked (an estimate) and is in fact off; line 4 follows from line 2,
    the last checked line, so the grader cannot say which of 3 or 4 is wrong and blames neither."""
    r = grade(build([("chain", [(1, None, "a + b"), (2, "=", "b + a"), (3, "~=", "a + 2*b"), (4, "=", "a + b"),
                                (5, "=", "b + a")])]))
    s = by_line(r)
    assert s[3].verdict == "unverified"
    assert s[4].verdict == "unverified" and "line 3" in s[4].message and "line 2" in s[4].message
    assert s[5].verdict == "valid"
    assert r.first_error_line is None


def test_a_wrong_line_after_an_uncheckable_line_is_still_wrong():
    r = grade(build([("chain", [(1, None, "a + b"), (2, "~=", "a + b"), (3, "=", "a + 5*b")])]))
    s = by_line(r)
    assert s[2].verdict == "unverified" and s[3].verdict == "invalid"
