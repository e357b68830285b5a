"""Optimizers that fail in every way the executor must survive; loaded by path in the tests."""

import os
import signal
import time

import numpy as np

from theorybench.suites.optimization import Optimizer


class _LeastSquaresOnly(Optimizer):
    tasks = ("least_squares",)


class GoodGradientDescent(_LeastSquaresOnly):
    name = "test-good"

    def run(self, problem, x0):
        x = x0.copy()
        while True:
            x = x - problem.gradient(x) / problem.smoothness
            yield x


class Raises(_LeastSquaresOnly):
    name = "test-raises"

    def run(self, problem, x0):
        yield x0
        raise RuntimeError("deliberate failure after the first iterate")


class ExitsProcess(_LeastSquaresOnly):
    name = "test-exits"

    def run(self, problem, x0):
        os._exit(7)
        yield x0


class Segfaults(_LeastSquaresOnly):
    name = "test-segfaults"

    def run(self, problem, x0):
        os.kill(os.getpid(), signal.SIGSEGV)
        yield x0


class Hangs(_LeastSquaresOnly):
    name = "test-hangs"

    def run(self, problem, x0):
        time.sleep(3600)
        yield x0


class EatsMemory(_LeastSquaresOnly):
    name = "test-eats-memory"

    def run(self, problem, x0):
        blocks = []
        for _ in range(200):
            blocks.append(np.ones(25_000_000))
        yield x0


class YieldsNaN(_LeastSquaresOnly):
    name = "test-yields-nan"

    def run(self, problem, x0):
        yield np.full_like(x0, np.nan)


class WrongShape(_LeastSquaresOnly):
    name = "test-wrong-shape"

    def run(self, problem, x0):
        yield np.zeros(x0.size + 1)


class SlowGradientDescent(GoodGradientDescent):
    """Gradient descent that first sleeps, so a test can interrupt a run between cells."""

    name = "test-slow"

    def run(self, problem, x0):
        time.sleep(0.7)
        yield from super().run(problem, x0)
