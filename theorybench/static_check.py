"""Static checks of an implementation's source before it runs.

The checks read the module's syntax tree and flag what an honest implementation never needs:

- private attributes of objects the harness owns (`problem._counter`, `getattr(x, "_y")`,
  `vars(x)`, `x.__dict__`, frame and garbage-collector introspection that reaches the
  harness's locals);
- monkeypatching of `theorybench` modules or of the classes and objects imported from them
  (assignment, deletion, `setattr`, in-place mutation, `sys.modules` edits, `mock.patch`), and
  assignment to attributes of objects the harness passes to the implementation's methods;
- network access (socket, HTTP and similar client modules) and file access outside the working
  directory (absolute, home or parent paths, `os.chdir`, temporary folders, child processes).

A static check cannot see every dynamic trick; the worker's isolation and the harness's own
counting remain the real defence. Each finding names the file, line and column.
"""

from __future__ import annotations

import ast
import dataclasses
import logging
from pathlib import Path
from typing import Iterable

logger = logging.getLogger(__name__)

#: Top-level modules that open network connections.
NETWORK_MODULES = frozenset({
    "socket", "ssl", "http", "urllib", "urllib3", "requests", "httpx", "aiohttp", "ftplib", "smtplib",
    "poplib", "imaplib", "telnetlib", "xmlrpc", "socketserver", "asyncssh", "paramiko", "websocket",
    "websockets", "grpc", "zmq", "pycurl",
})
#: Modules that start child processes, which escape every other check.
PROCESS_MODULES = frozenset({"subprocess", "pty", "multiprocessing"})
#: Calls that start processes or leave the working directory, by dotted name.
FORBIDDEN_CALLS = {
    "os.system": "starts a shell command",
    "os.popen": "starts a shell command",
    "os.execv": "replaces the process", "os.execve": "replaces the process", "os.execvp": "replaces the process",
    "os.spawnv": "starts a process", "os.spawnl": "starts a process", "os.fork": "forks the process",
    "os.chdir": "changes the working directory",
    "os.path.expanduser": "reaches the home directory",
    "pathlib.Path.home": "reaches the home directory",
    "Path.home": "reaches the home directory",
    "tempfile.mkdtemp": "writes outside the working directory",
    "tempfile.mkstemp": "writes outside the working directory",
    "tempfile.TemporaryDirectory": "writes outside the working directory",
    "tempfile.NamedTemporaryFile": "writes outside the working directory",
    "tempfile.TemporaryFile": "writes outside the working directory",
    "tempfile.gettempdir": "reaches a folder outside the working directory",
    "sys._getframe": "inspects the caller's frame (the harness's locals)",
    "inspect.currentframe": "inspects the caller's frame (the harness's locals)",
    "inspect.stack": "inspects the caller's frames (the harness's locals)",
    "inspect.getouterframes": "inspects the caller's frames (the harness's locals)",
    "gc.get_objects": "walks every live object, the harness's included",
    "gc.get_referrers": "walks the objects referring to an object, the harness's included",
    "ctypes.cast": "reads raw memory",
}
#: Calls whose first argument (or `file=`/`path=`) is a file path.
PATH_CALLS = frozenset({
    "open", "io.open", "os.open", "os.remove", "os.unlink", "os.rename", "os.replace", "os.makedirs", "os.mkdir",
    "os.rmdir", "os.listdir", "os.scandir", "os.walk", "shutil.copy", "shutil.copyfile", "shutil.copytree",
    "shutil.rmtree", "shutil.move", "pathlib.Path", "Path", "numpy.load", "numpy.save", "numpy.savez",
    "numpy.loadtxt", "numpy.savetxt", "numpy.fromfile", "torch.load", "torch.save", "pickle.load", "pandas.read_csv",
    "json.load", "sqlite3.connect",
})
#: In-place mutators of dicts, lists and sets.
MUTATING_METHODS = frozenset({
    "update", "clear", "pop", "popitem", "setdefault", "append", "extend", "insert", "remove", "add", "discard",
    "__setitem__", "__delitem__", "__setattr__", "__delattr__",
})
#: Attributes that reach functions' globals, closures, frames or class hierarchies, and through
#: them the harness's counters; an implementation never needs them.
INTROSPECTION_ATTRIBUTES = frozenset({
    "__globals__", "__closure__", "__code__", "__func__", "__self__", "__builtins__", "__subclasses__",
    "__mro__", "__bases__", "__base__", "cell_contents", "f_globals", "f_locals", "f_back", "gi_frame", "gi_code",
    "tb_frame", "cr_frame", "ag_frame",
})
#: Calls that read or write an attribute named by their arguments.
ATTRIBUTE_GETTERS = frozenset({"operator.attrgetter", "operator.methodcaller", "attrgetter", "methodcaller"})
#: Generic attribute access through the object protocol, with the attribute name as argument.
PROTOCOL_CALLS = frozenset({
    "object.__getattribute__", "object.__setattr__", "object.__delattr__", "type.__setattr__",
    "type.__getattribute__", "type.__delattr__",
})
#: Leading-underscore names that are public by convention (namedtuple's API).
PUBLIC_UNDERSCORE_NAMES = frozenset({"_replace", "_asdict", "_fields", "_make", "_field_defaults"})
OWN_NAMES = frozenset({"self", "cls"})


