"""Keep the arrows honest (style §2): handlers and services never import SDKs or adapters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = (
    "wechatpy",
    "dingtalk",
    "dingtalk_stream",
    "alibabacloud_dingtalk",
    "lark_oapi",
    "adapters",
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    "path",
    sorted([*ROOT.glob("handlers/*.py"), *ROOT.glob("bot/services/*.py")]),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_core_does_not_import_platform_code(path):
    assert not (_imports(path) & set(FORBIDDEN))


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
