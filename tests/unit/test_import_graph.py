"""scripts/import_graph.py finds no circle and no upward import, and would find them."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "import_graph.py"


def _load() -> ModuleType:
    if "import_graph" in sys.modules:
        return sys.modules["import_graph"]
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_the_package_has_no_circle_and_no_upward_import() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "module-level: " in result.stdout
    assert " 0 circles, 0 upward imports" in result.stdout


def test_circles_are_found() -> None:
    graph = _load()
    edges = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "e"), ("e", "d")]
    assert graph.circles(edges) == [["a", "b", "c"], ["d", "e"]]
    assert graph.circles([("a", "b"), ("b", "c")]) == []


def test_layers_point_one_way() -> None:
    graph = _load()
    assert graph.points_up("inloop.context", "inloop.flows")
    assert not graph.points_up("inloop.flows", "inloop.engine")
    assert graph.points_up("inloop.server.store.runs", "inloop.server.answering")
    assert not graph.points_up("inloop.server.api.inbox", "inloop.server.store.inbox")
    # The SDK and the server stand side by side: neither imports the other.
    assert graph.points_up("inloop.server.api.inbox", "inloop")
    assert graph.points_up("inloop.client", "inloop.server.store.runs")
    assert not graph.points_up("inloop.cli.server", "inloop.server.serve")
    # The longest pattern wins: inloop.input.types is base, inloop.input is not.
    assert graph.layer_of("inloop.input.types")[2] == "base"
    assert graph.layer_of("inloop.input")[2] == "steps"


def test_imports_inside_functions_are_told_apart(tmp_path: Path) -> None:
    graph = _load()
    modules = {"inloop.a": tmp_path / "a.py", "inloop.b": tmp_path / "b.py"}
    visitor = graph._Imports("inloop.a", False, modules)
    visitor.visit(ast.parse("from inloop import b\n\ndef f():\n    import inloop.b\n"))
    assert [(i.target, i.in_function) for i in visitor.found] == [
        ("inloop.b", False),
        ("inloop.b", True),
    ]
