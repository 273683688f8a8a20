"""The server's layers point one way: store -> access; answering -> store + access; api ->
answering. Read from the import statements (ast), so no module has to be imported to check."""

from __future__ import annotations

import ast
from pathlib import Path

import inloop

SRC = Path(inloop.__file__).parent
SERVER = SRC / "server"
WEB = ("fastapi", "starlette")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, absolute (`from . import x` resolved against its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from inloop.server import answering` imports the module inloop.server.answering.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _source(module: str) -> Path | None:
    path = SRC.parent.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _closure(start: Path) -> dict[str, Path]:
    """Every inloop module reachable from `start` through imports (packages' __init__ too)."""
    seen: dict[str, Path] = {}
    todo = [start]
    while todo:
        path = todo.pop()
        name = _module_name(path)
        if name in seen:
            continue
        seen[name] = path
        for module in _imports(path):
            parts = module.split(".")
            for i in range(1, len(parts) + 1):
                found = _source(".".join(parts[:i])) if parts[0] == "inloop" else None
                if found is not None:
                    todo.append(found)
    return seen


def _web_imports(path: Path) -> set[str]:
    return {m for m in _imports(path) if m.split(".")[0] in WEB}


def test_no_store_module_imports_the_api() -> None:
    offenders = {
        _module_name(path): sorted(m for m in _imports(path) if m.startswith("inloop.server.api"))
        for path in (SERVER / "store").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_access_and_answering_use_no_web_framework_even_indirectly() -> None:
    # The walk itself works: it reaches what access.py imports, and what that imports.
    assert {"inloop.server.errors", "inloop.schemas", "inloop.bounds"} <= set(
        _closure(SERVER / "access.py")
    )
    for module in ("access.py", "answering.py"):
        reached = _closure(SERVER / module)
        web = {name: sorted(_web_imports(path)) for name, path in reached.items()}
        assert {k: v for k, v in web.items() if v} == {}, module
        assert not [name for name in reached if name.startswith("inloop.server.api")], module
    # Stores use access, so access uses no store (the arrow points one way).
    assert not [n for n in _closure(SERVER / "access.py") if n.startswith("inloop.server.store")]


def test_only_answering_resumes_a_pause() -> None:
    """Every answer goes through inloop.server.answering: nothing else calls the store's
    resume functions (the store defines them; answering calls them)."""
    resumers = {"resume_run", "resume_overdue_with_defaults"}
    callers = set()
    for path in SRC.rglob("*.py"):
        if path in (SERVER / "store" / "pauses.py", SERVER / "answering.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in resumers
                and not (isinstance(node.value, ast.Name) and node.value.id == "answering")
            ):
                callers.add(_module_name(path))
            if isinstance(node, ast.ImportFrom) and any(
                alias.name in resumers for alias in node.names
            ):
                callers.add(_module_name(path))
    assert callers == set()
