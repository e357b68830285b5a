"""The contract an attention implementation fulfils: an I/O program, a torch function, or both.

`program(memory, problem)` is scored in the two-level memory model on the `io_*` tasks: it runs
against a `TwoLevelMemory` the harness owns and must leave softmax attention in the slow-memory
array O. `attention(q, k, v, causal)` is scored on real hardware on the `runtime_*` tasks: it gets
torch tensors of shape (batch, heads, N, d) and returns softmax(q k^T / sqrt(d)) v, with the
causal mask (key j hidden from query i when j > i) when `causal` is true.

A class that overrides only one of the two methods is planned only on that family of tasks.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from theorybench.contracts import Implementation, Task
from theorybench.errors import NotApplicable

if TYPE_CHECKING:
    import torch

    from theorybench.suites.attention_io.executor import TwoLevelMemory


@dataclasses.dataclass(frozen=True)
class AttentionProblem:
    """One attention instance in the two-level memory model.

    The program computes O = softmax(scale * Q K^T, causal mask when `causal`) V for Q, K, V of
    shape (n, d) in slow memory, with a fast memory of `capacity` words.
    """

    n: int
    d: int
    capacity: int
    causal: bool
    scale: float

    @classmethod
    def build(cls, n: int, d: int, capacity: int, causal: bool, scaled: bool) -> "AttentionProblem":
        return cls(n=n, d=d, capacity=capacity, causal=causal, scale=1.0 / math.sqrt(d) if scaled else 1.0)


class CapacityTooSmall(NotApplicable):
    """Raised by a program whose smallest working set does not fit in the fast memory.

    The cell is skipped with the message as its reason; the program gets no result there.
    """


class AttentionImplementation(Implementation):
    """Base class of attention implementations; override `program`, `attention` or both.

    Both methods are optional one at a time, so their defaults raise NotApplicable (a skipped
    cell) instead of NotImplementedError. A named subclass that overrides neither is rejected
    when its class is created.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name") and not (cls.provides_program() or cls.provides_attention()):
            raise TypeError(f"{cls.__qualname__} overrides neither `program` nor `attention`; override one of them or both")

    def program(self, memory: "TwoLevelMemory", problem: AttentionProblem) -> None:
        """Compute attention for `problem` with `memory`'s operations, storing the result into O."""
        raise NotApplicable(f"{type(self).__name__} provides no program for the two-level memory model")

    def attention(self, q: "torch.Tensor", k: "torch.Tensor", v: "torch.Tensor", causal: bool) -> "torch.Tensor":
        """Return softmax(q k^T / sqrt(d)) v for tensors of shape (batch, heads, N, d)."""
        raise NotApplicable(f"{type(self).__name__} provides no torch attention function")

    @classmethod
    def provides_program(cls) -> bool:
        return cls.program is not AttentionImplementation.program

    @classmethod
    def provides_attention(cls) -> bool:
        return cls.attention is not AttentionImplementation.attention

    @classmethod
    def supports(cls, task: Task, device: str) -> bool:
        if not super().supports(task, device):
            return False
        family: Any = getattr(task, "family", "")
        if family == "io":
            return cls.provides_program()
        if family == "runtime":
            return cls.provides_attention()
        return False
