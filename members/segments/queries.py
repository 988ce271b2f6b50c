"""Read side of segments: validate a definition, count it, sample it, list its members, read a
snapshot back. Everything is cut to what the actor may see, by scrm.scoping's rules (their store for
store roles and store-bound API keys, every store for operators, brand-wide keys and a SystemActor
such as the rule-tag refresh) and to live members.

How a definition is answered:
- every condition has a bitmap form (tags, store, owner, stage): from the bitmap index, a few
  milliseconds whatever the tags' popularity;
- otherwise a top-level AND mixing both kinds: the bitmap part first, and when it is selective the
  other conditions are checked on those members only;
- otherwise plain SQL over members (EXISTS on tags, JSONB containment on attributes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from members import sql as members_sql
from members.models import Member
from members.segments import compiler, definition, registry
from members.segments.definition import All, DefinitionError
from members.segments.models import SegmentSnapshot
from scrm.scoping import Access, access_for

__all__ = [
    "DefinitionError", "count", "describe_filters", "member_ids_sql", "member_queryset", "preview",
    "reach", "sample", "sees_whole_audience", "snapshot_ids_sql", "snapshot_member_ids", "validate_definition",
]

HYBRID_RATIO = 0.25  # a bitmap part matching at most this share of live members narrows the SQL part
ID_LIST_LIMIT = 200_000  # member lists of bitmap segments up to this size filter by id from the index
MEMBER_TABLE = f'"{members_sql.MEMBER}"'


def validate_definition(raw, *, forbid_tags=frozenset()):
    """Parse and validate a definition; returns the expression tree or raises DefinitionError whose
    `errors` are [{"path": "$.all[1].value", "message": "..."}]. Cheap: call it on every keystroke."""
    return definition.parse(raw, forbid_tags=frozenset(forbid_tags))


def describe_filters() -> list[dict]:
    """The filters a segment builder can offer: keys, labels, operators and value types."""
    return registry.describe()


def _tree(raw):
    return raw if isinstance(raw, definition.All | definition.Any | definition.Not | definition.Condition) \
        else validate_definition(raw)


def reach(actor, store_id: int | None = None) -> Access:
    """What an evaluation covers: the actor's access (scrm.scoping.access_for), cut further to
    `store_id` (a store's own segment) when given. `.store_id` is the one store the SQL is cut to
    (None: every store); an actor of another store reaches nothing (`not .reaches_any`)."""
    return access_for(actor).narrowed_to(store_id)


def sees_whole_audience(segment, actor) -> bool:
    """True when the actor's counts of `segment` are the segment's own (its store, or every store for
    a brand-wide one); a store actor reading a brand-wide segment sees only their store's part."""
    access = reach(actor, segment.store_id)
    return access.reaches_any and access.store_id == segment.store_id


@dataclass(frozen=True)
class _Plan:
    kind: str  # "bitmap", "hybrid" or "sql"
    bitmap_part: object = None
    sql_part: object = None


def _split(tree) -> tuple[object, object] | None:
    if not isinstance(tree, All):
        return None
    bitmap = tuple(c for c in tree.children if compiler.is_bitmap(c))
    rest = tuple(c for c in tree.children if not compiler.is_bitmap(c))
    if not bitmap or not rest:
        return None
    return All(bitmap), All(rest)


def _scalar(sql: str, params) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0] or 0)


def _bitmap_count(tree, store) -> int:
    sql, params = compiler.chunks_sql(tree, store)
    return _scalar(f"SELECT sum(bit_count(x.bits)) FROM ({sql}) AS x", params)


def _plan(tree, store) -> _Plan:
    if compiler.is_bitmap(tree):
        return _Plan("bitmap", bitmap_part=tree)
    parts = _split(tree)
    if parts is not None:
        narrowed = _bitmap_count(parts[0], store)
        live = _bitmap_count(All(()), store)
        if narrowed <= HYBRID_RATIO * live:
            return _Plan("hybrid", bitmap_part=parts[0], sql_part=parts[1])
    return _Plan("sql", sql_part=tree)


def _bitmap_ids_sql(tree, store) -> tuple[str, list]:
    sql, params = compiler.chunks_sql(tree, store)
    return (f"SELECT member_segments_ids(x.chunk, x.bits) AS id FROM ({sql}) AS x WHERE bit_count(x.bits) > 0",
            params)


def member_ids_sql(raw, actor, *, store_id: int | None = None) -> tuple[str, list]:
    """(sql, params) of a query yielding the column `id` of every member of the definition the actor
    may see, for set-based writers (INSERT ... SELECT): snapshots, rule tags, campaign fan-out."""
    tree = _tree(raw)
    access = reach(actor, store_id)
    if not access.reaches_any:
        return "SELECT NULL::bigint AS id WHERE false", []
    store = access.store_id
    plan = _plan(tree, store)
    if plan.kind == "bitmap":
        return _bitmap_ids_sql(tree, store)
    if plan.kind == "hybrid":
        ids_sql, ids_params = _bitmap_ids_sql(plan.bitmap_part, store)
        where, params = compiler.where_sql(plan.sql_part, "m")
        return (f"SELECT m.id FROM ({ids_sql}) AS ids JOIN {members_sql.MEMBER} m ON m.id = ids.id WHERE {where}",
                [*ids_params, *params])
    where, params = compiler.rows_sql(tree, store, "m")
    return f"SELECT m.id FROM {members_sql.MEMBER} m WHERE {where}", params


