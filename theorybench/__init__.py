"""TheoryBench: score implementations of ML algorithms against each other and against theory."""

from theorybench.contracts import (
    Cell,
    CellContext,
    CellOutput,
    Curve,
    Implementation,
    Limits,
    Metric,
    Suite,
    Task,
)
from theorybench.errors import BudgetExceeded, InvalidOutput, NotApplicable

__version__ = "0.1.0"

__all__ = [
    "BudgetExceeded",
    "Cell",
    "CellContext",
    "CellOutput",
    "Curve",
    "Implementation",
    "InvalidOutput",
    "Limits",
    "Metric",
    "NotApplicable",
    "Suite",
    "Task",
]
