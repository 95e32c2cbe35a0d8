"""The package's shape (shared/DESIGN.md, "Modules"), checked by walking each module's AST.

- no module over 500 lines, no function body over 50 lines;
- no module imports an underscore name from another imgbatch module;
- the library never imports ``imgbatch.cli`` (the CLI depends on the library, not the reverse);
- the modules' import-time dependencies form no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "imgbatch"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 50


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute name ``from X import ...`` in ``module`` refers to."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base.pop()
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _top_level_imports(module: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names, line) of the imports that run when ``module`` is imported.

    Imports inside functions are lazy (optional frameworks, the CLI's subcommands) and do not
    count towards cycles, but do count for the other rules (see ``_all_imports``).
    """
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            found.append((_resolve(module, node), [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found.extend((a.name, [], node.lineno) for a in node.names)
    return found


def _all_imports(module: str) -> list[tuple[str, list[str], int]]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found.append((_resolve(module, node), [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found.extend((a.name, [], node.lineno) for a in node.names)
    return found


def _dependencies(module: str) -> set[str]:
    """The imgbatch modules ``module`` imports at import time (``from pkg import sub`` too)."""
    deps = set()
    for target, names, _ in _top_level_imports(module):
        if target == "__future__" or not target.startswith("imgbatch"):
            continue
        submodules = {f"{target}.{name}" for name in names} & set(MODULES)
        deps |= submodules
        if target in MODULES and len(submodules) < len(names):
            # `from pkg import name` needs pkg's __init__ run unless every name is a submodule
            deps.add(target)
    deps.discard(module)
    return deps


def test_the_walk_finds_the_package() -> None:
    assert {"imgbatch", "imgbatch.loader", "imgbatch.cli", "imgbatch.manifest"} <= set(MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{module} has {lines} lines: split it by job"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_function_size(module: str) -> None:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    long = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]  # the docstring does not count
            if body:
                lines = (body[-1].end_lineno or body[-1].lineno) - body[0].lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{node.name} (line {node.lineno}): {lines} lines")
    assert not long, f"{module}: functions over {MAX_FUNCTION_LINES} lines: {long}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_imported_from_another_module(module: str) -> None:
    bad = [
        f"line {line}: from {target} import {name}"
        for target, names, line in _all_imports(module)
        if target.startswith("imgbatch") and target != module
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert not bad, f"{module} reaches into private names: {bad}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.startswith("imgbatch.cli")))
def test_the_library_never_imports_the_cli(module: str) -> None:
    cli = [
        f"line {line}: {target}"
        for target, names, line in _all_imports(module)
        if target.startswith("imgbatch.cli") or (target == "imgbatch" and "cli" in names)
    ]
    if module == "imgbatch.__main__":  # `python -m imgbatch` is the command itself
        return
    assert not cli, f"{module} imports the CLI: {cli}"


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` (as a path that ends where it starts), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_cycles() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle() -> None:
    cycle = _find_cycle({m: _dependencies(m) for m in MODULES})
    assert cycle is None, f"import cycle: {' -> '.join(cycle or [])}"
