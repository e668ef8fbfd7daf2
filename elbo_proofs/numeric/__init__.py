"""Numeric cross-check of derivation steps on concrete models drawn by Hypothesis.

`numeric_check(lhs, rhs, relation, context)` evaluates both sides of a step on
generated models (models.py) with a numpy evaluator (evaluate.py) and returns a
`NumericResult`: "agree", "counterexample" (shrunk by Hypothesis) or
"unevaluable".  docs/numeric.md describes the models and tolerances.
"""
from .check import NumericResult, numeric_check
from .evaluate import Evaluator, NumericFailure, Unevaluable

__all__ = ["numeric_check", "NumericResult", "Evaluator", "Unevaluable", "NumericFailure"]
