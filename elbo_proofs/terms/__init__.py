"""The one term language every stage shares: SymPy expressions plus density terms
(`Density`, `Normal`, `Bernoulli`) and unevaluated operators (`Expectation`, `KL`,
`Entropy`, `Variance`, `SampleExpectation`), checked under a `Context` of declarations."""
from . import conditions
from .conditions import Assumption, AssumptionError
from .context import ASSUMPTIONS, Context
from .densities import Bernoulli, Density, Normal, density_vars, is_density
from .operators import (Entropy, Expectation, KL, Partial, SampleExpectation, Variance, depends_on,
                        draws_as_variables, free_draws, over_draws)

__all__ = [
    "ASSUMPTIONS", "Assumption", "conditions", "AssumptionError", "Context", "Density", "Normal", "Bernoulli", "density_vars", "is_density",
    "Expectation", "KL", "Entropy", "Variance", "Partial", "depends_on",
    "SampleExpectation", "draws_as_variables", "free_draws", "over_draws",
]
