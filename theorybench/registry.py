"""Discovery of suites and implementations.

Suites are the packages under `suites/` (installed as `theorybench.suites`); each defines one
subclass of `Suite`. Implementations are the modules under `impls/<suite>/` (installed as
`theorybench.impls.<suite>`), modules given by path (`--impl PATH`), and modules named by the
entry-point group `theorybench.implementations` of installed packages. Every class in such a
module that subclasses a suite's contract and sets `name` is one implementation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import logging
import pkgutil
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Iterable

from theorybench.contracts import Implementation, Suite
from theorybench.errors import RegistryError, UsageError
from theorybench.provenance import source_hash

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "theorybench.implementations"
SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclasses.dataclass(frozen=True)
class ImplementationRef:
    """The location of an implementation, enough for a worker process to load it again."""

    suite: str
    name: str
    module: str
    path: str
    class_name: str
    source_hash: str
    origin: str  # "bundled", "path" or "entry-point"
    metadata: dict = dataclasses.field(hash=False, compare=False, default_factory=dict)


def load_module(module_name: str, path: str) -> ModuleType:
    """Import the module `module_name`, loading it from `path` when it is not importable by name.

    Raises RegistryError naming the file, and the line for a syntax error, when it fails.
    """
    if module_name in sys.modules:
        return sys.modules[module_name]
    try:
        if not module_name.startswith("theorybench_external_"):
            return importlib.import_module(module_name)
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise RegistryError(f"{path}: not a Python module; give the path of a .py file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
        return module
    except RegistryError:
        raise
    except SyntaxError as error:
        raise RegistryError(
            f"{error.filename or path}:{error.lineno}: failed to import: SyntaxError: {error.msg}"
        ) from error
    except (Exception, SystemExit) as error:
        location = _innermost_location(error, path)
        raise RegistryError(
            f"{location}: failed to import: {type(error).__name__}: {error}. "
            "Fix the module or install what it imports."
        ) from error


def _innermost_location(error: BaseException, path: str) -> str:
    """Return `file:line` of the deepest traceback frame inside `path`, or `path` alone."""
    location = path
    for frame in traceback.extract_tb(error.__traceback__):
        if Path(frame.filename).resolve() == Path(path).resolve():
            location = f"{path}:{frame.lineno}"
    return location


def external_module_name(path: Path) -> str:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:10]
    stem = re.sub(r"\W", "_", path.stem)
    return f"theorybench_external_{digest}_{stem}"


def implementation_classes(module: ModuleType, contract: type[Implementation]) -> list[type[Implementation]]:
    """Return the concrete classes defined in `module` that subclass `contract` and set a name."""
    classes = []
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if cls.__module__ != module.__name__ or not issubclass(cls, contract) or cls is contract:
            continue
        if inspect.isabstract(cls) or not cls.__dict__.get("name", cls.name):
            continue
        classes.append(cls)
    return classes


def discover_suites() -> dict[str, Suite]:
    """Import every suite package under `theorybench.suites` and return one instance of each, by name.

    No implementation module is imported, so readers of results (the app) can call this safely.
    """
    import theorybench.suites as suites_package

    suites: dict[str, Suite] = {}
    for info in sorted(pkgutil.iter_modules(suites_package.__path__), key=lambda info: info.name):
        if not info.ispkg or info.name.startswith("_"):
            continue
        package_name = f"theorybench.suites.{info.name}"
        try:
            package = importlib.import_module(package_name)
        except Exception as error:
            raise RegistryError(f"suite package suites/{info.name} failed to import: {type(error).__name__}: {error}") from error
        found = [
            cls for _, cls in inspect.getmembers(package, inspect.isclass)
            if issubclass(cls, Suite) and cls is not Suite and cls.name and cls.__module__.startswith(package_name)
        ]
        if len(found) != 1:
            raise RegistryError(f"suites/{info.name} must define exactly one Suite subclass with a name, found {len(found)}")
        suite = found[0]()
        suites[suite.name] = suite
    return suites


class Registry:
    """The suites and implementations visible to one command."""

    def __init__(self, extra_paths: Iterable[str | Path] = (), entry_points: bool = True):
        self._suites = discover_suites()
        self._implementations: dict[str, list[ImplementationRef]] = {name: [] for name in self._suites}
        self.added: list[ImplementationRef] = []
        for suite_name in self._suites:
            self._discover_bundled(suite_name)
        if entry_points:
            self._discover_entry_points()
        for path in extra_paths:
            self.added.extend(self.add_path(path))

    def _discover_bundled(self, suite_name: str) -> None:
        try:
            package = importlib.import_module(f"theorybench.impls.{suite_name}")
        except ModuleNotFoundError:
            return
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
            if info.name.startswith("_"):
                continue
            module_name = f"theorybench.impls.{suite_name}.{info.name}"
            path = str(Path(info.module_finder.path) / f"{info.name}.py")
            module = load_module(module_name, path)
            self._register_module(module, path, "bundled", expected_suite=suite_name)

    def _discover_entry_points(self) -> None:
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                module = importlib.import_module(entry_point.value.split(":")[0])
            except Exception as error:
                raise RegistryError(
                    f"entry point {entry_point.name!r} ({entry_point.value}) of group {ENTRY_POINT_GROUP} "
                    f"failed to import: {type(error).__name__}: {error}"
                ) from error
            self._register_module(module, module.__file__ or "", "entry-point")

    def add_path(self, path: str | Path) -> list[ImplementationRef]:
        """Load an implementation module from a path outside the repository and register it."""
        file = Path(path)
        if file.is_dir():
            raise UsageError(f"{path} is a folder; give the path of the implementation's .py file")
        if not file.is_file():
            raise UsageError(f"implementation file not found: {path}")
        if file.suffix != ".py":
            raise UsageError(f"{path}: an implementation must be a .py file")
        file = file.resolve()
        module = load_module(external_module_name(file), str(file))
        return self._register_module(module, str(file), "path")

    def _register_module(self, module: ModuleType, path: str, origin: str, expected_suite: str | None = None) -> list[ImplementationRef]:
        refs = []
        suites = [self._suites[expected_suite]] if expected_suite else list(self._suites.values())
        for suite in suites:
            for cls in implementation_classes(module, suite.contract):
                refs.append(self._make_ref(suite, cls, module, path, origin))
        if not refs:
            contracts = ", ".join(f"{suite.contract.__name__} (suite {suite.name})" for suite in suites)
            raise RegistryError(
                f"{path}: defines no implementation; subclass one of {contracts} and set its `name`"
            )
        for ref in refs:
            self._add(ref)
        return refs

    def _make_ref(self, suite: Suite, cls: type[Implementation], module: ModuleType, path: str, origin: str) -> ImplementationRef:
        if not SLUG.match(cls.name):
            raise RegistryError(
                f"{path}: {cls.__name__}.name = {cls.name!r} is not a slug; use lowercase letters, digits, '-', '_' or '.'"
            )
        return ImplementationRef(
            suite=suite.name,
            name=cls.name,
            module=module.__name__,
            path=path,
            class_name=cls.__qualname__,
            source_hash=source_hash(path) if path else "",
            origin=origin,
            metadata=cls.metadata(),
        )

    def _add(self, ref: ImplementationRef) -> None:
        existing = [other for other in self._implementations[ref.suite] if other.name == ref.name]
        if existing and existing[0].path != ref.path:
            raise RegistryError(
                f"{ref.path}: implementation name {ref.name!r} is already used by {existing[0].path} "
                f"in suite {ref.suite!r}; choose another `name`"
            )
        if not existing:
            self._implementations[ref.suite].append(ref)

    def suites(self) -> dict[str, Suite]:
        return dict(self._suites)

    def suite(self, name: str) -> Suite:
        try:
            return self._suites[name]
        except KeyError:
            raise UsageError(f"unknown suite {name!r}; known suites: {', '.join(self._suites) or 'none'}") from None

    def implementations(self, suite: str | None = None) -> list[ImplementationRef]:
        if suite is not None:
            return list(self._implementations[self.suite(suite).name])
        return [ref for refs in self._implementations.values() for ref in refs]


def load_implementation_class(ref_module: str, path: str, class_name: str) -> type[Implementation]:
    """Load an implementation class in a worker from what an ImplementationRef stores."""
    module = load_module(ref_module, path)
    target = module
    for part in class_name.split("."):
        target = getattr(target, part)
    return target  # type: ignore[return-value]
