"""The checker: terms in, verdicts out.  It knows nothing of text."""
from .derivation import DerivationResult, StepResult, chain_relation, check_derivation
from .step import check_step
from .symbolic import SymbolicResult, prove
from .verdict import Counterexample, Status, StepVerdict

__all__ = ["check_step", "check_derivation", "prove", "chain_relation", "DerivationResult", "StepResult",
           "SymbolicResult", "Counterexample", "Status", "StepVerdict"]
