"""The two-level memory executor that runs attention programs and counts their I/O.

The model (the red-blue pebble game of Hong and Kung, as used by Saha and Ye, ICML 2024):
a slow memory of unlimited size holds Q, K, V (N x d each), the output O (N x d) and any scratch
arrays a program allocates there; a fast memory of M words is the only place where arithmetic
happens. A program moves rectangular tiles between the two (`load`, `store`), allocates and frees
fast-memory tiles, and applies compute operations to live tiles.

The executor, owned by the harness, enforces four rules:

- capacity: after every step the words of all live fast-memory tiles (inputs, intermediates and
  accumulators alike) are at most M, otherwise the step raises `CapacityExceeded` naming the
  step, the live tiles and their total size;
- locality: compute operations accept only live tiles of this executor, so no arithmetic reads
  slow memory or data held outside the model (`NotInFastMemory`);
- counting: every word loaded from and stored to slow memory is counted by the executor itself;
- provenance: the output is read back from the slow-memory array O, which starts as NaN in value
  mode, so only words the program stored reach the correctness check; in both modes the executor
  records which words of O were stored.

A program cannot read any value (no operation returns data to Python), so its sequence of steps
cannot depend on the data. In count-only mode tiles carry no data and no arithmetic runs, but
every check and count is the same, so the counts equal those of value mode for the same program.
"""

from __future__ import annotations

import logging
import math
import numpy as np

from theorybench.errors import InvalidOutput

logger = logging.getLogger(__name__)

#: The arrays a program may only read.
INPUT_ARRAYS = ("Q", "K", "V")
OUTPUT_ARRAY = "O"


class MemoryModelViolation(InvalidOutput):
    """Raised when a program breaks a rule of the two-level memory model."""


class CapacityExceeded(MemoryModelViolation):
    """Raised when a step would make the live fast-memory tiles exceed the capacity M."""


class NotInFastMemory(MemoryModelViolation):
    """Raised when an operation gets something that is not a live fast-memory tile."""


class SlowArray:
    """A handle to a named array in slow memory. It carries no data a program can read."""

    __slots__ = ("name", "rows", "cols", "_owner")

    def __init__(self, name: str, rows: int, cols: int, owner: "TwoLevelMemory"):
        self.name = name
        self.rows = rows
        self.cols = cols
        self._owner = owner

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)

    def __repr__(self) -> str:
        return f"<slow {self.name} {self.rows}x{self.cols}>"


class Tile:
    """A handle to a rows x cols block of fast memory. It carries no data a program can read."""

    __slots__ = ("id", "rows", "cols", "size", "origin", "_data", "_owner", "_live")

    def __init__(self, tile_id: int, rows: int, cols: int, origin: tuple, owner: "TwoLevelMemory"):
        self.id = tile_id
        self.rows = rows
        self.cols = cols
        self.size = rows * cols
        self.origin = origin
        self._data: np.ndarray | None = None
        self._owner = owner
        self._live = True

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)

    def describe(self) -> str:
        """Return a readable label such as `t12 load Q[0:64, 0:16] 64x16 (1024 words)`."""
        return f"t{self.id} {_describe_origin(self.origin)} {self.rows}x{self.cols} ({self.size} words)"

    def __repr__(self) -> str:
        return f"<tile {self.describe()}{'' if self._live else ' freed'}>"


