"""Keep the arrows honest (design §2, style §2) over the whole source tree: the core imports no
client, domain code imports no SDK or Flask, nothing imports in a loop, modules stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ("bot", "handlers", "adapters", "cards", "console")
CLIENTS = ("adapters", "handlers", "console")
SDKS = (
    "wechatpy",
    "dingtalk",
    "dingtalk_stream",
    "alibabacloud_dingtalk",
    "lark_oapi",
    "flask",
    "werkzeug",
    "requests",
)
MAX_LINES = 450


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    _module(p): p
    for top in SOURCE
    if (ROOT / top).is_dir()
    for p in sorted((ROOT / top).rglob("*.py"))
}


def _imported(path: Path) -> set[str]:
    """Every dotted name a module imports (relative imports resolved), typing-only included."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _own(name: str) -> str | None:
    """The project module a dotted import name lands in, if any."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


GRAPH = {
    module: {own for name in _imported(path) if (own := _own(name)) and own != module}
    for module, path in MODULES.items()
}


def _tops(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imported(path)}


@pytest.mark.parametrize(
    "module",
    [m for m in MODULES if m.split(".")[0] == "bot" and m != "bot.app"],
)
def test_the_core_imports_no_client(module):
    """Only bot/app.py, the composition root, wires adapters, handlers and the console."""
    assert not (_tops(MODULES[module]) & set(CLIENTS))


@pytest.mark.parametrize(
    "module",
    [m for m in MODULES if m.startswith(("handlers", "bot.services", "bot.asks", "bot.notices"))],
)
def test_domain_code_imports_no_sdk_and_no_flask(module):
    assert not (_tops(MODULES[module]) & set(SDKS))


def _is_docstring(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    parent = parents.get(node)
    owner = parents.get(parent) if isinstance(parent, ast.Expr) else None
    return isinstance(owner, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)


@pytest.mark.parametrize("module", [m for m in MODULES if m.startswith("bot.services")])
def test_services_hold_no_user_facing_chinese(module):
    """Texts live in bot/notices/ (design §2); services keep the Chinese term in docstrings only."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    texts = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and any("\u4e00" <= ch <= "\u9fff" for ch in node.value)
        and not _is_docstring(node, parents)
    ]
    assert texts == []


def test_only_adapters_import_platform_sdks():
    platform_sdks = set(SDKS) - {"flask", "werkzeug", "requests"}
    offenders = [
        m for m, p in MODULES.items() if m.split(".")[0] != "adapters" and _tops(p) & platform_sdks
    ]
    assert offenders == []


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in GRAPH:
        if root in index:
            continue
        work = [(root, iter(sorted(GRAPH[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(GRAPH.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
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
    return found


def test_no_import_cycles_anywhere_in_the_source():
    assert _cycles() == []


def test_the_cycle_check_finds_a_cycle():
    """The check itself can fail: a loop added to the graph is reported."""
    GRAPH["bot.ports"].add("bot.state")
    try:
        assert any({"bot.ports", "bot.state"} <= set(c) for c in _cycles())
    finally:
        GRAPH["bot.ports"].discard("bot.state")


@pytest.mark.parametrize("module", list(MODULES))
def test_no_source_module_is_over_450_lines(module):
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{MODULES[module].relative_to(ROOT)} has {lines} lines"


def test_migrations_match_the_models(tmp_path):
    """Migrations are the only schema source: autogenerate must find nothing to add."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from bot.db import make_engine, upgrade
    from bot.models import Base

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
