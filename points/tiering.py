"""Each member's tier rank, read from the tiers app without importing it.

Points need the rank for the tier multiplier and for rewards kept for higher levels. The tiers app
keeps `MemberTier(member, level → TierLevel(rank, name))`; this module finds those models through
the app registry and checks that their tables exist, so points work (every member counts as
"no tier") while the tiers app is absent or not migrated.
"""

from __future__ import annotations

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import connection

_tables_seen: set[str] = set()


def _models():
    try:
        member_tier = apps.get_model("tiers", "MemberTier")
        level = apps.get_model("tiers", "TierLevel")
        level_column = member_tier._meta.get_field("level").column
        member_column = member_tier._meta.get_field("member").column
        level._meta.get_field("rank")
        level._meta.get_field("name")
    except (LookupError, FieldDoesNotExist):
        return None
    tables = {member_tier._meta.db_table, level._meta.db_table}
    if not tables <= _tables_seen:
        existing = set(connection.introspection.table_names())
        if not tables <= existing:
            return None
        _tables_seen.update(tables)  # tables do not disappear: ask the catalogue once per process
    return member_tier, level, member_column, level_column


def tier_sql() -> str | None:
    """A SELECT of (member_id, rank, name) for every member holding a level, or None without tiers."""
    found = _models()
    if found is None:
        return None
    member_tier, level, member_column, level_column = found
    return (
        f'SELECT t."{member_column}" AS member_id, l.rank, l.name '
        f'FROM "{member_tier._meta.db_table}" t JOIN "{level._meta.db_table}" l ON l.id = t."{level_column}"'
    )


def rank_of(member_id: int) -> tuple[int | None, str]:
    """The member's (rank, level name); (None, "") without a level."""
    sql = tier_sql()
    if sql is None:
        return None, ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT rank, name FROM ({sql}) x WHERE member_id = %s", [member_id])
        row = cursor.fetchone()
    return (row[0], row[1]) if row else (None, "")


def level_names() -> dict[int, str]:
    """{rank: level name} of the brand's ladder (empty without tiers): labels for the policy screen."""
    found = _models()
    if found is None:
        return {}
    _member_tier, level, _m, _l = found
    return dict(level.objects.order_by("rank").values_list("rank", "name"))