@dataclasses.dataclass(frozen=True)
class Finding:
    """One flagged construct: where it is, which rule, and why it is not allowed."""

    path: str
    line: int
    column: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: [{self.rule}] {self.message}"


def check_file(path: str | Path) -> list[Finding]:
    """Parse the file at `path` and return its findings, in source order.

    Raises SyntaxError when the file does not parse.
    """
    source = Path(path).read_text(encoding="utf-8")
    return check_source(source, str(path))


def check_source(source: str, path: str = "<source>") -> list[Finding]:
    """Return the findings of a module's source text, in source order."""
    tree = ast.parse(source, filename=path)
    checker = _Checker(path, tree)
    checker.visit(tree)
    return sorted(checker.findings, key=lambda finding: (finding.line, finding.column, finding.rule))


def _dotted(node: ast.AST) -> str | None:
    """Return `a.b.c` for a chain of names and attributes, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _root_name(node: ast.AST) -> str | None:
    """Return the name at the root of an attribute, subscript or call chain."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__")) and name not in PUBLIC_UNDERSCORE_NAMES


def _string_constant(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    return None


def _escapes_working_directory(path: str) -> bool:
    if path.startswith(("/", "~", "\\")) or (len(path) > 1 and path[1] == ":"):
        return True
    return ".." in Path(path).parts


class _Checker(ast.NodeVisitor):
    def __init__(self, path: str, tree: ast.Module):
        self.path = path
        self.findings: list[Finding] = []
        #: Local name -> full dotted module or object name it was imported as.
        self.imports: dict[str, str] = {}
        self.own_private_names = self._collect_own_private_names(tree)
        #: Parameters (other than self/cls) of the methods being visited: harness-owned objects.
        self.harness_parameters: list[set[str]] = []

    # -- bookkeeping --------------------------------------------------------------------------

    def flag(self, node: ast.AST, rule: str, message: str) -> None:
        self.findings.append(Finding(self.path, getattr(node, "lineno", 0), getattr(node, "col_offset", 0) + 1, rule, message))

    @staticmethod
    def _collect_own_private_names(tree: ast.Module) -> set[str]:
        """Private names the module defines itself: `self._x = ...`, class attributes, functions."""
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and _root_name(node) in OWN_NAMES:
                names.add(node.attr)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
        return {name for name in names if name.startswith("_")}

    def _resolve(self, node: ast.AST) -> str | None:
        """Return the dotted name of `node` with its root replaced by what it was imported as."""
        dotted = _dotted(node)
        if dotted is None:
            return None
        root, _, rest = dotted.partition(".")
        if root in self.imports:
            return self.imports[root] + ("." + rest if rest else "")
        return dotted

    def _is_theorybench(self, node: ast.AST) -> bool:
        root = _root_name(node)
        return root is not None and self.imports.get(root, "").split(".")[0] == "theorybench"

    def _is_module_alias(self, name: str | None) -> bool:
        return name is not None and name in self.imports and self.imports[name].split(".")[0] != "theorybench"

    def _is_harness_parameter(self, name: str | None) -> bool:
        return name is not None and any(name in parameters for parameters in self.harness_parameters)

    # -- imports ------------------------------------------------------------------------------

    def _check_module_name(self, node: ast.AST, module: str) -> None:
        top = module.split(".")[0]
        if top in NETWORK_MODULES:
            self.flag(node, "network", f"imports {module}, a network module; implementations must not use the network")
        elif top in PROCESS_MODULES:
            self.flag(node, "process", f"imports {module}; implementations must not start other processes")
        elif top == "ctypes":
            self.flag(node, "private-access", "imports ctypes, which reads and writes raw memory of harness objects")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module_name(node, alias.name)
            if alias.asname:
                self.imports[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.imports[top] = top
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level == 0:
            self._check_module_name(node, module)
        for alias in node.names:
            if _is_private(alias.name) and module.split(".")[0] == "theorybench":
                self.flag(node, "private-access", f"imports the private name {alias.name} from {module}")
            self.imports[alias.asname or alias.name] = f"{module}.{alias.name}" if module else alias.name
            if node.level == 0 and module.split(".")[0] != "theorybench":
                self._check_module_name(node, f"{module}.{alias.name}")
        self.generic_visit(node)

    # -- functions: parameters the harness passes ---------------------------------------------

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        arguments = node.args
        names = [arg.arg for arg in arguments.posonlyargs + arguments.args + arguments.kwonlyargs]
        is_method = bool(names) and names[0] in OWN_NAMES
        self.harness_parameters.append(set(names[1:]) if is_method else set())
        self.generic_visit(node)
        self.harness_parameters.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    # -- attribute access ---------------------------------------------------------------------

    def visit_Attribute(self, node: ast.Attribute) -> None:
        root = _root_name(node.value)
        owner_is_own = isinstance(node.value, ast.Name) and node.value.id in OWN_NAMES
        owner_is_super = isinstance(node.value, ast.Call) and _dotted(node.value.func) == "super"
        if node.attr in INTROSPECTION_ATTRIBUTES:
            self.flag(node, "private-access", f"reads {_dotted(node) or node.attr}, which reaches code and data of the "
                      "harness through introspection")
        elif _dotted(node) == "sys.modules":
            self.flag(node, "monkeypatch", "uses sys.modules, which reaches the loaded theorybench modules by name")
        elif node.attr == "__dict__" and not owner_is_own:
            self.flag(node, "private-access", f"reads {_dotted(node) or '__dict__'}, the attribute table of another object")
        elif _is_private(node.attr) and not owner_is_own and not owner_is_super:
            if self._is_theorybench(node.value):
                self.flag(node, "private-access", f"accesses the private attribute {node.attr} of a theorybench object")
            elif self._is_harness_parameter(root):
                self.flag(node, "private-access",
                          f"accesses the private attribute {node.attr} of {_dotted(node.value) or root}, "
                          "an object the harness passed in; use its public interface")
            elif self._is_module_alias(root) and isinstance(node.value, ast.Name):
                pass  # a third-party module's private API: fragile, but not the harness
            elif node.attr not in self.own_private_names:
                self.flag(node, "private-access",
                          f"accesses the private attribute {node.attr} of {_dotted(node.value) or 'an object'}, "
                          "which the implementation does not define; use the public interface")
        self.generic_visit(node)

    # -- assignments: monkeypatching and tampering --------------------------------------------

    def _check_target(self, target: ast.AST, verb: str) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._check_target(element, verb)
            return
        if not isinstance(target, (ast.Attribute, ast.Subscript)):
            return
        root = _root_name(target)
        text = ast.unparse(target)
        if self._is_theorybench(target):
            self.flag(target, "monkeypatch", f"{verb} {text}, part of a theorybench module")
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Call) and _dotted(target.value.func) == "type":
            self.flag(target, "monkeypatch", f"{verb} {text}, an attribute of a class obtained with type(), for every caller")
        elif root == "sys" and isinstance(target, ast.Subscript) and _dotted(target.value) == "sys.modules":
            self.flag(target, "monkeypatch", f"{verb} an entry of sys.modules")
        elif self._is_harness_parameter(root) and isinstance(target, ast.Attribute):
            self.flag(target, "tamper", f"{verb} {text}, an attribute of {root}, an object the harness passed in")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_target(target, "assigns")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_target(node.target, "modifies")
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._check_target(node.target, "assigns")
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._check_target(target, "deletes")
        self.generic_visit(node)

    # -- calls ----------------------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        name = self._resolve(node.func)
        if name is not None:
            self._check_call(node, name)
        self.generic_visit(node)

    def _check_call(self, node: ast.Call, name: str) -> None:
        first = node.args[0] if node.args else None
        second = _string_constant(node.args[1]) if len(node.args) > 1 else None
        if name in FORBIDDEN_CALLS:
            rule = "process" if "process" in FORBIDDEN_CALLS[name] or "shell" in FORBIDDEN_CALLS[name] or "forks" in FORBIDDEN_CALLS[name] else (
                "private-access" if "harness" in FORBIDDEN_CALLS[name] or "memory" in FORBIDDEN_CALLS[name] else "file")
            self.flag(node, rule, f"calls {name}, which {FORBIDDEN_CALLS[name]}")
        if name in ("setattr", "delattr") and first is not None:
            if self._is_theorybench(first) or (_root_name(first) == "sys" and _dotted(first) == "sys.modules"):
                self.flag(node, "monkeypatch", f"calls {name} on {_dotted(first)}, part of a theorybench module")
            elif self._is_harness_parameter(_root_name(first)):
                self.flag(node, "tamper", f"calls {name} on {_dotted(first)}, an object the harness passed in")
            elif second is not None and _is_private(second) and _root_name(first) not in OWN_NAMES:
                self.flag(node, "private-access", f"calls {name} with the private attribute {second!r}")
        if name in ("getattr", "hasattr", "object.__getattribute__") and second is not None and _is_private(second):
            if first is None or _root_name(first) not in OWN_NAMES:
                self.flag(node, "private-access", f"calls {name} with the private attribute {second!r}")
        if name in ATTRIBUTE_GETTERS:
            for argument in node.args:
                attribute = _string_constant(argument)
                if attribute is None or any(_is_private(part) for part in attribute.split(".")):
                    self.flag(node, "private-access", f"calls {name} with a computed or private attribute name")
                    break
        if name in PROTOCOL_CALLS and len(node.args) > 1 and (second is None or _is_private(second)):
            self.flag(node, "private-access", f"calls {name} with a computed or private attribute name")
        if name in ("setattr", "delattr") and isinstance(first, ast.Call) and _dotted(first.func) == "type":
            self.flag(node, "monkeypatch", f"calls {name} on a class obtained with type(), changing it for every caller")
        computed_name = len(node.args) > 1 and second is None
        if name in ("getattr", "hasattr", "setattr", "delattr", "object.__getattribute__") and computed_name and first is not None:
            if self._is_harness_parameter(_root_name(first)):
                self.flag(node, "private-access", f"calls {name} on {_dotted(first)}, an object the harness passed in, with a "
                          "computed attribute name; use its public attributes by name")
        if name == "vars" and first is not None and _root_name(first) not in OWN_NAMES:
            self.flag(node, "private-access", f"calls vars() on {_dotted(first) or 'an object'}, reading its private state")
        if name in ("__import__", "importlib.import_module") and _string_constant(first):
            self._check_module_name(node, _string_constant(first) or "")
        if name.split(".")[-1] in MUTATING_METHODS and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if self._is_theorybench(owner):
                self.flag(node, "monkeypatch", f"calls {name.split('.')[-1]}() on {_dotted(owner)}, part of a theorybench module")
            elif _dotted(owner) == "sys.modules":
                self.flag(node, "monkeypatch", f"calls {name.split('.')[-1]}() on sys.modules")
        if self._is_patch_call(name) and self._patches_theorybench(node):
            self.flag(node, "monkeypatch", f"calls {name} on a theorybench target")
        if name in PATH_CALLS or name.endswith((".open", ".write_text", ".write_bytes", ".read_text", ".read_bytes")):
            self._check_path_argument(node, name)

    @staticmethod
    def _is_patch_call(name: str) -> bool:
        return name.split(".")[-1] in ("patch", "setattr", "object") and ("mock" in name or "monkeypatch" in name)

    def _patches_theorybench(self, node: ast.Call) -> bool:
        for argument in node.args[:1]:
            text = _string_constant(argument)
            if (text is not None and text.startswith("theorybench")) or self._is_theorybench(argument):
                return True
        return False

    def _check_path_argument(self, node: ast.Call, name: str) -> None:
        candidates: Iterable[ast.AST | None] = [node.args[0] if node.args else None]
        candidates = [*candidates, *(keyword.value for keyword in node.keywords if keyword.arg in ("file", "path", "f", "fname"))]
        if isinstance(node.func, ast.Attribute) and not node.args:
            candidates = [*candidates, node.func.value.args[0] if isinstance(node.func.value, ast.Call) and node.func.value.args else None]
        for candidate in candidates:
            text = _string_constant(candidate)
            if text is not None and _escapes_working_directory(text):
                self.flag(node, "file", f"calls {name} on {text!r}, outside the working directory; "
                                        "read and write files only below the working directory")
