"""Validation of implementation modules: the failure of each step on a broken module."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from theorybench.cli import main
from theorybench.static_check import check_source
from theorybench.submission import CandidateClass, check_metadata, import_in_worker, inspect_module, validate

HEADER = '''
import numpy as np

from theorybench.suites.optimization import Optimizer
'''

GOOD_CLASS = '''

class {cls}(Optimizer):
    name = "{name}"
    version = "1.0"
    authors = ("A. Researcher",)
    reference = "Nesterov, Introductory Lectures on Convex Optimization, 2004"
    devices = ("cpu",)
    tasks = ("least_squares",)

    def run(self, problem, x0):
        x = np.array(x0, dtype=np.float64)
        step = {step} / problem.smoothness
        while True:
            x = x - step * problem.gradient(x)
            yield x
'''


def write_module(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_import_reports_syntax_error_line(tmp_path):
    path = write_module(tmp_path, "broken_syntax.py", HEADER + "\ndef run(:\n    pass\n")
    answer = import_in_worker(path, ["optimization"])
    assert answer["classes"] == []
    assert f"{path}:6" in answer["error"]
    assert "SyntaxError" in answer["error"]


def test_import_reports_missing_dependency(tmp_path):
    path = write_module(tmp_path, "missing_dependency.py", HEADER + "import not_an_installed_package_xyz\n")
    answer = import_in_worker(path, ["optimization"])
    assert f"{path}:5" in answer["error"]
    assert "No module named 'not_an_installed_package_xyz'" in answer["error"]


def test_contract_metadata_problems(tmp_path):
    path = write_module(tmp_path, "bad_metadata.py", HEADER + '''

class NoMetadata(Optimizer):
    name = "Not A Slug"
    version = ""
    reference = "my blog"
    devices = ("tpu",)
    tasks = ("no_such_task",)


class Duplicate(Optimizer):
    name = "gd"
    version = "1.0"
    authors = ("Someone",)
    reference = "https://example.org/paper"

    def run(self, problem, x0):
        yield x0
''')
    answer = inspect_module(path, ["optimization"])
    assert answer["error"] is None
    candidates = {item["class_name"]: CandidateClass(**item) for item in answer["classes"]}
    seen: dict[str, str] = {}
    problems = " | ".join(check_metadata(candidates["NoMetadata"], seen))
    assert "'Not A Slug' is not a slug" in problems
    assert "sets no `version`" in problems
    assert "sets no `authors`" in problems
    assert "names no paper or URL" in problems
    assert "unknown device(s) tpu" in problems
    assert "unknown task(s) no_such_task" in problems
    assert "does not implement `run`" in problems
    duplicate = " | ".join(check_metadata(candidates["Duplicate"], seen))
    assert "'gd' is already used by" in duplicate


def test_validate_without_contract_class_fails(tmp_path, capsys):
    path = write_module(tmp_path, "no_class.py", "VALUE = 1\n")
    code = main(["validate", path, "--suite", "optimization"])
    error = capsys.readouterr().err
    assert code == 1
    assert "2. contract" in error
    assert "defines no implementation" in error
    assert "theorybench.suites.optimization.Optimizer" in error


def test_static_check_rules():
    source = textwrap.dedent('''
        import urllib.request
        import theorybench.suites.optimization.contract as contract
        from theorybench.oracles import CallCounter
        from theorybench.suites.optimization import Optimizer

        class Cheat(Optimizer):
            def __init__(self):
                self._steps = 0

            def run(self, problem, x0):
                self._steps += 1
                x0[:] = 0.0
                spent = problem._counter.total
                problem.smoothness = 1.0
                contract.ORACLE_WEIGHTS["gradient"] = 0.0
                CallCounter.charge = lambda *args, **kwargs: None
                getattr(problem, "_objective")
                open("/etc/hostname").read()
                open("results.txt", "w")
                yield x0
    ''')
    findings = check_source(source, "cheat.py")
    by_line = {(finding.line, finding.rule) for finding in findings}
    assert (2, "network") in by_line
    assert (14, "private-access") in by_line
    assert (15, "tamper") in by_line
    assert (16, "monkeypatch") in by_line
    assert (17, "monkeypatch") in by_line
    assert (18, "private-access") in by_line
    assert (19, "file") in by_line
    flagged_lines = {finding.line for finding in findings}
    assert 12 not in flagged_lines  # the implementation's own private state
    assert 13 not in flagged_lines  # x0 is the implementation's to modify
    assert 20 not in flagged_lines  # a relative path stays in the working directory


def test_validate_static_check_names_line(tmp_path, capsys):
    text = HEADER + GOOD_CLASS.format(cls="Peek", name="peek", step=1.0).replace(
        "            x = x - step * problem.gradient(x)",
        "            x = x - step * problem.gradient(x)\n            budget_left = problem._counter.total",
    )
    path = write_module(tmp_path, "peek.py", text)
    code = main(["validate", path, "--suite", "optimization"])
    error = capsys.readouterr().err
    assert code == 1
    assert "3. static check" in error
    line = textwrap.dedent(text).splitlines().index("            budget_left = problem._counter.total") + 1
    assert f"{path}:{line}:" in error
    assert "_counter" in error


def test_smoke_run_catches_nan_nondeterminism_and_timeout(tmp_path):
    path = write_module(tmp_path, "misbehaving.py", HEADER + '''
import time


class Base(Optimizer):
    version = "1.0"
    authors = ("A. Researcher",)
    reference = "https://example.org/misbehaving"
    devices = ("cpu",)
    tasks = ("least_squares",)


class YieldsNaN(Base):
    name = "yields-nan"

    def run(self, problem, x0):
        problem.gradient(x0)
        yield np.full_like(x0, np.nan)


class GlobalRandom(Base):
    name = "global-random"

    def run(self, problem, x0):
        x = np.array(x0)
        rng = np.random.default_rng()
        while True:
            x = x - rng.uniform(0.5, 1.0) / problem.smoothness * problem.gradient(x)
            yield x


class TooSlow(Base):
    name = "too-slow"

    def run(self, problem, x0):
        time.sleep(60)
        yield x0
''')
    report = validate(path, suites=["optimization"], tasks=["least_squares"], smoke_timeout_s=5)
    assert [step.step for step in report.steps] == ["import", "contract", "static check", "smoke run"]
    smoke = report.steps[-1]
    assert not smoke.ok
    problems = " | ".join(smoke.problems)
    assert "yields-nan on least_squares" in problems
    assert "invalid" in problems
    assert "global-random on least_squares" in problems
    assert "is not deterministic" in problems
    assert "too-slow on least_squares" in problems
    assert "did not finish within 5 s" in problems

