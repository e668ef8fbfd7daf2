"""The checker: terms in, verdicts out.  It knows nothing of text."""
from .assumptions import AssumptionChecker
from .derivation import DerivationResult, StepResult, chain_relation, check_derivation
from .step import check_step
from .symbolic import SymbolicResult, canonical_form, prove
from .verdict import Counterexample, Status, StepVerdict

__all__ = ["AssumptionChecker", "check_step", "check_derivation", "prove", "canonical_form", "chain_relation", "DerivationResult", "StepResult",
           "SymbolicResult", "Counterexample", "Status", "StepVerdict"]
