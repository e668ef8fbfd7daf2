"""Numeric cross-check of derivation steps on concrete models drawn by Hypothesis.

`numeric_check(lhs, rhs, relation, context)` evaluates both sides of a step on
generated models (models.py) with a numpy evaluator (evaluate.py) and returns a
`NumericResult`: "agree", "counterexample" (shrunk by Hypothesis) or
"unevaluable".  docs/numeric.md describes the models and tolerances.

The names are loaded on first use: importing the package (for its plain result
types) does not load numpy, scipy or Hypothesis.
"""
from .result import Counterexample, NumericResult

__all__ = ["numeric_check", "numeric_check_chain", "NumericResult", "Counterexample", "Evaluator", "Unevaluable", "NumericFailure"]


def __getattr__(name):
    if name in ("numeric_check", "numeric_check_chain"):
        from . import check

        value = getattr(check, name)
    elif name in ("Evaluator", "NumericFailure", "Unevaluable"):
        from . import evaluate

        value = getattr(evaluate, name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
