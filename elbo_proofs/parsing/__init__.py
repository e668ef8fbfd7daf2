"""Front ends: text (YAML derivations, student Markdown/LaTeX) to terms.

They know nothing of checking; errors are `InputError`s with a location.
"""
from .expr_parser import parse_expression, parse_relation
from .derivation import Derivation, Step, load_derivation, load_derivations

__all__ = ["parse_expression", "parse_relation", "Derivation", "Step", "load_derivation", "load_derivations"]