def count(raw, actor, *, store_id: int | None = None) -> int:
    """How many live members the actor may see match the definition (exact, current)."""
    tree = _tree(raw)
    access = reach(actor, store_id)
    if not access.reaches_any:
        return 0
    store = access.store_id
    if compiler.is_bitmap(tree):
        return _bitmap_count(tree, store)
    sql, params = member_ids_sql(tree, actor, store_id=store_id)
    return _scalar(f"SELECT count(*) FROM ({sql}) AS matches", params)


def _newest_bitmap_ids(tree, store, n: int) -> list[int]:
    """The n highest member ids of a bitmap definition, reading chunks from the top down."""
    sql, params = compiler.chunks_sql(tree, store)
    found: list[int] = []
    offset = 0
    with connection.cursor() as cursor:
        while len(found) < n:
            cursor.execute(
                f"SELECT x.chunk, x.bits::text FROM ({sql}) AS x WHERE bit_count(x.bits) > 0 "
                "ORDER BY x.chunk DESC LIMIT 4 OFFSET %s",
                [*params, offset],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            for chunk, text in rows:
                end = len(text)
                while len(found) < n:
                    pos = text.rfind("1", 0, end)
                    if pos < 0:
                        break
                    found.append((chunk << 16) + pos)
                    end = pos
            offset += len(rows)
    return found


def sample(raw, actor, n: int = 20, *, store_id: int | None = None) -> list[Member]:
    """The n newest matching members (home store and owner loaded), for a live preview."""
    tree = _tree(raw)
    access = reach(actor, store_id)
    if not access.reaches_any or n <= 0:
        return []
    store = access.store_id
    if compiler.is_bitmap(tree):
        ids = _newest_bitmap_ids(tree, store, n)
        return list(Member.objects.filter(id__in=ids).select_related("home_store", "owner").order_by("-id"))
    return list(member_queryset(tree, actor, store_id=store_id).select_related("home_store", "owner")[:n])


def preview(raw, actor, n: int = 20, *, store_id: int | None = None) -> dict:
    """count + sample + the milliseconds it took: what a builder shows while the definition is edited."""
    started = time.perf_counter()
    tree = _tree(raw)
    total = count(tree, actor, store_id=store_id)
    members = sample(tree, actor, n, store_id=store_id) if total else []
    return {"count": total, "sample": members, "ms": round((time.perf_counter() - started) * 1000, 1)}


def member_queryset(raw, actor, *, store_id: int | None = None, known_count: int | None = None) -> QuerySet:
    """A real, scoped Member queryset of the definition (live members only), for lists and exports.
    Small bitmap segments filter by ids read from the index; others by the compiled SQL condition.
    `known_count`: count() of the same definition, actor and store when the caller has it already
    (an Audience), so a bitmap segment is not counted a second time to choose between the two."""
    tree = _tree(raw)
    queryset = Member.live.visible_to(actor)
    access = reach(actor, store_id)
    if not access.reaches_any:
        return queryset.none()
    store = access.store_id
    if store is not None:
        queryset = queryset.filter(home_store_id=store)
    bitmap = compiler.is_bitmap(tree)
    if bitmap and (_bitmap_count(tree, store) if known_count is None else known_count) <= ID_LIST_LIMIT:
        sql, params = _bitmap_ids_sql(tree, store)
        return queryset.filter(id__in=RawSQL(sql, params))  # noqa: S611 - compiled SQL, values are params
    where, params = compiler.where_sql(tree, MEMBER_TABLE)
    return queryset.filter(RawSQL(where, params, output_field=BooleanField()))  # noqa: S611 - values are params


def snapshot_ids_sql(snapshot: SegmentSnapshot | int) -> tuple[str, list]:
    """(sql, params) yielding the column `id` of a snapshot's members, for set-based readers."""
    snapshot_id = getattr(snapshot, "pk", snapshot)
    return ("SELECT member_segments_ids(c.chunk, c.bits) AS id FROM member_segments_snapshotchunk c "
            "WHERE c.snapshot_id = %s", [snapshot_id])


def snapshot_member_ids(snapshot: SegmentSnapshot | int) -> list[int]:
    """The member ids of a snapshot, ascending (a million in well under a second)."""
    snapshot_id = getattr(snapshot, "pk", snapshot)
    ids: list[int] = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT chunk, bits::text FROM member_segments_snapshotchunk WHERE snapshot_id = %s ORDER BY chunk",
            [snapshot_id],
        )
        for chunk, text in cursor.fetchall():
            base = chunk << 16
            pos = text.find("1")
            while pos >= 0:
                ids.append(base + pos)
                pos = text.find("1", pos + 1)
    return ids
