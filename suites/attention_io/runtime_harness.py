"""Harness of the runtime_* tasks: time `attention(q, k, v, causal)` on a real device.

Each cell runs these steps in order:
1. one untimed call on standard normal inputs, checked against float64;
2. timing on other inputs through `theorybench.measure` (warm-up excluded, CUDA synchronized),
   with the last timed output checked;
3. one call after the timed inputs are overwritten in place, checked, so an output cached by
   call count or by tensor identity fails;
4. a peak-memory measurement;
5. the adversarial inputs (large logits, and for causal cells the largest logits on hidden keys).
A FLOP rate above the device's peak is rejected as impossible.
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import Any, Iterator

import numpy as np
import torch

from theorybench.contracts import CellContext, CellOutput
from theorybench.errors import InvalidOutput
from theorybench.measure import TimerSpec, measure, peak_memory, set_threads, synchronize
from theorybench.suites.attention_io.contract import AttentionImplementation
from theorybench.suites.attention_io.reference import attention_reference

logger = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

#: Largest accepted absolute error against float64 per dtype. Outputs are convex combinations
#: of the rows of V (standard normal), so they are of order 1 and an absolute error is meaningful.
#: SDPA on the CPU (torch 2.13) stays below a tenth of these on standard inputs.
ERROR_TOLERANCE = {"float32": 1e-3, "float16": 2e-2, "bfloat16": 1e-1}

#: The same for the adversarial inputs: logits of magnitude 200 carry a float32 rounding error
#: near 1e-5, which the nearly one-hot softmax turns into output errors up to about 5e-4.
ADVERSARIAL_TOLERANCE = {"float32": 5e-3, "float16": 5e-2, "bfloat16": 1e-1}

#: Logit magnitude of the large-logit inputs: exp overflows float32 above 88.7 and float16 above
#: 11.1, so an implementation that skips the max subtraction returns inf or NaN.
LARGE_LOGIT_SCALE = {"float32": 200.0, "float16": 30.0, "bfloat16": 200.0}

FLOP_CONVENTION = "forward: 4 * batch * heads * N^2 * d FLOPs, halved when causal"

#: A calibrated matmul rate is not the hardware peak (other processes share the cores, and a
#: 1024 x 1024 matmul does not reach it), so results are rejected only above this multiple of it.
#: Impossible timings (skipped or asynchronous work) overshoot by orders of magnitude.
CALIBRATION_MARGIN = 4.0

#: Dense (no sparsity) peak FLOP/s by GPU name fragment, from NVIDIA's H100 datasheet figures:
#: (float16/bfloat16 tensor core, TF32 tensor core). TF32 is the ceiling for float32 inputs,
#: since cuBLAS and SDPA may use TF32. Unknown GPUs fall back to a matmul calibration.
GPU_PEAK_FLOP_RATE = {
    "H200": (989.4e12, 494.7e12),
    "H100 80GB HBM3": (989.4e12, 494.7e12),
    "H100 SXM": (989.4e12, 494.7e12),
    "H100 PCIe": (756e12, 378e12),
}

_CALIBRATION_CACHE: dict[tuple[str, str, int], float] = {}

#: glibc's mallopt parameter numbers (malloc.h) and the values used around peak-memory calls.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_PINNED_MMAP_THRESHOLD = 64 * 1024
#: After the measurement: the largest mmap threshold glibc's own dynamic rule reaches on 64-bit
#: Linux (32 MiB) and twice that as the trim threshold, the state a process that freed large
#: blocks is in anyway. An explicit setting turns the dynamic rule off, so both are set.
_RELEASED_MMAP_THRESHOLD = 32 * 1024 * 1024
_RELEASED_TRIM_THRESHOLD = 64 * 1024 * 1024


def _mallopt(parameter: int, value: int) -> bool:
    try:
        import ctypes

        return bool(ctypes.CDLL("libc.so.6").mallopt(parameter, value))
    except (OSError, AttributeError):
        return False


def _malloc_trim() -> None:
    """Return free heap pages to the kernel, so reusing them shows up in the RSS again."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def pinned_mmap_threshold() -> Iterator[bool]:
    """Serve every allocation above 64 KiB with its own mmap inside the block; yield whether it worked.

    By default glibc raises its mmap threshold after large frees and keeps freed tensor memory
    in the heap, so a later call reuses it and the process RSS, which `peak_memory` reads on the
    CPU, does not grow. With a low fixed threshold each large tensor is mapped and unmapped, so
    the RSS peak of one call shows that call's working memory. Mapping every tensor slows small
    tensors down many times over, so the threshold is raised again on exit, before any timing.
    """
    pinned = _mallopt(_M_MMAP_THRESHOLD, _PINNED_MMAP_THRESHOLD)
    # Free chunks left in the heap by earlier calls would serve the allocations without new pages.
    _malloc_trim()
    if not pinned:
        logger.warning("cannot set the glibc mmap threshold; CPU peak memory may read low")
    try:
        yield pinned
    finally:
        if pinned:
            _mallopt(_M_MMAP_THRESHOLD, _RELEASED_MMAP_THRESHOLD)
            _mallopt(_M_TRIM_THRESHOLD, _RELEASED_TRIM_THRESHOLD)


