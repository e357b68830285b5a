"""Counted oracles: the harness owns every budget count; implementations never report one.

A suite gives an implementation an object whose oracle methods call `charge` on a counter the
suite keeps. The counter raises `BudgetExceeded` when a budget would be passed, so the
implementation cannot take more than it is allowed, and the count it is scored on is the
harness's own.
"""

from __future__ import annotations

import math
from typing import Hashable, Iterable, Mapping

from theorybench.errors import BudgetExceeded, InvalidOutput


class CallCounter:
    """Counts oracle calls by kind ("gradient", "value", ...) against optional budgets.

    `weights` converts each kind to a common unit, so that one Hessian-vector product can cost
    two gradient evaluations, for example. `total` is the weighted sum and `total_budget` bounds it.
    """

    def __init__(
        self,
        budgets: Mapping[str, float] | None = None,
        weights: Mapping[str, float] | None = None,
        total_budget: float = math.inf,
    ):
        self._counts: dict[str, float] = {}
        self._budgets = dict(budgets or {})
        self._weights = dict(weights or {})
        self._total_budget = total_budget
        self._total = 0.0
        self._verified_total = 0.0

    def charge(self, kind: str, amount: float = 1.0) -> None:
        """Record `amount` calls of `kind`; raise BudgetExceeded before passing a budget."""
        if amount < 0:
            raise ValueError(f"cannot charge a negative amount ({amount}) of {kind!r}")
        new_count = self._counts.get(kind, 0.0) + amount
        budget = self._budgets.get(kind, math.inf)
        if new_count > budget:
            raise BudgetExceeded(f"the {kind} budget of {budget:g} calls is spent")
        new_total = self._total + amount * self._weights.get(kind, 1.0)
        if new_total > self._total_budget:
            raise BudgetExceeded(f"the total oracle budget of {self._total_budget:g} is spent")
        self._counts[kind] = new_count
        self._total = new_total

    def count(self, kind: str) -> float:
        return self._counts.get(kind, 0.0)

    @property
    def total(self) -> float:
        """The weighted number of oracle calls so far."""
        return self._total

    def remaining(self) -> float:
        return self._total_budget - self._total

    def snapshot(self) -> dict[str, float]:
        return dict(self._counts)

    def verify_intact(self) -> None:
        """Raise InvalidOutput when the counter was tampered with since the last verification.

        Checks that the class's methods are the ones defined here, that nothing is added to the
        instance (a shadowing method, say), that the total equals the weighted counts, and that the total
        never decreased. A harness calls this after each step of an implementation.

        NOTE: an implementation that rewinds the counts to zero before every check, consistently,
        passes; the static check on submitted modules is the defence against that.
        """
        problems = []
        for name, method in _PRISTINE_METHODS.items():
            if vars(CallCounter).get(name) is not method:
                problems.append(f"CallCounter.{name} was replaced")
        shadowed = set(vars(self)) - _INSTANCE_ATTRIBUTES
        if shadowed:
            problems.append(f"attributes {sorted(shadowed)} were added to the counter")
        weighted = sum(count * self._weights.get(kind, 1.0) for kind, count in self._counts.items())
        if abs(weighted - self._total) > 1e-9 * max(1.0, abs(weighted)):
            problems.append(f"the total {self._total:g} differs from the weighted counts {weighted:g}")
        if self._total < self._verified_total:
            problems.append(f"the total fell from {self._verified_total:g} to {self._total:g}")
        if problems:
            raise InvalidOutput("the oracle counter was modified, so its counts cannot be trusted: " + "; ".join(problems))
        self._verified_total = self._total


#: CallCounter's methods as defined, and its instance attributes, for `verify_intact`.
_PRISTINE_METHODS = {name: value for name, value in vars(CallCounter).items() if callable(value)}
_INSTANCE_ATTRIBUTES = frozenset({"_counts", "_budgets", "_weights", "_total_budget", "_total", "_verified_total"})


class UniqueCounter:
    """Counts distinct items (sample indices, query points) with an optional budget.

    Asking for an item a second time costs nothing, so a learner that re-reads a sample is
    charged once.
    """

    def __init__(self, budget: float = math.inf):
        self._seen: set[Hashable] = set()
        self._budget = budget

    def charge(self, items: Iterable[Hashable]) -> int:
        """Record the items and return how many were new; raise BudgetExceeded past the budget."""
        new_items = {item for item in items if item not in self._seen}
        if len(self._seen) + len(new_items) > self._budget:
            raise BudgetExceeded(
                f"{len(self._seen) + len(new_items)} distinct queries would pass the budget of {self._budget:g}"
            )
        self._seen.update(new_items)
        return len(new_items)

    @property
    def count(self) -> int:
        return len(self._seen)

    @property
    def budget(self) -> float:
        return self._budget
