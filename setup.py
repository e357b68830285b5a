"""Package mapping: the engine plus suites/, impls/ and datasets/ under the `theorybench` namespace.

The top-level folders keep their short names in the repository, but they are installed as
`theorybench.suites`, `theorybench.impls` and `theorybench.datasets`, so no bare top-level
package (such as `datasets`, which is Hugging Face's) is ever created.
"""

from setuptools import find_packages, setup

MAPPED_FOLDERS = {"suites": "theorybench.suites", "impls": "theorybench.impls", "datasets": "theorybench.datasets"}

packages = find_packages(include=["theorybench", "theorybench.*"])
package_dir = {"theorybench": "theorybench"}
for folder, package in MAPPED_FOLDERS.items():
    package_dir[package] = folder
    packages.append(package)
    packages.extend(f"{package}.{sub}" for sub in find_packages(where=folder))

setup(packages=packages, package_dir=package_dir, include_package_data=True)
