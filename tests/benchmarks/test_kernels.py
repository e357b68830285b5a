"""pytest-benchmark versions of the key kernels.

The plain test command skips them (`--benchmark-skip` in the pytest options). Run them with
`python -m pytest tests/benchmarks --benchmark-only --benchmark-autosave`, and compare with an
earlier saved run through `--benchmark-compare` (see docs/regressions.md).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from theorybench.registry import Registry, load_implementation_class

REGISTRY = Registry()
STEPS_PER_ROUND = 10


def bundled(suite: str, method: str) -> list[str]:
    """Return the bundled CPU implementations of `suite` that override the contract's `method`."""
    if suite not in REGISTRY.suites():
        return []
    contract = REGISTRY.suite(suite).contract
    names = []
    for ref in REGISTRY.implementations(suite):
        cls = load_implementation_class(ref.module, ref.path, ref.class_name)
        if "cpu" in cls.devices and getattr(cls, method, None) is not getattr(contract, method, None):
            names.append(ref.name)
    return sorted(names)


def implementation(suite: str, name: str):
    ref, = [ref for ref in REGISTRY.implementations(suite) if ref.name == name]
    return load_implementation_class(ref.module, ref.path, ref.class_name)


@pytest.mark.parametrize("name", bundled("optimization", "run") or [pytest.param("none", marks=pytest.mark.skip("no optimizer"))])
def test_optimizer_step(benchmark, name):
    from theorybench.oracles import CallCounter
    from theorybench.suites.optimization.contract import ORACLE_WEIGHTS, Problem

    suite = REGISTRY.suite("optimization")
    task = suite.task("least_squares")
    optimizer = implementation("optimization", name)()
    if not optimizer.supports(task, "cpu"):
        pytest.skip(f"{name} does not run on least_squares")
    instance = task.build(task.instances("quick")[0], seed=0)

    def start():
        problem = Problem(instance.objective, instance.kind, instance.strong_convexity, CallCounter(weights=ORACLE_WEIGHTS), seed=0)
        x0 = np.random.default_rng(0).standard_normal(problem.dimension) / math.sqrt(problem.dimension)
        return (optimizer.run(problem, x0),), {}

    def steps(iterates):
        # Ten iterates from the start: a method such as conjugate gradient converges within d = 50
        # steps and then stops, so each round starts a fresh run outside the timed region.
        return [next(iterates) for _ in range(STEPS_PER_ROUND)]

    iterates = benchmark.pedantic(steps, setup=start, rounds=50, iterations=1, warmup_rounds=2)
    assert all(iterate.shape == (instance.objective.d,) for iterate in iterates)


@pytest.mark.parametrize("n_bits", [10, 14, 18])
def test_walsh_hadamard(benchmark, n_bits):
    walsh = pytest.importorskip("theorybench.datasets.walsh")
    signals = np.random.default_rng(0).standard_normal((8, 2**n_bits))
    spectrum = benchmark(walsh.fast_walsh_hadamard, signals)
    np.testing.assert_allclose(walsh.fast_walsh_hadamard(spectrum), 2**n_bits * signals, rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("tokens", [256, 1024])
@pytest.mark.parametrize("name", bundled("attention_io", "attention") or [pytest.param("none", marks=pytest.mark.skip("no baseline"))])
def test_attention_forward(benchmark, name, tokens):
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 4, tokens, 64, generator=generator) for _ in range(3))
    baseline = implementation("attention_io", name)()
    output = benchmark(baseline.attention, q, k, v, False)
    reference = torch.softmax(q.double() @ k.double().transpose(-1, -2) / 8.0, dim=-1) @ v.double()
    assert torch.allclose(output.double(), reference, atol=1e-4)


@pytest.mark.parametrize("sparsity", [0.5, 0.9])
@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_magnitude_pruning_pass(benchmark, scope, sparsity):
    magnitude = pytest.importorskip("theorybench.impls.pruning.magnitude")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(),
                                torch.nn.Linear(512, 10))
    scores = {name: parameter.detach().abs() for name, parameter in model.named_parameters() if name.endswith("weight")}
    masks_of = magnitude.masks_from_global_scores if scope == "global" else magnitude.masks_from_layer_scores
    masks = benchmark(masks_of, scores, sparsity)
    kept = sum(int(mask.sum()) for mask in masks.values())
    total = sum(mask.numel() for mask in masks.values())
    assert 1 - kept / total >= sparsity - 1e-9
