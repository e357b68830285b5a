"""Sparse Walsh-Hadamard transform recovery from noisy queries of the signal."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from theorybench.datasets.walsh import sparse_walsh_spectrum, walsh_signal
from theorybench.errors import InvalidOutput
from theorybench.suites.sample_complexity.base import SampleComplexityTask, TrialOutcome
from theorybench.suites.sample_complexity.contract import QueryOracle


def sparsity_of(params: Mapping[str, Any]) -> int:
    """K = round(N^alpha), at least 1."""
    return max(1, int(round(2.0 ** (params["n_bits"] * params["alpha"]))))


class SparseWalshTask(SampleComplexityTask):
    """Recover a K-sparse Walsh spectrum of length N = 2^n from noisy signal queries."""

    name = "sparse_walsh"
    summary = (
        "Active: query access to x = H X + noise, x of length N = 2^n_bits, X K-sparse (K = N^alpha) with "
        "values +-1, noise N(0, K / 10^(snr_db / 10)) drawn once per index. The learner returns "
        "(frequencies, values) or a dict {frequency: value}. Success: the support is exact and every value is "
        "within `tolerance` of the truth. Info: n_bits, N, K, noise_sd, magnitude, tolerance."
    )
    bound = "n* = O(K log N) queries for peeling decoders; N for the dense transform"
    tiers = {
        "quick": [{"n_bits": 10, "alpha": 1 / 3, "snr_db": 10.0}],
        "standard": [
            {"n_bits": 12, "alpha": 1 / 3, "snr_db": 10.0},
            {"n_bits": 14, "alpha": 1 / 3, "snr_db": 10.0},
        ],
        "large": [{"n_bits": 18, "alpha": 1 / 3, "snr_db": 10.0}],
    }
    magnitude = 1.0
    tolerance = 0.5

    def bound_value(self, params: Mapping[str, Any]) -> float:
        return sparsity_of(params) * params["n_bits"]

    def info(self, params: Mapping[str, Any]) -> dict[str, Any]:
        sparsity = sparsity_of(params)
        return {
            "n_bits": params["n_bits"],
            "N": 2 ** params["n_bits"],
            "K": sparsity,
            "noise_sd": math.sqrt(sparsity / 10.0 ** (params["snr_db"] / 10.0)),
            "magnitude": self.magnitude,
            "tolerance": self.tolerance,
        }

    def make_instance(self, params, rng):
        support, values = sparse_walsh_spectrum(params["n_bits"], sparsity_of(params), rng, self.magnitude)
        return {"support": support, "values": values, "signal": walsh_signal(params["n_bits"], support, values)}

    def search_range(self, params):
        size = 2 ** params["n_bits"]
        return sparsity_of(params), size, min(size, math.ceil(self.bound_value(params)))

    def make_problem(self, instance, params, n, data_rng, learner_seed):
        info = self.info(params)
        noisy = instance["signal"] + info["noise_sd"] * data_rng.standard_normal(info["N"])
        return QueryOracle(self.name, info, noisy, budget=n, seed=learner_seed)

    def evaluate(self, instance, params, problem, estimate):
        size = 2 ** params["n_bits"]
        frequencies, values = _spectrum_estimate(estimate, size)
        truth = np.zeros(size)
        truth[instance["support"]] = instance["values"]
        recovered = np.zeros(size)
        recovered[frequencies] = values
        error = float(np.linalg.norm(recovered - truth) / np.linalg.norm(truth))
        same_support = np.array_equal(np.flatnonzero(recovered), instance["support"])
        close = bool(np.max(np.abs(recovered - truth)) <= self.tolerance)
        return TrialOutcome(error, bool(same_support and close))


def _spectrum_estimate(estimate: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (frequencies, values) from a pair of arrays or a dict; raise InvalidOutput when unusable."""
    if isinstance(estimate, Mapping):
        frequencies, values = list(estimate.keys()), list(estimate.values())
    elif isinstance(estimate, (tuple, list)) and len(estimate) == 2:
        frequencies, values = estimate
    else:
        raise InvalidOutput(f"expected (frequencies, values) or a dict, got {type(estimate).__name__}")
    try:
        frequencies = np.asarray(frequencies, dtype=np.int64).reshape(-1)
        values = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError) as error:
        raise InvalidOutput(f"the spectrum estimate is not numeric: {error}") from None
    if frequencies.shape != values.shape:
        raise InvalidOutput(f"{frequencies.size} frequencies but {values.size} values")
    if frequencies.size and (frequencies.min() < 0 or frequencies.max() >= size):
        raise InvalidOutput(f"frequencies must lie in [0, {size}), got {frequencies.min()} to {frequencies.max()}")
    if np.unique(frequencies).size != frequencies.size:
        raise InvalidOutput("the spectrum estimate repeats a frequency")
    if not np.all(np.isfinite(values)):
        raise InvalidOutput("the spectrum estimate contains NaN or infinite values")
    return frequencies, values