def forward_flops(batch: int, heads: int, n: int, d: int, causal: bool) -> float:
    """Return the forward FLOPs under FLOP_CONVENTION."""
    flops = 4.0 * batch * heads * n * n * d
    return flops / 2 if causal else flops


def gpu_table_peak(device_name: str, dtype: str) -> float | None:
    """Return the tabulated peak FLOP/s of a GPU for `dtype`, or None when the GPU is not listed."""
    for fragment, (half, tf32) in GPU_PEAK_FLOP_RATE.items():
        if fragment.lower() in device_name.lower():
            return tf32 if dtype == "float32" else half
    return None


def calibrate_matmul(device: str, dtype: str, size: int = 1024, threads: int | None = None) -> float:
    """Return the best FLOP/s of a size x size matmul on `device` in `dtype`, cached per process."""
    key = (device, dtype, torch.get_num_threads() if threads is None else threads)
    if key not in _CALIBRATION_CACHE:
        generator = torch.Generator().manual_seed(0)
        a = torch.randn(size, size, generator=generator).to(device=device, dtype=DTYPES[dtype])
        b = torch.randn(size, size, generator=generator).to(device=device, dtype=DTYPES[dtype])
        result = measure(lambda: torch.matmul(a, b), TimerSpec(warmup=2, repeats=5, min_run_time=0.2, threads=threads), device)
        _CALIBRATION_CACHE[key] = 2.0 * size**3 / min(result.times)
        logger.info("matmul calibration on %s (%s, %d threads): %.3g FLOP/s", device, dtype, key[2], _CALIBRATION_CACHE[key])
    return _CALIBRATION_CACHE[key]


def device_peak_flop_rate(device: str, dtype: str, threads: int | None = None) -> tuple[float, str]:
    """Return (the FLOP/s above which a result is impossible, where that figure comes from)."""
    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(torch.device(device))
        tabulated = gpu_table_peak(name, dtype)
        if tabulated is not None:
            return tabulated, f"datasheet peak of {name}"
        calibrated = calibrate_matmul(device, dtype, size=4096)
        return CALIBRATION_MARGIN * calibrated, f"{CALIBRATION_MARGIN:g} x matmul calibration on {name}"
    # Reduced-precision matmuls may beat float32 on CPUs with AMX or AVX512-BF16 units, so both
    # float32 and the cell's dtype are calibrated and the larger rate is used.
    calibrated = max(calibrate_matmul(device, "float32", threads=threads), calibrate_matmul(device, dtype, threads=threads))
    return CALIBRATION_MARGIN * calibrated, f"{CALIBRATION_MARGIN:g} x matmul calibration on the CPU"


