"""Coupling you can see: raw SQL names another app's tables only through that app's sql.py, the
live-member condition is stated once (members/sql.py), and the fragments mean what the ORM means."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.utils import timezone

from members import sql as members_sql
from scrm import sql as scrm_sql

BASE_DIR = Path(settings.BASE_DIR).resolve()
# Where the live-member condition may be spelled out (in its SQL and its queryset forms).
LIVE_HOME = BASE_DIR / "members" / "sql.py"
LIVE_SPELLED = re.compile(r"merged_into(_id IS NULL| IS NULL|__isnull)")


def _project_apps():
    return [
        cfg
        for cfg in apps.get_app_configs()
        if Path(cfg.path).resolve().is_relative_to(BASE_DIR)
        and Path(cfg.path).resolve().relative_to(BASE_DIR).parts[0] == cfg.name.split(".")[0]
    ]


def _owner(path: Path, configs) -> str:
    """The label of the app a source file belongs to: the deepest app folder that holds it."""
    holders = [cfg for cfg in configs if path.is_relative_to(Path(cfg.path).resolve())]
    return max(holders, key=lambda cfg: len(Path(cfg.path).parts)).label


def _sources():
    configs = _project_apps()
    for cfg in configs:
        for path in sorted(Path(cfg.path).resolve().rglob("*.py")):
            if "migrations" in path.parts or _owner(path, configs) != cfg.label:
                continue
            yield cfg.label, path


def _string_literals(source: str):
    """(line, text) of every string literal that is not a docstring."""
    docstrings = {
        (node.lineno, node.col_offset)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING and token.start not in docstrings:
            yield token.start[0], token.string


def foreign_tables(source: str, own_label: str, tables: dict[str, str]) -> list[tuple[int, str]]:
    """(line, table) for each table of another app that a string literal of `source` names."""
    patterns = {table: re.compile(rf"(?<![\w.]){re.escape(table)}(?!\w)") for table in tables}
    return [
        (line, table)
        for line, text in _string_literals(source)
        for table, label in tables.items()
        if label != own_label and patterns[table].search(text)
    ]


def _tables() -> dict[str, str]:
    labels = {cfg.label for cfg in _project_apps()}
    return {
        model._meta.db_table: model._meta.app_label
        for model in apps.get_models()
        if model._meta.app_label in labels and model._meta.managed
    }


def test_raw_sql_names_other_apps_tables_through_their_sql_module():
    tables = _tables()
    found = [
        f"{path.relative_to(BASE_DIR)}:{line}: {table}"
        for label, path in _sources()
        for line, table in foreign_tables(path.read_text(), label, tables)
    ]
    assert found == [], "use the owning app's sql.py names instead of these literal table names:\n" + "\n".join(found)


def test_the_check_sees_a_foreign_table_in_sql_but_not_in_a_docstring():
    tables = {"members_member": "members", "orders_order": "orders"}
    source = '"""Reads members_member."""\nSQL = "SELECT 1 FROM members_member m JOIN orders_order o ON true"\n'
    assert foreign_tables(source, "orders", tables) == [(2, "members_member")]
    assert foreign_tables(source, "members", tables) == [(2, "orders_order")]
    assert foreign_tables('SQL = f"FROM {members_sql.MEMBER} m"\n', "orders", tables) == []


def test_the_live_member_condition_is_stated_once():
    found = [
        f"{path.relative_to(BASE_DIR)}:{number}: {line.strip()}"
        for _label, path in _sources()
        if path != LIVE_HOME
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if LIVE_SPELLED.search(line) and not line.lstrip().startswith("#")
    ]
    assert found == [], "use members.sql (live(), LIVE, live_q()) or Member.live:\n" + "\n".join(found)


@pytest.fixture
def mixed_members(db):
    from members.models import Channel, Identity, Member

    survivor = Member.objects.create(name="留下", phone="+8613800000001")
    merged = Member.objects.create(name="重复", phone="+8613800000002", merged_into=survivor)
    erased = Member.objects.create(name="", phone="", erased_at=timezone.now())
    for n, member in enumerate((survivor, merged, erased)):
        Identity.objects.create(member=member, channel=Channel.WECOM, external_id=f"wm-{n}")
    return survivor, merged, erased


def test_the_live_fragments_mean_what_member_live_means(mixed_members):
    from members.models import Identity, Member

    survivor, _merged, _erased = mixed_members
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT m.id FROM {members_sql.MEMBER} m WHERE {members_sql.live('m')}")
        by_sql = {row[0] for row in cursor.fetchall()}
        cursor.execute(f"SELECT id FROM {members_sql.MEMBER} WHERE {members_sql.live(None)}")
        unqualified = {row[0] for row in cursor.fetchall()}
    assert by_sql == unqualified == set(Member.live.values_list("pk", flat=True)) == {survivor.pk}
    assert set(Member.objects.filter(**members_sql.LIVE).values_list("pk", flat=True)) == {survivor.pk}
    assert set(Identity.objects.filter(members_sql.live_q("member")).values_list("member_id", flat=True)) == {
        survivor.pk
    }


@pytest.mark.django_db
def test_array_literal_round_trips_through_postgresql():
    texts = ['plain', 'with "quotes"', "back\\slash", "comma, brace {x}", "", "中文", None]
    numbers = [1, -2, Decimal("3.50"), None]
    moments = [datetime(2026, 11, 20, 6, 3, tzinfo=UTC), None]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s::text[], %s::numeric[], %s::timestamptz[]",
            [scrm_sql.array(texts), scrm_sql.array(numbers), scrm_sql.array(moments)],
        )
        assert cursor.fetchone() == (texts, numbers, moments)
