"""Timing and peak-memory measurement shared by every suite.

`measure` runs a warm-up, calibrates the number of loops per measurement so each one lasts long
enough to dwarf the timer's resolution, then times several measurements with garbage collection
off and, on CUDA, the device synchronized around each one. The result is a `Measurement`, whose
statistics are computed lazily; it warns when the interquartile range passes 10% of the median.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import logging
import math
import os
import resource
import time
from typing import Any, Callable

import numpy as np

logger = logging.getLogger(__name__)

NOISE_THRESHOLD = 0.10


@dataclasses.dataclass(frozen=True)
class TimerSpec:
    """How to time a callable."""

    warmup: int = 1
    repeats: int = 7
    min_run_time: float = 0.2
    max_loops: int = 1_000_000
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise ValueError(f"repeats must be at least 1, got {self.repeats}")
        if self.min_run_time <= 0:
            raise ValueError(f"min_run_time must be positive, got {self.min_run_time}")


@dataclasses.dataclass(frozen=True)
class Measurement:
    """Per-loop times of repeated measurements, in seconds."""

    times: tuple[float, ...]
    loops: int
    threads: int
    device: str

    @functools.cached_property
    def _quartiles(self) -> tuple[float, float, float]:
        q1, median, q3 = np.percentile(np.asarray(self.times), [25, 50, 75])
        return float(q1), float(median), float(q3)

    @property
    def median(self) -> float:
        return self._quartiles[1]

    @property
    def iqr(self) -> float:
        return self._quartiles[2] - self._quartiles[0]

    @property
    def relative_iqr(self) -> float:
        return self.iqr / self.median if self.median > 0 else math.inf

    @property
    def noisy(self) -> bool:
        return self.relative_iqr > NOISE_THRESHOLD

    def warn_if_noisy(self, label: str = "") -> None:
        if self.noisy:
            logger.warning(
                "noisy timing%s: IQR is %.0f%% of the median (%.3g s); close other programs or raise repeats",
                f" of {label}" if label else "",
                100 * self.relative_iqr,
                self.median,
            )

    def as_metrics(self, prefix: str = "time") -> dict[str, float]:
        return {f"{prefix}_median_s": self.median, f"{prefix}_iqr_s": self.iqr, f"{prefix}_loops": self.loops}


def synchronize(device: str) -> None:
    """Wait for queued CUDA work when `device` is a CUDA device; do nothing on CPU."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def set_threads(threads: int | None) -> int:
    """Fix torch's intra-op thread count when `threads` is given; return the count in force."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def measure(fn: Callable[[], Any], spec: TimerSpec = TimerSpec(), device: str = "cpu") -> Measurement:
    """Time `fn()` according to `spec` and return the per-loop times."""
    threads = set_threads(spec.threads)

    for _ in range(spec.warmup):
        fn()
    synchronize(device)

    loops = _calibrate(fn, spec, device)
    times = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(spec.repeats):
            synchronize(device)
            start = time.perf_counter()
            for _ in range(loops):
                fn()
            synchronize(device)
            times.append((time.perf_counter() - start) / loops)
    finally:
        if gc_was_enabled:
            gc.enable()

    return Measurement(times=tuple(times), loops=loops, threads=threads, device=device)


def _calibrate(fn: Callable[[], Any], spec: TimerSpec, device: str) -> int:
    """Return the loop count that makes one measurement last about min_run_time / repeats."""
    target = spec.min_run_time / spec.repeats
    loops = 1
    while True:
        synchronize(device)
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        synchronize(device)
        elapsed = time.perf_counter() - start
        if elapsed >= target or loops >= spec.max_loops:
            return loops
        if elapsed <= 0:
            loops = min(loops * 10, spec.max_loops)
        else:
            loops = min(max(loops + 1, math.ceil(loops * target / elapsed * 1.1)), spec.max_loops)


def current_rss_bytes() -> int:
    """Return the resident set size of this process."""
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def _peak_rss_bytes() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux 4.0 and later); return whether it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def peak_memory(fn: Callable[[], Any], device: str = "cpu") -> tuple[Any, int]:
    """Run `fn()` once and return its result with the peak memory it used, in bytes.

    On CUDA this is `torch.cuda.max_memory_allocated` after a reset, above what was allocated
    before. On CPU it is the process's peak RSS during the call above the RSS before it.
    """
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        result = fn()
        torch.cuda.synchronize()
        return result, int(torch.cuda.max_memory_allocated() - before)

    gc.collect()
    before = current_rss_bytes()
    if not _reset_peak_rss():
        # NOTE: without clear_refs the peak is the process's lifetime peak, an overestimate.
        logger.warning("cannot reset the peak RSS mark; peak memory is the process's lifetime peak")
    result = fn()
    return result, max(0, _peak_rss_bytes() - before)
