"""Tasks of the attention_io suite: I/O in the two-level memory model and real CPU/GPU runs."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from theorybench.contracts import Metric, Task
from theorybench.suites.attention_io.reference import io_lower_bound

IO_BOUND_TEXT = (
    "Theta(N^2 d^2 / M) words for M >= d^2 and Theta(N^2 d / sqrt(M)) for M < d^2 (Saha and Ye, ICML 2024); "
    "the figure used is max(regime term, 4 N d), since Q, K, V are read and O written at least once"
)

IO_METRICS = (
    Metric("io_ratio", "", "min", "value", "words moved divided by the regime's bound"),
    Metric("words_moved", "words", "min", "count", "words read from plus words written to slow memory"),
    Metric("reads", "words", "min", "count", "words loaded from slow memory"),
    Metric("writes", "words", "min", "count", "words stored to slow memory"),
    Metric("bound_words", "words", "none", "count", "the bound's value for this instance, without constant factors"),
    Metric("peak_fast_words", "words", "none", "count", "most words live in fast memory at once"),
    Metric("steps", "", "none", "count", "executor operations the program issued"),
    Metric("m_over_d2", "", "none", "value", "fast memory size M divided by d^2 (the regime switches at 1)"),
    Metric("verified", "", "none", "value", "1 when the output was checked against the float64 reference, 0 in count-only mode"),
    Metric("max_error", "", "min", "value", "largest absolute difference from the float64 reference (value mode)"),
)

RUNTIME_METRICS = (
    Metric("time_median_s", "s", "min", "time", "median forward time over the timed repeats, warm-up excluded"),
    Metric("time_iqr_s", "s", "min", "time", "interquartile range of the forward time"),
    Metric("flop_rate", "FLOP/s", "max", "time", "flops divided by the median time"),
    Metric("flops", "FLOP", "none", "count", "4 * batch * heads * N^2 * d, halved when causal"),
    Metric("peak_memory_bytes", "B", "min", "memory", "peak memory of one call: CUDA max allocated, or process RSS on CPU"),
    Metric("max_error", "", "min", "value", "largest absolute difference from the float64 reference, standard normal inputs"),
    Metric("max_error_large_logits", "", "min", "value", "the same with logits of large magnitude"),
    Metric("max_error_masked", "", "min", "value", "causal only: the largest logits of every row sit on masked positions"),
    Metric("peak_flop_rate", "FLOP/s", "none", "time", "the device peak a result is rejected above"),
    Metric("threads", "", "none", "value", "torch intra-op threads during timing"),
)


def _memory_sweep(n: int, d: int, smallest: int = 16) -> list[int]:
    """Return M = d^2 / smallest, 4 d^2 / smallest, ... (factors of 4) up to N d."""
    sizes = []
    capacity = d * d // smallest
    while capacity < n * d:
        sizes.append(capacity)
        capacity *= 4
    sizes.append(n * d)
    return sizes


def _io_instance(n: int, d: int, m: int, causal: bool = False, scaled: bool = True) -> dict[str, Any]:
    return {"N": n, "d": d, "M": m, "causal": causal, "scaled": scaled}


class IOTask(Task):
    """A task scored in the two-level memory model."""

    family: ClassVar[str] = "io"
    score_group = "io"
    bound = IO_BOUND_TEXT
    metrics = IO_METRICS
    score_metric = "io_ratio"
    leaderboard_metrics = ("io_ratio", "regime", "words_moved", "bound_words", "m_over_d2")
    devices = ("cpu",)
    #: Instances with N at most this size run in value mode and are checked against float64;
    #: larger ones run in count-only mode, where only the coverage of O is checked.
    value_mode_max_n: ClassVar[int] = 512

    def bound_value(self, params: Mapping[str, Any]) -> float:
        return io_lower_bound(params["N"], params["d"], params["M"])


class IOMemorySweep(IOTask):
    name = "io_memory_sweep"
    summary = "words moved against the fast memory size M, from d^2/16 to N d, so the regime change at M = d^2 shows"
    tiers = {
        "quick": [_io_instance(128, d, m) for d in (16, 64) for m in _memory_sweep(128, d)],
        "standard": [_io_instance(2048, d, m) for d in (16, 64) for m in _memory_sweep(2048, d)],
        # NOTE: the executor runs about 6e5 steps per second and tiny M means tiny tiles, so the
        # large tier starts at M = d^2 / 4 with d = 64. Smaller M at N = 16384 would take hours
        # per cell (an estimate from the step count).
        "large": [_io_instance(16384, 64, m) for m in _memory_sweep(16384, 64, smallest=4)],
    }


class IOLengthSweep(IOTask):
    name = "io_length_sweep"
    summary = "words moved against the sequence length N at fixed M, one M in each regime"
    tiers = {
        "quick": [_io_instance(n, 64, m) for m in (1024, 16384) for n in (128, 256, 512, 1024)],
        # With d = 16 and M = 64 the naive program moves 1 x 1 score blocks, about 15 N^2 executor
        # steps, so d = 16 stops at N = 2048 to keep cells within minutes.
        "standard": [_io_instance(n, 64, m) for m in (1024, 16384) for n in (1024, 2048, 4096, 8192)]
        + [_io_instance(n, 16, m) for m in (64, 1024) for n in (1024, 2048)],
        "large": [_io_instance(n, 64, m) for m in (1024, 16384) for n in (16384, 32768)],
    }


class IOVariants(IOTask):
    name = "io_variants"
    summary = "correctness and words moved with and without the causal mask and the 1/sqrt(d) scale"
    tiers = {
        "quick": [_io_instance(96, 16, m, causal, scaled) for m in (64, 1024) for causal in (False, True) for scaled in (True, False)],
        "standard": [_io_instance(512, 64, m, causal, scaled) for m in (1024, 16384) for causal in (False, True) for scaled in (True, False)],
        "large": [],
    }


def _runtime_instance(n: int, d: int, dtype: str, causal: bool, batch: int = 1, heads: int = 4, threads: int = 1) -> dict[str, Any]:
    return {"batch": batch, "heads": heads, "N": n, "d": d, "dtype": dtype, "causal": causal, "threads": threads}


class RuntimeTask(Task):
    score_group = "runtime"
    """A task that times `attention(q, k, v, causal)` on a real device."""

    family: ClassVar[str] = "runtime"
    bound = (
        "forward FLOPs 4 * batch * heads * N^2 * d (halved when causal); "
        "the achieved FLOP/s may not exceed the device peak"
    )
    metrics = RUNTIME_METRICS
    score_metric = "time_median_s"
    leaderboard_metrics = ("time_median_s", "flop_rate", "peak_memory_bytes", "max_error")

    def bound_value(self, params: Mapping[str, Any]) -> float:
        flops = 4.0 * params["batch"] * params["heads"] * params["N"] ** 2 * params["d"]
        return flops / 2 if params["causal"] else flops


class RuntimeCPU(RuntimeTask):
    name = "runtime_cpu"
    summary = "forward time, FLOP/s, peak memory and error against float64 on the CPU"
    devices = ("cpu",)
    tiers = {
        "quick": [_runtime_instance(n, 64, "float32", causal) for n in (256, 1024) for causal in (False, True)],
        "standard": [
            # One intra-op thread: two workers share the cores, and torch functions made of many
            # small operations slow down several times when their threads contend.
            _runtime_instance(n, d, dtype, causal, heads=8, threads=1)
            for n in (1024, 4096) for d in (64, 128) for dtype in ("float32", "bfloat16") for causal in (False, True)
        ],
        "large": [],
    }


class RuntimeCUDA(RuntimeTask):
    name = "runtime_cuda"
    summary = "forward time, FLOP/s, peak memory and error against float64 on a CUDA GPU, half precision"
    devices = ("cuda",)
    tiers = {
        "quick": [],
        "standard": [
            _runtime_instance(n, d, dtype, causal, batch=4, heads=16)
            for n in (1024, 4096) for d in (64, 128) for dtype in ("float16", "bfloat16") for causal in (False, True)
        ],
        "large": [
            _runtime_instance(n, 128, dtype, causal, batch=1, heads=16)
            for n in (8192, 16384, 32768) for dtype in ("float16", "bfloat16") for causal in (False, True)
        ],
    }


class RuntimeCUDAFloat32(RuntimeTask):
    name = "runtime_cuda_fp32"
    summary = "forward time, FLOP/s, peak memory and error against float64 on a CUDA GPU, float32"
    devices = ("cuda",)
    tiers = {
        "quick": [],
        "standard": [_runtime_instance(n, 64, "float32", causal, batch=4, heads=16) for n in (1024, 4096) for causal in (False, True)],
        "large": [_runtime_instance(n, 128, "float32", causal, batch=1, heads=16) for n in (8192, 16384) for causal in (False, True)],
    }


ALL_TASKS = (IOMemorySweep, IOLengthSweep, IOVariants, RuntimeCPU, RuntimeCUDA, RuntimeCUDAFloat32)
