"""The local executor against real worker processes and the real optimization suite."""

from pathlib import Path

import pytest

from theorybench.executors.local import LocalExecutor
from theorybench.plan import PlanRequest, plan_cells
from theorybench.registry import Registry

FAULTY = Path(__file__).with_name("faulty_optimizers.py")

EXPECTED_STATUS = {
    "test-good": "ok",
    "test-raises": "error",
    "test-exits": "crashed",
    "test-segfaults": "crashed",
    "test-hangs": "timeout",
    "test-eats-memory": "memory",
    "test-yields-nan": "invalid",
    "test-wrong-shape": "invalid",
}


@pytest.fixture(scope="module")
def fault_results():
    registry = Registry(extra_paths=[FAULTY])
    request = PlanRequest(suites=["optimization"], tasks=["least_squares"], trials=1, timeout_s=4, memory_mb=400, device="cpu")
    cells, _ = plan_cells(registry, request, added=registry.added)
    cells = [cell for cell in cells if cell.implementation in EXPECTED_STATUS]
    first_instance = cells[0].instance
    cells = [cell for cell in cells if cell.instance == first_instance]
    # Each fault sits between good cells, so a broken worker cannot hide behind the next cell.
    good = [cell for cell in cells if cell.implementation == "test-good"]
    ordered = [cell for cell in cells if cell.implementation != "test-good"] + good
    with LocalExecutor(workers=2) as executor:
        results = list(executor.run(ordered))
    return results


@pytest.mark.parametrize("implementation,status", sorted(EXPECTED_STATUS.items()))
def test_fault_becomes_result_with_status(fault_results, implementation, status):
    result = next(result for result in fault_results if result.cell.implementation == implementation)
    assert result.status == status, result.reason
    if status != "ok":
        assert result.reason


def test_every_cell_returns_one_result(fault_results):
    assert sorted(result.cell.implementation for result in fault_results) == sorted(EXPECTED_STATUS)


def test_failure_reasons_name_the_cause(fault_results):
    by_name = {result.cell.implementation: result for result in fault_results}
    assert "deliberate failure" in by_name["test-raises"].reason
    assert "RuntimeError" in by_name["test-raises"].traceback
    assert "exited with code 7" in by_name["test-exits"].reason
    assert "SIGSEGV" in by_name["test-segfaults"].reason
    assert "4 s" in by_name["test-hangs"].reason
    assert "400 MiB" in by_name["test-eats-memory"].reason
    assert "nan" in by_name["test-yields-nan"].reason.lower()
    assert "shape" in by_name["test-wrong-shape"].reason


def test_good_cell_after_faults_has_metrics(fault_results):
    good = next(result for result in fault_results if result.cell.implementation == "test-good")
    assert good.metrics
    assert good.curves


def test_worker_pool_survives_many_empty_cells():
    registry = Registry(extra_paths=[FAULTY])
    request = PlanRequest(suites=["optimization"], tasks=["least_squares"], implementations=["test-wrong-shape"], trials=3, device="cpu")
    cells, _ = plan_cells(registry, request, added=registry.added)
    cells = [cell for cell in cells if cell.implementation == "test-wrong-shape"]
    with LocalExecutor(workers=2) as executor:
        results = list(executor.run(cells))
        pids = {result.worker_pid for result in results}
    assert len(results) == len(cells)
    assert len(pids) <= 2


def test_cuda_cell_without_gpu_is_skipped_with_reason():
    import dataclasses

    import torch

    from theorybench.worker import execute_cell

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    registry = Registry(extra_paths=[FAULTY])
    request = PlanRequest(suites=["optimization"], tasks=["least_squares"], implementations=["test-good"], trials=1, device="cpu")
    cells, _ = plan_cells(registry, request, added=registry.added)
    result = execute_cell(dataclasses.replace(cells[0], device="cuda"))
    assert result.status == "skipped"
    assert "no CUDA device" in result.reason
    assert not result.failed


def test_auto_device_falls_back_to_cpu_per_task(monkeypatch):
    import torch

    from theorybench.plan import candidate_devices

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert candidate_devices("auto") == ("cuda", "cpu")
    registry = Registry(extra_paths=[FAULTY])
    request = PlanRequest(suites=["optimization"], tasks=["least_squares"], implementations=["test-good"], trials=1, device="auto")
    cells, _ = plan_cells(registry, request, added=registry.added)
    assert cells
    assert {cell.device for cell in cells} == {"cpu"}
