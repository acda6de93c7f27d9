"""Imports go one way: no module of the library or of a service imports, directly or through
others, a module that imports it back, not even from inside a function (imports under
`if TYPE_CHECKING:` are for the type checker only and are not counted)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"hipflask": ROOT / "shared" / "hipflask"} | {
    path.name: path for path in (ROOT / "services").glob("*/*") if (path / "__init__.py").is_file()}


def module_name(package: str, path: Path) -> str:
    return package if path.name == "__init__.py" else f"{package}.{path.stem}"


def imported(package: str, node: ast.AST) -> set[str]:
    """The project modules one import statement names."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name.split(".")[0] in PACKAGES}
    if not isinstance(node, ast.ImportFrom):
        return set()
    target = f"{package}.{node.module}" if node.level and node.module else package if node.level else node.module
    top = (target or "").split(".")[0]
    if top not in PACKAGES:
        return set()
    if target != top:
        return {target}
    return {f"{top}.{alias.name}" if (PACKAGES[top] / f"{alias.name}.py").is_file() else top for alias in node.names}


def is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports_of(package: str, path: Path) -> set[str]:
    found: set[str] = set()
    todo: list[ast.AST] = [ast.parse(path.read_text(), str(path))]
    while todo:
        node = todo.pop()
        if is_type_checking_block(node):
            continue
        found |= imported(package, node)
        todo.extend(ast.iter_child_nodes(node))
    return found


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for package, folder in PACKAGES.items():
        for path in folder.glob("*.py"):
            name = module_name(package, path)
            graph[name] = imports_of(package, path) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return path[path.index(name):] + [name]
        if name in done or name not in graph:
            return None
        for dependency in sorted(graph[name]):
            cycle = visit(dependency, path + [name])
            if cycle:
                return cycle
        done.add(name)
        return None

    for name in sorted(graph):
        cycle = visit(name, [])
        if cycle:
            return cycle
    return None


def test_the_graph_covers_the_library_and_every_service():
    graph = import_graph()
    assert {"hipflask.factory", "hipflask.access", "store.routes", "kv.routes", "fs.routes"} <= set(graph)


def test_no_module_imports_itself_back_through_others():
    assert find_cycle(import_graph()) is None


def test_the_cycle_finder_reports_a_cycle_of_three():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_an_import_inside_a_function_is_counted_and_a_type_checking_one_is_not(tmp_path):
    module = tmp_path / "example.py"
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from hipflask.state import State\n"
                      "def later():\n    from hipflask import access\n")
    assert imports_of("hipflask", module) == {"hipflask.access"}
