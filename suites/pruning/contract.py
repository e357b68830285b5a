"""The contract a pruner implements and the objects the harness hands it.

A pruner receives a `PruneRequest`: its own copy of the trained dense model, the target
sparsity, a calibration loader, and a `FineTuneHandle` through which it may spend part of a
fixed fine-tuning budget (iterative pruners train between rounds). It returns one mask per
prunable weight (the `weight` of every Linear and Conv layer, keyed like `"0.weight"`), with the
pruned weights of its model set to zero. The harness fine-tunes the masked model with whatever
budget is left, using the same recipe for every pruner.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, ClassVar, Iterator, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from theorybench.contracts import Implementation
from theorybench.errors import BudgetExceeded
from theorybench.oracles import CallCounter
from theorybench.suites.pruning.sparsity import prunable_weights, validate_masks


@dataclasses.dataclass(frozen=True)
class FineTuneRecipe:
    """The fine-tuning recipe every pruner's steps follow: SGD with momentum and weight decay."""

    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 64


class CalibrationLoader:
    """A fixed list of (inputs, labels) training batches a pruner may use to score weights.

    Iterating yields copies, so a pruner cannot change the batches the next request receives.
    """

    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]]):
        self._batches = batches

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for inputs, labels in self._batches:
            yield inputs.clone(), labels.clone()

    def __len__(self) -> int:
        return len(self._batches)

    @property
    def n_samples(self) -> int:
        return sum(int(labels.shape[0]) for _, labels in self._batches)


class FineTuneHandle:
    """Spends optimizer steps of the fixed fine-tuning recipe on one model, against a step budget.

    Each step draws a minibatch of the training set in a seeded order and takes one SGD step with
    momentum and weight decay. It then multiplies every prunable weight by its mask, so neither
    momentum nor weight decay can revive a pruned weight. The harness counts the steps; asking
    for more than are left raises BudgetExceeded.
    """

    def __init__(
        self,
        model: nn.Module,
        x_train: torch.Tensor,
        y_train: torch.Tensor,
        recipe: FineTuneRecipe,
        budget_steps: int,
        generator: torch.Generator,
    ):
        self._model = model
        self._x = x_train
        self._y = y_train
        self._recipe = recipe
        self._budget = int(budget_steps)
        self._counter = CallCounter(budgets={"step": float(budget_steps)})
        self._generator = generator
        self._order = torch.empty(0, dtype=torch.long)
        self._cursor = 0
        self._seconds = 0.0

    @property
    def budget(self) -> int:
        """The total number of steps this handle may take."""
        return self._budget

    @property
    def steps_used(self) -> int:
        return int(self._counter.count("step"))

    @property
    def steps_left(self) -> int:
        return self._budget - self.steps_used

    @property
    def recipe(self) -> FineTuneRecipe:
        return self._recipe

    @property
    def seconds(self) -> float:
        """Wall time spent inside `train`, in seconds."""
        return self._seconds

    def train(self, masks: Mapping[str, torch.Tensor], steps: int) -> float:
        """Zero the pruned weights, take `steps` steps on the model and return the mean training loss.

        Every call starts a fresh optimizer, so momentum does not carry over between calls.
        Raises BudgetExceeded when `steps` exceeds `steps_left`, before taking any step.
        """
        return self._run(masks, steps)

    def _run(
        self,
        masks: Mapping[str, torch.Tensor],
        steps: int,
        every: int = 0,
        on_checkpoint: Callable[[int], None] | None = None,
    ) -> float:
        """Run `steps` steps; with `every`, call `on_checkpoint(steps_done)` after each block of steps."""
        steps = int(steps)
        if steps < 0:
            raise ValueError(f"steps must be non-negative, got {steps}")
        if steps > self.steps_left:
            raise BudgetExceeded(f"{steps} fine-tuning steps requested, {self.steps_left} of {self._budget} left")
        checked = validate_masks(self._model, masks)

        started = time.perf_counter()
        self._apply(checked)
        parameters = [parameter for parameter in self._model.parameters() if parameter.requires_grad]
        optimizer = torch.optim.SGD(
            parameters,
            lr=self._recipe.lr,
            momentum=self._recipe.momentum,
            weight_decay=self._recipe.weight_decay,
        )
        self._model.train()

        losses = []
        for step in range(1, steps + 1):
            self._counter.charge("step")
            inputs, labels = self._next_batch()
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self._model(inputs), labels)
            loss.backward()
            optimizer.step()
            self._apply(checked)
            losses.append(float(loss.detach()))
            if every and on_checkpoint is not None and (step % every == 0 or step == steps):
                self._seconds += time.perf_counter() - started
                on_checkpoint(step)
                started = time.perf_counter()
        self._seconds += time.perf_counter() - started
        return float(np.mean(losses)) if losses else float("nan")

    def _apply(self, masks: Mapping[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for name, weight in prunable_weights(self._model).items():
                weight.mul_(masks[name].to(weight.dtype))

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        batch_size = min(self._recipe.batch_size, self._x.shape[0])
        if self._cursor + batch_size > self._order.numel():
            self._order = torch.randperm(self._x.shape[0], generator=self._generator)
            self._cursor = 0
        index = self._order[self._cursor : self._cursor + batch_size]
        self._cursor += batch_size
        return self._x[index], self._y[index]


@dataclasses.dataclass(frozen=True)
class PruneRequest:
    """Everything a pruner receives for one target sparsity.

    `model` is the pruner's own copy of the trained dense model, and the harness reads the pruned
    weights from it after `prune` returns. `rewind_state` is a copy of the dense model's
    state_dict after `DenseRecipe.rewind_fraction` (5% by default) of its training steps, for
    lottery-ticket rewinding. Draw every random number from `rng` or `generator`, never from
    global state.
    """

    model: nn.Module
    target_sparsity: float
    calibration: CalibrationLoader
    finetune: FineTuneHandle
    rng: np.random.Generator
    generator: torch.Generator
    rewind_state: Mapping[str, torch.Tensor]
    n_classes: int

    @staticmethod
    def loss(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Return the training loss of the suite, the mean cross-entropy."""
        return F.cross_entropy(outputs, labels)


class Pruner(Implementation):
    """Base class of every pruner.

    Subclasses set `name` and the metadata, and implement `prune`. `iterative` states whether
    the pruner fine-tunes between rounds through `request.finetune`; it is informational.
    """

    iterative: ClassVar[bool] = False

    def prune(self, request: PruneRequest) -> dict[str, torch.Tensor]:
        """Prune `request.model` to `request.target_sparsity` and return its masks.

        Return one boolean (or 0/1) tensor per prunable weight, with the weight's shape, True for
        a kept weight. The pruned weights of `request.model` must be zero. The canonical sparsity
        1 - kept / (dense prunable weights) must reach the target within 0.002, or the harness
        rejects the cell.
        """
        raise NotImplementedError
