"""Implementations from an installed package's `theorybench.implementations` entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

PYPROJECT = '''
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "theorybench-plugin-example"
version = "0.1.0"

[project.entry-points."theorybench.implementations"]
plugin_gd = "theorybench_plugin_example.optimizers"

[tool.setuptools]
packages = ["theorybench_plugin_example"]
'''

OPTIMIZERS = '''
import numpy as np

from theorybench.suites.optimization import Optimizer


class PluginGradientDescent(Optimizer):
    name = "plugin-gd"
    version = "0.1.0"
    authors = ("Plugin Author",)
    reference = "https://example.org/plugin-gd"
    devices = ("cpu",)
    tasks = ("least_squares",)

    def run(self, problem, x0):
        x = np.array(x0, dtype=np.float64)
        while True:
            x = x - problem.gradient(x) / problem.smoothness
            yield x
'''

PROBE = '''
import json
from theorybench.registry import Registry
from theorybench.testing import run_in_process

registry = Registry()
ref, = [ref for ref in registry.implementations("optimization") if ref.name == "plugin-gd"]
params = registry.suite("optimization").task("least_squares").instances("quick")[0]
from theorybench.registry import load_implementation_class
cls = load_implementation_class(ref.module, ref.path, ref.class_name)
result = run_in_process("optimization", "least_squares", params, cls)
print(json.dumps({"origin": ref.origin, "module": ref.module, "status": result.status,
                  "calls": result.metrics.get("calls_total")}))
'''


def test_entry_point_plugin_discovered(tmp_path):
    source = tmp_path / "source"
    package = source / "theorybench_plugin_example"
    package.mkdir(parents=True)
    (source / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (package / "__init__.py").write_text('"""An example plugin package."""\n')
    (package / "optimizers.py").write_text(textwrap.dedent(OPTIMIZERS))
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(source)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    assert list(target.glob("theorybench_plugin_example-0.1.0.dist-info/entry_points.txt"))

    environment = dict(os.environ, PYTHONPATH=str(target))
    completed = subprocess.run([sys.executable, "-c", PROBE], env=environment, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    found = json.loads(completed.stdout.strip().splitlines()[-1])
    assert found["origin"] == "entry-point"
    assert found["module"] == "theorybench_plugin_example.optimizers"
    assert found["status"] == "ok"
    assert found["calls"] > 0

    without = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert without.returncode != 0