def standard_inputs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Return q, k, v stacked in one (3, *shape) float64 array of standard normal entries."""
    return rng.standard_normal((3, *shape))


def large_logit_inputs(rng: np.random.Generator, shape: tuple[int, ...], logit_scale: float) -> np.ndarray:
    """Return q, k, v whose scaled logits q.k / sqrt(d) have a standard deviation of `logit_scale`."""
    qkv = rng.standard_normal((3, *shape))
    factor = math.sqrt(logit_scale)
    qkv[0] *= factor
    qkv[1] *= factor
    return qkv


def masked_large_logit_inputs(rng: np.random.Generator, shape: tuple[int, ...], logit_scale: float) -> np.ndarray:
    """Return q, k, v where every row's largest logits fall on keys the causal mask hides.

    Every query gets the same first coordinate and key j a first coordinate growing linearly
    with j, so in every row the logit grows with j, from -logit_scale to about +logit_scale,
    and the visible keys (j <= i) score below the hidden ones. A mask
    applied after the softmax, or with a finite fill value smaller in magnitude than the hidden
    logits, returns a wrong result. With top-left causal alignment every row keeps key 0, so no
    row is masked entirely.
    """
    qkv = rng.standard_normal((3, *shape))
    n, d = shape[-2], shape[-1]
    positions = np.arange(n) / max(n - 1, 1)
    ramp = math.sqrt(logit_scale * math.sqrt(d))
    qkv[0][..., 0] = ramp
    qkv[1][..., 0] = ramp * (2 * positions - 1)
    return qkv


def _to_tensors(qkv: np.ndarray, dtype: torch.dtype, device: str) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(np.ascontiguousarray(part)).to(dtype=dtype).to(device) for part in qkv)


#: Query rows checked against float64 per call. The float64 scores of all rows would take
#: batch * heads * N^2 * 8 bytes (137 GB at N = 32768 with 16 heads), so long sequences are
#: checked on a seeded sample of rows that always includes the first and the last rows.
MAX_CHECKED_ROWS = 512


class Expected:
    """The float64 reference of selected query rows, from the inputs as rounded to the cell's dtype."""

    def __init__(self, tensors: tuple[torch.Tensor, ...], causal: bool, rng: np.random.Generator):
        q, k, v = (tensor.detach().to("cpu", torch.float64).numpy() for tensor in tensors)
        n = q.shape[-2]
        if n <= MAX_CHECKED_ROWS:
            self.rows = np.arange(n)
        else:
            edges = np.array([0, 1, n - 2, n - 1])
            middle = rng.choice(np.arange(2, n - 2), size=MAX_CHECKED_ROWS - edges.size, replace=False)
            self.rows = np.sort(np.concatenate([edges, middle]))
        self.shape = q.shape
        self.values = attention_reference(q[..., self.rows, :], k, v, causal, 1.0 / math.sqrt(q.shape[-1]), self.rows)


def checked_error(output: Any, expected: Expected, dtype: str, device: str, label: str, tolerance: float | None = None) -> float:
    """Return the max absolute error of `output` on the checked rows; raise InvalidOutput when it is unusable or too large."""
    if tolerance is None:
        tolerance = ERROR_TOLERANCE[dtype]
    if not isinstance(output, torch.Tensor):
        raise InvalidOutput(f"{label}: attention returned {type(output).__name__}, expected a torch.Tensor")
    if tuple(output.shape) != expected.shape:
        raise InvalidOutput(f"{label}: output shape {tuple(output.shape)}, expected {expected.shape}")
    if output.device.type != torch.device(device).type:
        raise InvalidOutput(f"{label}: output is on {output.device}, expected {device}")
    rows = torch.from_numpy(expected.rows).to(output.device)
    values = output.detach().index_select(-2, rows).to("cpu", torch.float64).numpy()
    if not np.all(np.isfinite(values)):
        raise InvalidOutput(f"{label}: output has {int(np.sum(~np.isfinite(values)))} non-finite values")
    error = float(np.max(np.abs(values - expected.values)))
    if error > tolerance:
        raise InvalidOutput(f"{label}: max error against float64 is {error:.3g}, above the {dtype} tolerance {tolerance:g}")
    return error


