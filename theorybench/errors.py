"""Exceptions that carry a status for the result or an exit code for the CLI."""

from __future__ import annotations


class TheoryBenchError(Exception):
    """Base of the errors the CLI turns into a message and an exit code."""

    exit_code = 4


class UsageError(TheoryBenchError):
    """A bad flag, a missing file or an unknown name given by the user."""

    exit_code = 2


class RegistryError(UsageError):
    """An implementation or suite module that cannot be loaded or defines no valid class."""


class StoreError(TheoryBenchError):
    """The store cannot be opened, is corrupt or is not a TheoryBench store."""

    exit_code = 4


class StoreUsageError(StoreError):
    """A store argument that cannot work: an invalid URL, a folder, a missing folder, an unknown run id."""

    exit_code = 2


class ExecutorError(TheoryBenchError):
    """The executor cannot start or lost its workers."""

    exit_code = 4


class InvalidOutput(Exception):
    """Raised by a suite's harness when an implementation returns something unusable.

    The cell gets status "invalid" with this message as its reason: a NaN, a wrong shape or
    dtype, an output that does not check against the reference.
    """


class NotApplicable(Exception):
    """Raised when a cell's instance lies outside what the implementation can run at all.

    The cell gets status "skipped" with this message as its reason, which is not a failure. An
    example is an attention program whose smallest working set exceeds the instance's fast
    memory. Scoring still gives the implementation no result on that instance.
    """


class BudgetExceeded(Exception):
    """Raised by a counted oracle when the implementation requests more than the cell's budget."""