class TwoLevelMemory:
    """Executor of attention programs in the two-level memory model.

    `inputs` maps "Q", "K", "V" to float64 arrays of shape (N, d) in value mode; in count-only
    mode (`compute=False`) pass `shape=(N, d)` and no inputs. `capacity` is M in words.
    `output_key` is any object the harness keeps to itself: `output` returns O's values only
    when given it, so a program cannot read values out of slow memory without counted loads.
    """

    def __init__(
        self,
        capacity: int,
        inputs: dict[str, np.ndarray] | None = None,
        shape: tuple[int, int] | None = None,
        compute: bool = True,
        output_key: object | None = None,
    ):
        if capacity < 1:
            raise ValueError(f"capacity must be at least one word, got {capacity}")
        if compute:
            if inputs is None or set(inputs) != set(INPUT_ARRAYS):
                raise ValueError(f"value mode needs the inputs {INPUT_ARRAYS}, got {sorted(inputs or {})}")
            shapes = {array.shape for array in inputs.values()}
            if len(shapes) != 1 or len(next(iter(shapes))) != 2:
                raise ValueError(f"Q, K and V must share one (N, d) shape, got {sorted(shapes)}")
            shape = next(iter(shapes))
        elif shape is None:
            raise ValueError("count-only mode needs shape=(N, d)")
        n, d = shape

        self._capacity = int(capacity)
        self._compute = compute
        self._output_key = output_key
        self._reads = 0
        self._writes = 0
        self._step = 0
        self._live_words = 0
        self._peak_words = 0
        self._next_id = 0
        self._live: dict[int, Tile] = {}
        self._slow: dict[str, SlowArray] = {}
        self._slow_data: dict[str, np.ndarray] = {}

        for name in INPUT_ARRAYS:
            self._add_slow(name, n, d)
            if compute:
                self._slow_data[name] = np.array(inputs[name], dtype=np.float64, copy=True)
        self._add_slow(OUTPUT_ARRAY, n, d)
        # Which words of O the program stored, tracked in both modes.
        self._output_stored = np.zeros((n, d), dtype=bool)
        if compute:
            self._slow_data[OUTPUT_ARRAY] = np.full((n, d), np.nan)

    # -- what the harness reads ------------------------------------------------------------

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def computes(self) -> bool:
        """Whether this executor runs arithmetic (value mode) or only counts (count-only mode)."""
        return self._compute

    def counts(self) -> dict[str, int]:
        """Return the words read and written, their sum, the peak live words and the step count."""
        return {
            "reads": self._reads,
            "writes": self._writes,
            "words_moved": self._reads + self._writes,
            "peak_fast_words": self._peak_words,
            "steps": self._step,
        }

    def unstored_output_words(self) -> int:
        """Return how many words of O the program never stored."""
        return int(self._output_stored.size - np.count_nonzero(self._output_stored))

    def output(self, key: object) -> np.ndarray:
        """Return a copy of the slow-memory array O (value mode only) to the holder of the output key."""
        if self._output_key is None or key is not self._output_key:
            raise MemoryModelViolation("reading O needs the output key the executor was built with; programs must load data instead")
        if not self._compute:
            raise RuntimeError("count-only mode stores no values; run in value mode to read the output")
        return self._slow_data[OUTPUT_ARRAY].copy()

    # -- slow memory -----------------------------------------------------------------------

    def slow(self, name: str) -> SlowArray:
        """Return the handle of the slow-memory array `name` ("Q", "K", "V", "O" or a scratch array)."""
        try:
            return self._slow[name]
        except KeyError:
            raise KeyError(f"no slow-memory array {name!r}; known: {sorted(self._slow)}") from None

    def allocate_slow(self, name: str, rows: int, cols: int) -> SlowArray:
        """Create a scratch array in slow memory. Its words are NaN until the program stores them."""
        self._step += 1
        if name in self._slow:
            raise MemoryModelViolation(f"step {self._step}: slow-memory array {name!r} already exists")
        rows, cols = _positive_dims(rows, cols, f"slow-memory array {name!r}")
        handle = self._add_slow(name, rows, cols)
        if self._compute:
            self._slow_data[name] = np.full((rows, cols), np.nan)
        return handle

    def _add_slow(self, name: str, rows: int, cols: int) -> SlowArray:
        handle = SlowArray(name, rows, cols, self)
        self._slow[name] = handle
        return handle

    def _check_slow(self, array: SlowArray) -> None:
        if not isinstance(array, SlowArray) or array._owner is not self:
            raise MemoryModelViolation(
                f"step {self._step}: expected a slow-memory array of this executor, got {type(array).__name__}"
            )

    # -- moving data -----------------------------------------------------------------------

    def load(self, array: SlowArray, row_start: int, row_stop: int, col_start: int = 0, col_stop: int | None = None) -> Tile:
        """Copy array[row_start:row_stop, col_start:col_stop] into a new fast-memory tile.

        Counts (row_stop - row_start) * (col_stop - col_start) words read.
        """
        self._step += 1
        self._check_slow(array)
        if col_stop is None:
            col_stop = array.cols
        self._check_range(array, row_start, row_stop, col_start, col_stop, "load")
        tile = self._new_tile(row_stop - row_start, col_stop - col_start, ("load", array.name, row_start, row_stop, col_start, col_stop))
        self._reads += tile.size
        if self._compute:
            tile._data = self._slow_data[array.name][row_start:row_stop, col_start:col_stop].copy()
        return tile

    def store(self, tile: Tile, array: SlowArray, row_start: int, col_start: int = 0) -> None:
        """Copy a live tile into array[row_start:row_start + rows, col_start:col_start + cols].

        Counts rows * cols words written. Q, K and V are read-only. The tile stays live.
        """
        self._step += 1
        self._check_live(tile, "store")
        self._check_slow(array)
        if array.name in INPUT_ARRAYS:
            raise MemoryModelViolation(f"step {self._step}: the input array {array.name} is read-only; store into O or a scratch array")
        self._check_range(array, row_start, row_start + tile.rows, col_start, col_start + tile.cols, "store")
        self._writes += tile.size
        if array.name == OUTPUT_ARRAY:
            self._output_stored[row_start:row_start + tile.rows, col_start:col_start + tile.cols] = True
        if self._compute:
            self._slow_data[array.name][row_start:row_start + tile.rows, col_start:col_start + tile.cols] = tile._data

    def _check_range(self, array: SlowArray, r0: int, r1: int, c0: int, c1: int, verb: str) -> None:
        if not (0 <= r0 < r1 <= array.rows and 0 <= c0 < c1 <= array.cols):
            raise MemoryModelViolation(
                f"step {self._step}: cannot {verb} {array.name}[{r0}:{r1}, {c0}:{c1}]; "
                f"the array is {array.rows}x{array.cols} and the range must be non-empty"
            )

    # -- fast memory -----------------------------------------------------------------------

    def allocate(self, rows: int, cols: int, fill: float = 0.0) -> Tile:
        """Allocate a fast-memory tile filled with `fill` (no slow-memory traffic)."""
        self._step += 1
        rows, cols = _positive_dims(rows, cols, "tile")
        tile = self._new_tile(rows, cols, ("allocate",))
        if self._compute:
            tile._data = np.full((rows, cols), float(fill))
        return tile

    def free(self, *tiles: Tile) -> None:
        """Release tiles; their words no longer count against the capacity."""
        self._step += 1
        for tile in tiles:
            self._check_live(tile, "free")
            tile._live = False
            tile._data = None
            del self._live[tile.id]
            self._live_words -= tile.size

    def live_words(self) -> int:
        """Return the words held by live tiles now."""
        return self._live_words

    def _new_tile(self, rows: int, cols: int, origin: tuple) -> Tile:
        size = rows * cols
        if self._live_words + size > self._capacity:
            self._raise_overflow(size, origin)
        self._next_id += 1
        tile = Tile(self._next_id, rows, cols, origin, self)
        self._live[tile.id] = tile
        self._live_words += size
        if self._live_words > self._peak_words:
            self._peak_words = self._live_words
        return tile

    def _raise_overflow(self, size: int, origin: tuple) -> None:
        live = sorted(self._live.values(), key=lambda tile: -tile.size)
        shown = "; ".join(tile.describe() for tile in live[:12])
        if len(live) > 12:
            shown += f"; and {len(live) - 12} more"
        request = _describe_origin(origin)
        raise CapacityExceeded(
            f"step {self._step}: fast memory overflow: {request} needs {size} words while "
            f"{len(live)} live tiles hold {self._live_words} words, total {self._live_words + size} > M = {self._capacity}. "
            f"Live tiles: {shown or 'none'}"
        )

    def _check_live(self, tile: Tile, operation: str) -> None:
        # Fast path first: this check runs on every operand of every step.
        try:
            if tile._owner is self and tile._live:
                return
        except AttributeError:
            pass
        if not isinstance(tile, Tile) or tile._owner is not self:
            raise NotInFastMemory(
                f"step {self._step}: {operation} needs a fast-memory tile of this executor, got {type(tile).__name__}; "
                "load data into fast memory first"
            )
        if not tile._live:
            raise NotInFastMemory(f"step {self._step}: {operation} got freed tile {tile.describe()}")

    # -- compute ---------------------------------------------------------------------------

    def matmul(self, a: Tile, b: Tile, transpose_b: bool = False, out: Tile | None = None, accumulate: bool = False) -> Tile:
        """Return a @ b (or a @ b.T) in a new tile, or write it into `out` (adding when `accumulate`)."""
        self._step += 1
        self._check_live(a, "matmul")
        self._check_live(b, "matmul")
        b_rows, b_cols = (b.cols, b.rows) if transpose_b else (b.rows, b.cols)
        if a.cols != b_rows:
            raise MemoryModelViolation(f"step {self._step}: matmul of {a.rows}x{a.cols} by {b_rows}x{b_cols} (inner sizes differ)")
        if out is None:
            if accumulate:
                raise MemoryModelViolation(f"step {self._step}: matmul with accumulate=True needs an `out` tile")
            out = self._new_tile(a.rows, b_cols, ("matmul",))
            if self._compute:
                out._data = np.empty((a.rows, b_cols))
        else:
            self._check_live(out, "matmul")
            if out.shape != (a.rows, b_cols):
                raise MemoryModelViolation(f"step {self._step}: matmul result is {a.rows}x{b_cols} but `out` is {out.rows}x{out.cols}")
            if out is a or out is b:
                raise MemoryModelViolation(f"step {self._step}: matmul `out` must differ from its operands")
        if self._compute:
            b_data = b._data.T if transpose_b else b._data
            if accumulate:
                out._data += a._data @ b_data
            else:
                np.matmul(a._data, b_data, out=out._data)
        return out

    def row_max(self, a: Tile, out: Tile | None = None) -> Tile:
        """Return the maximum of each row of `a` as a rows x 1 tile."""
        return self._reduce(a, out, "row_max", np.max)

    def row_sum(self, a: Tile, out: Tile | None = None) -> Tile:
        """Return the sum of each row of `a` as a rows x 1 tile."""
        return self._reduce(a, out, "row_sum", np.sum)

    def _reduce(self, a: Tile, out: Tile | None, name: str, function) -> Tile:
        self._step += 1
        self._check_live(a, name)
        if out is None:
            out = self._new_tile(a.rows, 1, (name,))
        else:
            self._check_live(out, name)
            if out.shape != (a.rows, 1) or out is a:
                raise MemoryModelViolation(f"step {self._step}: {name} needs a separate {a.rows}x1 `out` tile, got {out.rows}x{out.cols}")
        if self._compute:
            out._data = function(a._data, axis=1, keepdims=True)
        return out

    def copy(self, a: Tile) -> Tile:
        """Return a new tile holding the values of `a`."""
        self._step += 1
        self._check_live(a, "copy")
        out = self._new_tile(a.rows, a.cols, ("copy",))
        if self._compute:
            out._data = a._data.copy()
        return out

    def exp(self, a: Tile) -> Tile:
        """Replace every entry x of `a` by exp(x), in place."""
        self._step += 1
        self._check_live(a, "exp")
        if self._compute:
            with np.errstate(over="ignore"):
                np.exp(a._data, out=a._data)
        return a

    def scale(self, a: Tile, alpha: float) -> Tile:
        """Multiply every entry of `a` by the number `alpha`, in place."""
        self._step += 1
        self._check_live(a, "scale")
        if self._compute:
            a._data *= float(alpha)
        return a

    def fill(self, a: Tile, value: float) -> Tile:
        """Set every entry of `a` to `value`, in place."""
        self._step += 1
        self._check_live(a, "fill")
        if self._compute:
            a._data.fill(float(value))
        return a

    def add(self, a: Tile, b: "Tile | float") -> Tile:
        """Add `b` to `a` in place; `b` is a tile of a's shape, a rows x 1 tile or a number."""
        return self._elementwise(a, b, "add", np.add)

    def subtract(self, a: Tile, b: "Tile | float") -> Tile:
        """Subtract `b` from `a` in place; `b` as in `add`."""
        return self._elementwise(a, b, "subtract", np.subtract)

    def multiply(self, a: Tile, b: "Tile | float") -> Tile:
        """Multiply `a` by `b` in place; `b` as in `add`."""
        return self._elementwise(a, b, "multiply", np.multiply)

    def divide(self, a: Tile, b: "Tile | float") -> Tile:
        """Divide `a` by `b` in place; `b` as in `add`."""
        return self._elementwise(a, b, "divide", np.divide)

    def maximum(self, a: Tile, b: "Tile | float") -> Tile:
        """Replace `a` by the entrywise maximum of `a` and `b`, in place; `b` as in `add`."""
        return self._elementwise(a, b, "maximum", np.maximum)

    def _elementwise(self, a: Tile, b, name: str, function) -> Tile:
        self._step += 1
        self._check_live(a, name)
        if isinstance(b, (int, float)) and not isinstance(b, bool):
            if self._compute:
                function(a._data, float(b), out=a._data)
            return a
        self._check_live(b, name)
        if b.shape != a.shape and b.shape != (a.rows, 1):
            raise MemoryModelViolation(
                f"step {self._step}: {name} of a {a.rows}x{a.cols} tile with a {b.rows}x{b.cols} tile; "
                f"the second operand must be {a.rows}x{a.cols}, {a.rows}x1 or a number"
            )
        if self._compute:
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                function(a._data, b._data, out=a._data)
        return a

    def mask_causal(self, a: Tile, row_offset: int, col_offset: int) -> Tile:
        """Set a[i, j] to -inf where col_offset + j > row_offset + i, in place.

        The offsets are the tile's position in the N x N score matrix, so the executor applies
        the causal mask of the whole matrix to this block.
        """
        self._step += 1
        self._check_live(a, "mask_causal")
        if self._compute:
            rows = np.arange(row_offset, row_offset + a.rows)[:, None]
            cols = np.arange(col_offset, col_offset + a.cols)[None, :]
            a._data[cols > rows] = -math.inf
        return a


def _describe_origin(origin: tuple) -> str:
    kind, *detail = origin
    if kind == "load":
        name, r0, r1, c0, c1 = detail
        return f"load {name}[{r0}:{r1}, {c0}:{c1}]"
    return kind


def _positive_dims(rows: int, cols: int, what: str) -> tuple[int, int]:
    if int(rows) != rows or int(cols) != cols or rows < 1 or cols < 1:
        raise MemoryModelViolation(f"{what} needs positive integer dimensions, got {rows}x{cols}")
    return int(rows), int(cols)
