"""The dependency rules of DESIGN §8, read from the code itself: no import cycles, the accept
path free of PostgreSQL, the ledger, providers, actors and what only operators or merchants'
webhooks need, and each layer ignorant of the ones it must not know."""

import ast
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.support.processes import ROOT

PACKAGES = ("app", "actors")
#: The routes that take money in; whatever they import, however indirectly, is the accept path.
ACCEPT_ROUTES = ("app.http.routes.payments", "app.http.routes.refunds")
#: Never on the accept path: PostgreSQL, the ledger, providers, the worker side, and the
#: operators' console and the merchants' webhook delivery.
OFF_THE_ACCEPT_PATH = (
    "sqlalchemy",
    "psycopg",
    "alembic",
    "app.ledger",
    "app.db",
    "app.providers",
    "stripe",
    "app.simulator",
    "actors",
    "app.console",
    "app.webhooks",
)
Graph = dict[str, set[str]]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(tree: ast.Module, modules: Iterable[str]) -> Iterable[str]:
    """Absolute names imported anywhere in the module; ``from a import b`` is ``a.b`` when that
    is a module (importing a submodule), else ``a``."""
    known = set(modules)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                yield submodule if submodule in known else node.module


def import_graph(root: Path, packages: Iterable[str]) -> Graph:
    """Module → the modules it imports: ours by module name, others by top-level package."""
    paths = [path for package in packages for path in (root / package).rglob("*.py")]
    modules = {module_name(path, root): path for path in paths}
    graph: Graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = set()
        for imported in imported_names(tree, modules):
            if imported in modules:
                targets.add(imported)
            elif imported.split(".")[0] not in packages:
                targets.add(imported.split(".")[0])
        graph[name] = targets - {name}
    return graph


def find_cycle(graph: Graph) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def reachable(graph: Graph, starts: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(starts)
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen


def breaking(modules: Iterable[str], forbidden: Iterable[str]) -> list[str]:
    prefixes = tuple(forbidden)
    return sorted(
        name for name in modules if any(name == p or name.startswith(p + ".") for p in prefixes)
    )


def imports_of(graph: Graph, package: str) -> set[str]:
    return {
        target
        for name, targets in graph.items()
        if name == package or name.startswith(package + ".")
        for target in targets
    }


@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph(ROOT, PACKAGES)


def test_there_is_no_import_cycle(graph: Graph) -> None:
    assert find_cycle(graph) is None


def test_the_accept_path_reaches_nothing_it_must_not(graph: Graph) -> None:
    assert breaking(reachable(graph, ACCEPT_ROUTES), OFF_THE_ACCEPT_PATH) == []


def test_importing_the_accept_routes_loads_nothing_it_must_not() -> None:
    """The same rule at run time, where package ``__init__`` files count too."""
    program = (
        "import sys; "
        + "; ".join(f"import {name}" for name in ACCEPT_ROUTES)
        + "; print('\\n'.join(sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert breaking(loaded, OFF_THE_ACCEPT_PATH) == []


def test_app_never_imports_the_worker_side(graph: Graph) -> None:
    # app.queue.dispatch writes the Dramatiq message format the actors read; it imports none.
    assert breaking(imports_of(graph, "app"), ["actors"]) == []


def test_providers_know_nothing_of_routes_actors_or_the_ledger(graph: Graph) -> None:
    forbidden = ["app.http", "app.main", "starlette", "actors", "app.ledger", "app.payments"]
    assert breaking(imports_of(graph, "app.providers"), forbidden) == []


def test_the_ledger_knows_nothing_of_providers_actors_or_http(graph: Graph) -> None:
    forbidden = ["app.providers", "actors", "app.http", "app.main", "starlette", "redis"]
    assert breaking(imports_of(graph, "app.ledger"), forbidden) == []


def test_the_checker_finds_a_planted_cycle_and_a_planted_import(tmp_path: Path) -> None:
    package = tmp_path / "app"
    (package / "http").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "http" / "__init__.py").write_text("")
    (package / "http" / "routes.py").write_text("from app import ledger\n")
    (package / "ledger.py").write_text("import sqlalchemy\nfrom app.http import routes\n")

    planted = import_graph(tmp_path, ["app"])

    assert find_cycle(planted) == ["app.http.routes", "app.ledger", "app.http.routes"]
    assert breaking(reachable(planted, ["app.http.routes"]), OFF_THE_ACCEPT_PATH) == [
        "app.ledger",
        "sqlalchemy",
    ]