def run_runtime_cell(context: CellContext, implementation: AttentionImplementation, timer: TimerSpec) -> CellOutput:
    """Check, time and measure the implementation's attention on one instance."""
    params = context.params
    device = context.device
    batch, heads, n, d = int(params["batch"]), int(params["heads"]), int(params["N"]), int(params["d"])
    dtype_name, causal = str(params["dtype"]), bool(params["causal"])
    dtype = DTYPES[dtype_name]
    shape = (batch, heads, n, d)
    threads = int(params.get("threads") or 0) or None
    if device == "cpu":
        set_threads(threads)
    elif threads is not None:
        # Host threads do not matter for CUDA kernels; record the count in force.
        threads = None

    def attention(tensors: tuple[torch.Tensor, ...]) -> Any:
        with torch.inference_mode():
            return implementation.attention(*tensors, causal)

    # First call: correctness on standard inputs; it is never timed.
    checked = _to_tensors(standard_inputs(context.rng("check"), shape), dtype, device)
    output = attention(checked)
    synchronize(device)
    max_error = checked_error(output, Expected(checked, causal, context.rng("check_rows")), dtype_name, device, "standard inputs")
    del output

    # Timing on other inputs; the last timed output must match them.
    timed = _to_tensors(standard_inputs(context.rng("timed"), shape), dtype, device)
    last: dict[str, Any] = {}

    def timed_call() -> None:
        last["output"] = implementation.attention(*timed, causal)

    with torch.inference_mode():
        measurement = measure(timed_call, timer, device)
    measurement.warn_if_noisy(f"{implementation.name} at {params}")
    checked_error(last.pop("output"), Expected(timed, causal, context.rng("check_rows")), dtype_name, device, "last timed call")

    # Same tensors, new values: an output cached by tensor identity or call count fails here.
    refill = _to_tensors(standard_inputs(context.rng("refill"), shape), dtype, device)
    for target, source in zip(timed, refill):
        target.copy_(source)
    checked_error(attention(timed), Expected(timed, causal, context.rng("check_rows")), dtype_name, device, "inputs overwritten in place")

    if device == "cpu":
        with pinned_mmap_threshold():
            _, peak_bytes = peak_memory(lambda: attention(timed), device)
    else:
        _, peak_bytes = peak_memory(lambda: attention(timed), device)

    metrics: dict[str, Any] = {
        **measurement.as_metrics("time"),
        "max_error": max_error,
        "peak_memory_bytes": peak_bytes,
        "threads": measurement.threads,
    }

    scale = LARGE_LOGIT_SCALE[dtype_name]
    large = _to_tensors(large_logit_inputs(context.rng("large_logits"), shape, scale), dtype, device)
    metrics["max_error_large_logits"] = checked_error(
        attention(large), Expected(large, causal, context.rng("check_rows")), dtype_name, device, "large logits", ADVERSARIAL_TOLERANCE[dtype_name]
    )
    if causal:
        masked = _to_tensors(masked_large_logit_inputs(context.rng("masked"), shape, scale), dtype, device)
        metrics["max_error_masked"] = checked_error(
            attention(masked), Expected(masked, causal, context.rng("check_rows")), dtype_name, device, "largest logits on masked keys", ADVERSARIAL_TOLERANCE[dtype_name]
        )

    flops = forward_flops(batch, heads, n, d, causal)
    flop_rate = flops / measurement.median
    peak_rate, peak_source = device_peak_flop_rate(device, dtype_name, threads)
    if flop_rate > peak_rate:
        raise InvalidOutput(
            f"{flop_rate:.3g} FLOP/s exceeds the device peak of {peak_rate:.3g} FLOP/s ({peak_source}); "
            "the timing cannot be real (asynchronous or skipped work)"
        )
    metrics.update(flops=flops, flop_rate=flop_rate, peak_flop_rate=peak_rate)
    info = {"flop_convention": FLOP_CONVENTION, "peak_source": peak_source, "noisy_timing": measurement.noisy}
    return CellOutput(metrics=metrics, info=info)


def runtime_timer(tier: str) -> TimerSpec:
    """Return the timing settings of a tier."""
    if tier == "quick":
        return TimerSpec(warmup=1, repeats=5, min_run_time=0.2)
    return TimerSpec(warmup=2, repeats=10, min_run_time=1.0)


