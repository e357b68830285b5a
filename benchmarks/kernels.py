"""asv `time_` and `peakmem_` benchmarks of the key kernels.

Ten iterates of every bundled optimizer, the fast Walsh-Hadamard transform, the forward
pass of every attention baseline with a real-run `attention` method, and a global and a
layer-wise magnitude pruning pass. A kernel whose suite or implementation module is missing is
skipped (its `setup` raises NotImplementedError, which asv reports as skipped).
"""

from __future__ import annotations

import logging
import math

import numpy as np

from benchmarks.registry_cache import cached

logger = logging.getLogger(__name__)


def _registry():
    from theorybench.registry import Registry

    return Registry()


def _implementation_names(suite: str, method: str) -> list[str]:
    """Return the bundled implementations of `suite` on CPU that override the contract's `method`."""
    return cached(f"kernels_{suite}_{method}", lambda: _list_implementations(suite, method))


def _list_implementations(suite: str, method: str) -> list[str]:
    from theorybench.registry import load_implementation_class

    try:
        registry = _registry()
        contract = registry.suite(suite).contract
        names = []
        for ref in registry.implementations(suite):
            cls = load_implementation_class(ref.module, ref.path, ref.class_name)
            if "cpu" in cls.devices and getattr(cls, method, None) is not getattr(contract, method, None):
                names.append(ref.name)
        return sorted(names)
    except Exception as error:  # noqa: BLE001 - a suite that has not landed is skipped, not fatal
        logger.warning("no %s kernels: %s", suite, error)
        return []


def _implementation(suite: str, name: str):
    from theorybench.registry import load_implementation_class

    try:
        ref, = [ref for ref in _registry().implementations(suite) if ref.name == name]
    except (ValueError, Exception) as error:  # noqa: BLE001
        raise NotImplementedError(f"{suite} implementation {name!r} is not available: {error}") from error
    return load_implementation_class(ref.module, ref.path, ref.class_name)


class OptimizerStep:
    """Ten iterates of each optimizer on the quick least-squares instance (kappa = 100, d = 50).

    Every call starts a fresh run from the same point, because a method such as conjugate
    gradient converges within d steps and then stops. The start costs one generator creation.
    """

    params = _implementation_names("optimization", "run") or ["unavailable"]
    param_names = ["implementation"]

    def setup(self, name):
        try:
            from theorybench.oracles import CallCounter
            from theorybench.suites.optimization import OptimizationSuite
            from theorybench.suites.optimization.contract import ORACLE_WEIGHTS, Problem
        except ImportError as error:
            raise NotImplementedError(f"the optimization suite is not available: {error}") from error
        task = OptimizationSuite().task("least_squares")
        params = task.instances("quick")[0]
        instance = task.build(params, seed=0)
        implementation = _implementation("optimization", name)()
        if not implementation.supports(task, "cpu"):
            raise NotImplementedError(f"{name} does not run on least_squares")
        problem = Problem(instance.objective, instance.kind, instance.strong_convexity, CallCounter(weights=ORACLE_WEIGHTS), seed=0)
        x0 = np.random.default_rng(0).standard_normal(problem.dimension) / math.sqrt(problem.dimension)
        self.run = lambda: implementation.run(problem, x0.copy())

    def _steps(self):
        iterates = self.run()
        for _ in range(10):
            next(iterates)

    def time_steps(self, name):
        self._steps()

    def peakmem_steps(self, name):
        self._steps()


class WalshHadamard:
    """The fast Walsh-Hadamard transform of a batch of 8 signals of length 2^n_bits."""

    params = [10, 14, 18]
    param_names = ["n_bits"]

    def setup(self, n_bits):
        try:
            from theorybench.datasets.walsh import fast_walsh_hadamard
        except ImportError as error:
            raise NotImplementedError(f"the Walsh-Hadamard transform is not available: {error}") from error
        self.transform = fast_walsh_hadamard
        self.signals = np.random.default_rng(0).standard_normal((8, 2**n_bits))

    def time_transform(self, n_bits):
        self.transform(self.signals)

    def peakmem_transform(self, n_bits):
        self.transform(self.signals)


class AttentionForward:
    """Forward pass of each attention baseline, batch 1, 4 heads, head dimension 64, float32."""

    params = [_implementation_names("attention_io", "attention") or ["unavailable"], [256, 1024]]
    param_names = ["implementation", "tokens"]

    def setup(self, name, tokens):
        import torch

        torch.set_num_threads(1)
        self.implementation = _implementation("attention_io", name)()
        generator = torch.Generator().manual_seed(0)
        self.q, self.k, self.v = (torch.randn(1, 4, tokens, 64, generator=generator) for _ in range(3))

    def time_forward(self, name, tokens):
        self.implementation.attention(self.q, self.k, self.v, False)

    def peakmem_forward(self, name, tokens):
        self.implementation.attention(self.q, self.k, self.v, False)


class MagnitudePruningPass:
    """Masks of a 784-512-512-10 MLP (0.67 M prunable weights) by global or layer-wise magnitude."""

    params = [["global", "layerwise"], [0.5, 0.9]]
    param_names = ["scope", "sparsity"]

    def setup(self, scope, sparsity):
        import torch

        try:
            from theorybench.impls.pruning import magnitude
        except ImportError as error:
            raise NotImplementedError(f"the magnitude pruners are not available: {error}") from error
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(),
                                    torch.nn.Linear(512, 10))
        self.scores = {name: parameter.detach().abs() for name, parameter in model.named_parameters() if name.endswith("weight")}
        self.masks = magnitude.masks_from_global_scores if scope == "global" else magnitude.masks_from_layer_scores

    def time_masks(self, scope, sparsity):
        self.masks(self.scores, sparsity)

    def peakmem_masks(self, scope, sparsity):
        self.masks(self.scores, sparsity)
