"""Harness of the io_* tasks: run a program in the two-level memory model and score its I/O."""

from __future__ import annotations

import logging

import numpy as np

from theorybench.contracts import CellContext, CellOutput
from theorybench.errors import InvalidOutput
from theorybench.suites.attention_io.contract import AttentionImplementation, AttentionProblem
from theorybench.suites.attention_io.executor import TwoLevelMemory
from theorybench.suites.attention_io.reference import attention_reference, io_lower_bound, io_regime

logger = logging.getLogger(__name__)

#: Largest absolute error against the float64 reference that value mode accepts. The executor
#: computes in float64, so a correct program lands near 1e-14; the margin covers long sums.
VALUE_MODE_TOLERANCE = 1e-9


def run_io_cell(context: CellContext, implementation: AttentionImplementation, value_mode_max_n: int) -> CellOutput:
    """Run the implementation's program on one instance and return its counts and checks."""
    params = context.params
    n, d, capacity = int(params["N"]), int(params["d"]), int(params["M"])
    problem = AttentionProblem.build(n, d, capacity, bool(params["causal"]), bool(params["scaled"]))
    value_mode = n <= value_mode_max_n

    # Only the harness keeps this key, so only the harness reads O's values.
    output_key = object()
    if value_mode:
        q, k, v = context.rng("data").standard_normal((3, n, d))
        memory = TwoLevelMemory(capacity, inputs={"Q": q, "K": k, "V": v}, output_key=output_key)
    else:
        memory = TwoLevelMemory(capacity, shape=(n, d), compute=False, output_key=output_key)

    implementation.program(memory, problem)

    counts = memory.counts()
    unstored = memory.unstored_output_words()
    if unstored:
        raise InvalidOutput(f"the program never stored {unstored} of the {n * d} words of O")

    max_error = None
    if value_mode:
        output = memory.output(output_key)
        reference = attention_reference(q, k, v, problem.causal, problem.scale)
        if not np.all(np.isfinite(output)):
            rows = np.flatnonzero(~np.isfinite(output).all(axis=1))
            raise InvalidOutput(f"O has non-finite values in {rows.size} rows (first: row {rows[0]})")
        max_error = float(np.max(np.abs(output - reference)))
        if max_error > VALUE_MODE_TOLERANCE:
            row = int(np.unravel_index(np.argmax(np.abs(output - reference)), output.shape)[0])
            raise InvalidOutput(
                f"O differs from the float64 reference by {max_error:.3g} (row {row}); the tolerance is {VALUE_MODE_TOLERANCE:g}"
            )

    bound = io_lower_bound(n, d, capacity)
    metrics = {
        **counts,
        "bound_words": bound,
        "io_ratio": counts["words_moved"] / bound,
        "m_over_d2": capacity / (d * d),
        "verified": 1.0 if value_mode else 0.0,
    }
    if max_error is not None:
        metrics["max_error"] = max_error
    info = {"regime": io_regime(d, capacity), "mode": "value" if value_mode else "count-only"}
    logger.debug("io cell %s: %s", params, metrics)
    return CellOutput(metrics=metrics, info=info)
