"""The Ray executor on a real local Ray instance."""

from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from theorybench.executors.ray_executor import RayExecutor  # noqa: E402
from theorybench.plan import PlanRequest, plan_cells  # noqa: E402
from theorybench.registry import Registry  # noqa: E402

FAULTY = Path(__file__).with_name("faulty_optimizers.py")


@pytest.fixture(scope="module")
def ray_results():
    registry = Registry(extra_paths=[FAULTY])
    request = PlanRequest(
        suites=["optimization"], tasks=["least_squares"], trials=1, timeout_s=5, memory_mb=400, device="cpu",
        implementations=["test-good", "test-raises", "test-exits", "test-hangs", "test-yields-nan"],
    )
    cells, _ = plan_cells(registry, request, added=registry.added)
    first_instance = cells[0].instance
    cells = [cell for cell in cells if cell.instance == first_instance]
    executor = RayExecutor(num_cpus=2, startup_grace_s=20)
    try:
        results = list(executor.run(cells))
    finally:
        executor.close()
    return {result.cell.implementation: result for result in results}


def test_ray_runs_a_good_cell(ray_results):
    assert ray_results["test-good"].status == "ok", ray_results["test-good"].reason
    assert ray_results["test-good"].metrics["calls_total"] > 0


@pytest.mark.parametrize(
    "implementation,status,words",
    [
        ("test-raises", "error", "deliberate failure"),
        ("test-exits", "crashed", "died"),
        ("test-hangs", "timeout", "5 s"),
        ("test-yields-nan", "invalid", "nan"),
    ],
)
def test_ray_turns_faults_into_results(ray_results, implementation, status, words):
    result = ray_results[implementation]
    assert result.status == status, result.reason
    assert words in result.reason.lower() or words in result.reason


def test_ray_gives_each_cell_one_result(ray_results):
    assert len(ray_results) == 5
