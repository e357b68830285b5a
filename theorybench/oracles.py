"""Counted oracles: the harness owns every budget count; implementations never report one.

A suite gives an implementation an object whose oracle methods call `charge` on a counter the
suite keeps. The counter raises `BudgetExceeded` when a budget would be passed, so the
implementation cannot take more than it is allowed, and the count it is scored on is the
harness's own.
"""

from __future__ import annotations

import math
from typing import Hashable, Iterable, Mapping

from theorybench.errors import BudgetExceeded


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
