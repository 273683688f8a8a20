#!/usr/bin/env python3
"""inloop's import graph: how big it is, whether it has circles, whether any import points up.

    python scripts/import_graph.py

Reads every module under src/inloop with `ast` (nothing is imported) and builds two graphs of the
imports between inloop's own modules: the module-level one (what runs at import, plus the
`if TYPE_CHECKING:` imports, which are dependencies all the same) and the full one, which adds
the imports written inside functions. It prints the modules' count, the largest module, every
circle (a strongly connected component of more than one module) and every import from a lower
layer to a higher one, in both graphs. It exits 1 if either graph has any: an import tucked into
a function to hide a circle is still a circle.

The layers below are what the code is, lowest first. Two stacks stand on a shared base: the SDK
(what a flow imports) and the server; the CLI stands on both. A module may import from its own
layer, from a lower layer of its own stack, or from a stack below its own; nothing else.
"""

from __future__ import annotations

import ast
import fnmatch
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "inloop"

# Which stacks each stack stands on.
STACKS: dict[str, frozenset[str]] = {
    "shared": frozenset(),
    "sdk": frozenset({"shared"}),
    "server": frozenset({"shared"}),
    "cli": frozenset({"shared", "sdk", "server"}),
}

# (stack, layer, module patterns), lowest layer first. A pattern names a module and everything
# under it, or is an fnmatch pattern; a module belongs to the longest pattern that matches it.
LAYERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # Values, bounds and settings with no I/O; the dual-call rule.
    ("shared", "base", (
        "inloop._dual", "inloop._version", "inloop.assignees", "inloop.bounds",
        "inloop.event_kinds", "inloop.input.types", "inloop.names", "inloop.settings",
    )),
    # The wire models both sides validate with.
    ("shared", "models", ("inloop.schemas", "inloop.automations")),
    # The current run, which the client reads to send the run's token.
    ("sdk", "context", ("inloop.context",)),
    ("sdk", "client", ("inloop.client",)),
    # One area each, spoken through the client.
    ("sdk", "areas", (
        "inloop.logging", "inloop.blocks", "inloop.deployments", "inloop.input.run_input",
    )),
    ("sdk", "engine", ("inloop.engine",)),
    # What a flow calls while it runs.
    ("sdk", "steps", (
        "inloop.tasks", "inloop._verdicts", "inloop.flow_runs",
        "inloop.input",
    )),
    ("sdk", "runner", ("inloop._parameters", "inloop.runner")),
    ("sdk", "flows", ("inloop.flows",)),
    # The public API (re-exports everything lazily) and the process a runner starts.
    ("sdk", "entry", ("inloop", "inloop._execute")),
    # Small pieces with no database: errors, wake-ups, tokens' signing, password hashing.
    ("server", "base", (
        "inloop.server", "inloop.server.errors", "inloop.server.wakeups",
        "inloop.server.middleware", "inloop.server.security", "inloop.server.link_tokens",
        "inloop.server.silence", "inloop.server.sso_logins", "inloop.server.passwords",
        "inloop.server.throttle", "inloop.server.automations.egress",
        "inloop.server.automations.redaction", "inloop.server.automations.templates",
    )),
    ("server", "access", ("inloop.server.access",)),
    ("server", "database", ("inloop.server.database",)),
    ("server", "store", ("inloop.server.store",)),
    # Rules over the stores: who is asking, who may answer, answering itself.
    ("server", "services", (
        "inloop.server.run_tokens", "inloop.server.identity", "inloop.server.permissions",
        "inloop.server.oidc", "inloop.server.answering",
    )),
    ("server", "automations", ("inloop.server.automations",)),
    ("server", "api", ("inloop.server.api",)),
    ("server", "app", ("inloop.server.app", "inloop.server.serve")),
    ("cli", "cli", ("inloop.cli", "inloop.__main__")),
)


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    in_function: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted((SRC / PACKAGE).rglob("*.py"))}


class _Imports(ast.NodeVisitor):
    def __init__(self, source: str, is_package: bool, modules: dict[str, Path]) -> None:
        self.source = source
        self.package = source if is_package else source.rpartition(".")[0]
        self.modules = modules
        self.depth = 0
        self.found: list[Import] = []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def _add(self, target: str, node: ast.stmt) -> None:
        if target in self.modules and target != self.source:
            self.found.append(Import(self.source, target, node.lineno, self.depth > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            anchor = self.package.split(".")[: len(self.package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            # `from inloop.server.store import runs` imports the module inloop.server.store.runs;
            # `from inloop.schemas import FlowRun` imports inloop.schemas.
            submodule = f"{base}.{alias.name}"
            self._add(submodule if submodule in self.modules else base, node)


def find_imports(modules: dict[str, Path]) -> list[Import]:
    found: list[Import] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        visitor = _Imports(name, path.name == "__init__.py", modules)
        visitor.visit(tree)
        found.extend(visitor.found)
    return found


def layer_of(module: str) -> tuple[int, str, str] | None:
    """(rank, stack, layer) of the longest pattern matching `module`, or None."""
    best: tuple[int, int, str, str] | None = None
    for rank, (stack, layer, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            matches = (
                fnmatch.fnmatchcase(module, pattern)
                if "*" in pattern
                else module == pattern or module.startswith(pattern + ".")
            )
            if matches and (best is None or len(pattern) > best[0]):
                best = (len(pattern), rank, stack, layer)
    return None if best is None else best[1:]


def points_up(source: str, target: str) -> bool:
    src, dst = layer_of(source), layer_of(target)
    assert src is not None and dst is not None
    if src[1] == dst[1]:
        return dst[0] > src[0]
    return dst[1] not in STACKS[src[1]]


def circles(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def report(title: str, imports: list[Import]) -> int:
    edges = {(i.source, i.target) for i in imports}
    found = circles(edges)
    upward = sorted(
        {(i.source, i.line, i.target) for i in imports if points_up(i.source, i.target)}
    )
    print(f"{title}: {len(edges)} imports, {len(found)} circles, {len(upward)} upward imports")
    for component in found:
        print(f"  circle of {len(component)}: {', '.join(component)}")
    for source, line, target in upward:
        src, dst = layer_of(source), layer_of(target)
        assert src is not None and dst is not None
        print(
            f"  upward: {source}:{line} ({src[1]}.{src[2]}) imports {target} ({dst[1]}.{dst[2]})"
        )
    return len(found) + len(upward)


def main() -> int:
    modules = find_modules()
    lines = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in
             modules.items()}
    largest = max(lines, key=lambda name: lines[name])
    print(f"modules: {len(modules)}")
    print(f"largest module: {largest} ({lines[largest]} lines)")
    unplaced = sorted(name for name in modules if layer_of(name) is None)
    for name in unplaced:
        print(f"  no layer: {name} (add it to LAYERS in {Path(__file__).name})")
    if unplaced:
        return 1
    imports = find_imports(modules)
    problems = report("module-level", [i for i in imports if not i.in_function])
    problems += report("all (also inside functions)", imports)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
