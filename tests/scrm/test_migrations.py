"""Migrations keep doing what they did when they were written: they carry their SQL frozen and import
no live project module. The only project names a migration may spell are the model state Django's
migration writer serialises (a model field class, a manager, a storage callable), through a plain
`import <app>.models`; everything else (SQL builders, services, helpers) is copied in."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.files.storage import Storage
from django.db import models
from django.db.migrations.loader import MigrationLoader
from django.db.models.manager import BaseManager

BASE_DIR = Path(settings.BASE_DIR).resolve()


def _project_apps():
    """The apps whose package sits at the top of the repository (not in a virtualenv under it)."""
    return [
        cfg
        for cfg in apps.get_app_configs()
        if Path(cfg.path).resolve().is_relative_to(BASE_DIR)
        and Path(cfg.path).resolve().relative_to(BASE_DIR).parts[0] == cfg.name.split(".")[0]
    ]


PROJECT_PACKAGES = frozenset(cfg.name.split(".")[0] for cfg in _project_apps())


def _migration_files() -> list[Path]:
    return sorted(
        path
        for cfg in _project_apps()
        for path in (Path(cfg.path) / "migrations").glob("*.py")
        if path.name != "__init__.py"
    )


def _is_model_state(obj) -> bool:
    """What Django's migration writer may name from a models module: a field class, a manager, or a
    callable returning a storage."""
    if isinstance(obj, type):
        return issubclass(obj, models.Field | BaseManager)
    if callable(obj):
        try:
            return isinstance(obj(), Storage)
        except TypeError:
            return False
    return False


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def violations(source: str) -> list[str]:
    """Why a migration's source reaches live project code, one line per reason (empty: it does not)."""
    tree = ast.parse(source)
    found, imported = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level or (node.module or "").split(".")[0] in PROJECT_PACKAGES:
                found.append(f"line {node.lineno}: from {'.' * node.level}{node.module or ''} import ...")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in PROJECT_PACKAGES:
                    continue
                if alias.asname or not alias.name.endswith(".models"):
                    found.append(f"line {node.lineno}: import {alias.name}")
                else:
                    imported.add(alias.name)
    # Every use of an imported models module must name model state, e.g. `scrm.models.StaffManager`.
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute | ast.Name):
            owner = _dotted(node.value)
            if owner in imported:
                used.add((owner, node.attr, node.lineno))
    for owner, name, lineno in sorted(used):
        obj = getattr(importlib.import_module(owner), name, None)
        if not _is_model_state(obj):
            found.append(f"line {lineno}: {owner}.{name} is not a field, manager or storage")
    return found


@pytest.mark.parametrize("path", _migration_files(), ids=lambda p: str(p.relative_to(BASE_DIR)))
def test_migration_imports_no_live_project_module(path):
    assert violations(path.read_text()) == []


def test_every_project_migration_is_checked():
    files = {str(p.relative_to(BASE_DIR)) for p in _migration_files()}
    assert "members/segments/migrations/0002_bitmap_triggers.py" in files
    assert any(f.startswith("loyalty/") for f in files)


def test_the_check_refuses_live_imports():
    assert violations("from members.segments import index\n")
    assert violations("from .helpers import SQL\n")
    assert violations("import members.segments.index\n")
    assert violations("import members.models as m\n")
    # A models module may be named only for model state, not for its constants or functions.
    assert violations("import members.segments.models\nX = members.segments.models.CHUNK_BITS\n")
    assert violations("from django.db import migrations\n") == []
    assert violations("import members.segments.models\nF = members.segments.models.BitVaryingField()\n") == []


def test_segment_index_sql_is_the_latest_migrations():
    """The bitmap index's functions and triggers in the live code are those the newest migration that
    defines them installed: a change to members/segments/index.py needs a migration of its own."""
    from members.segments import index

    loader = MigrationLoader(None, ignore_no_migrations=True)
    names = sorted(name for app, name in loader.disk_migrations if app == "member_segments")
    modules = [importlib.import_module(f"members.segments.migrations.{name}") for name in names]
    functions = [m.FUNCTIONS_SQL for m in modules if hasattr(m, "FUNCTIONS_SQL")][-1]
    triggers = [m.CREATE_TRIGGERS_SQL for m in modules if hasattr(m, "CREATE_TRIGGERS_SQL")][-1]
    assert functions == index.FUNCTIONS_SQL + index.TRIGGER_FUNCTIONS_SQL
    assert triggers == index.CREATE_TRIGGERS_SQL
