"""Runtime detection of an implementation that disables or rewinds the harness's oracle counter.

The static check rejects such modules before they run. These tests load the classes directly,
as a module that slipped past the static check would run.
"""

import numpy as np

from theorybench.oracles import CallCounter
from theorybench.suites.optimization import Optimizer
from theorybench.testing import run_in_process

PARAMS = {"data": "diabetes", "budget": 200}


class _GradientDescent(Optimizer):
    tasks = ("least_squares",)

    def step(self, problem, x):
        return x - problem.gradient(x) / problem.smoothness


class PatchesChargeOnTheClass(_GradientDescent):
    name = "forge-class"

    def run(self, problem, x0):
        CallCounter.charge = lambda self, kind, amount=1.0: None
        x = x0
        while True:
            x = self.step(problem, x)
            yield x


class RewindsTheTotal(_GradientDescent):
    name = "forge-total"

    def run(self, problem, x0):
        counter = vars(problem)["_" + "counter"]
        x = x0
        for _ in range(3):
            x = self.step(problem, x)
            yield x
        while True:
            x = self.step(problem, x)
            vars(counter).update(_total=0.0, _counts={})
            yield x


class ShadowsChargeOnTheInstance(_GradientDescent):
    name = "forge-instance"

    def run(self, problem, x0):
        counter = vars(problem)["_" + "counter"]
        vars(counter)["charge"] = lambda kind, amount=1.0: None
        x = x0
        while True:
            x = self.step(problem, x)
            yield x


class Honest(_GradientDescent):
    name = "honest"

    def run(self, problem, x0):
        x = x0
        while True:
            x = self.step(problem, x)
            yield x


def run(implementation):
    original = CallCounter.charge
    try:
        return run_in_process("optimization", "least_squares", _params(), implementation)
    finally:
        CallCounter.charge = original


def _params():
    from theorybench.worker import load_suite

    return load_suite("optimization").task("least_squares").instances("quick")[-1]


def test_patched_counter_class_is_invalid():
    result = run(PatchesChargeOnTheClass)
    assert result.status == "invalid"
    assert "CallCounter.charge was replaced" in result.reason


def test_rewound_total_is_invalid():
    result = run(RewindsTheTotal)
    assert result.status == "invalid"
    assert "fell from" in result.reason


def test_shadowed_charge_is_invalid():
    result = run(ShadowsChargeOnTheInstance)
    assert result.status == "invalid"
    assert "were added to the counter" in result.reason


def test_honest_optimizer_passes_the_check():
    result = run(Honest)
    assert result.status == "ok", result.reason
    assert result.metrics["calls_total"] > 0
    assert np.isfinite(result.metrics["final_measure"])
