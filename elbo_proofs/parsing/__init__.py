"""Front ends: text (YAML derivations, student Markdown/LaTeX) to terms.

They know nothing of checking; errors are `InputError`s with a location.
"""
from .expr_parser import parse_expression, parse_relation
from .derivation import DECLARATIONS, MAX_LENGTH, Derivation, Step, build_context, load_derivation, load_derivations

__all__ = ["parse_expression", "parse_relation", "Derivation", "Step", "load_derivation", "load_derivations", "warm_up",
           "build_context", "DECLARATIONS", "MAX_LENGTH",
           "Submission", "read_submission", "read_submission_text"]


def warm_up() -> None:
    """Build the LaTeX reader's parser now (before forking workers, so that they share it)."""
    from .latex_parser import _lark

    _lark()


def __getattr__(name):
    # the student-text reader is loaded on first use, so that reading YAML derivations does not load it
    if name in ("Submission", "read_submission", "read_submission_text"):
        from . import submission

        value = getattr(submission, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
