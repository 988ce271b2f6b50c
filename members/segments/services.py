"""Write side of segments: saved segments, snapshots and rule tags."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members import sql as members_sql
from members.models import Tag
from members.segments import index, queries
from members.segments.models import Segment, SegmentSnapshot
from members.services import tags as tag_services
from scrm import events
from scrm.actors import SystemActor, actor_user
from scrm.errors import Forbidden
from scrm.models import Role, Store
from scrm.scoping import access_for

logger = logging.getLogger(__name__)

RULE_REFRESH = SystemActor("rule tag refresh")  # a rule tag holds every store's matching members


def _store_for_new_segment(actor, store: Store | None) -> Store | None:
    """Store roles and store-bound keys make segments of their own store; others choose."""
    access = access_for(actor)
    if access.all_stores:
        return store
    if access.store_id is None or (store is not None and store.pk != access.store_id):
        raise Forbidden(_("You can only make segments of your own store."))
    return Store.objects.get(pk=access.store_id)


def can_change(segment: Segment, actor) -> bool:
    """Brand-wide actors change every segment; store actors only their own store's (brand-wide
    segments are read-only to them)."""
    access = access_for(actor)
    return access.all_stores or (segment.store_id is not None and segment.store_id == access.store_id)


def can_use_segments(actor) -> bool:
    """Operators and store managers keep segments on the dashboard (save, list, recount, snapshot);
    store staff narrow the member list with the audience builder but keep none."""
    return getattr(actor, "role", None) in (Role.OPERATOR, Role.STORE_MANAGER)


def _check_can_change(segment: Segment, actor) -> None:
    if not can_change(segment, actor):
        raise Forbidden(_("Brand-wide segments are read-only for store accounts."))


@transaction.atomic
def create_segment(*, actor, name: str, definition: dict, description: str = "", store: Store | None = None) -> Segment:
    """Save a segment after validating its definition (DefinitionError names the bad node), counted
    as it is saved so the list shows its size at once."""
    queries.validate_definition(definition)
    segment = Segment.objects.create(
        name=name, description=description, definition=definition,
        store=_store_for_new_segment(actor, store), created_by=actor_user(actor),
    )
    recount_segment(segment=segment, actor=actor)
    return segment


@transaction.atomic
def update_segment(*, segment: Segment, actor, **fields) -> Segment:
    """Change name, description, definition or (for brand-wide actors) store."""
    _check_can_change(segment, actor)
    allowed = {"name", "description", "definition", "store"}
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"update_segment() cannot change {', '.join(sorted(unknown))}")
    if "definition" in fields:
        queries.validate_definition(fields["definition"])
        if fields["definition"] != segment.definition:
            segment.last_count = segment.last_counted_at = None
    if "store" in fields:
        fields["store"] = _store_for_new_segment(actor, fields["store"])
    for name, value in fields.items():
        setattr(segment, name, value)
    segment.save()
    if segment.last_count is None:  # a new definition (or store) is counted again at once
        recount_segment(segment=segment, actor=actor)
    return segment


@transaction.atomic
def delete_segment(*, segment: Segment, actor) -> None:
    _check_can_change(segment, actor)
    segment.delete()


def recount_segment(*, segment: Segment, actor) -> int:
    """Count a saved segment as the actor sees it; the segment keeps the figure when the actor sees
    the segment's whole audience (its store, or every store for a brand-wide one)."""
    total = queries.count(segment.definition, actor, store_id=segment.store_id)
    if queries.sees_whole_audience(segment, actor):
        Segment.objects.filter(pk=segment.pk).update(last_count=total, last_counted_at=timezone.now())
        segment.last_count, segment.last_counted_at = total, timezone.now()
    return total


@transaction.atomic
def snapshot_segment(*, segment: Segment, actor) -> SegmentSnapshot:
    """Freeze the segment's members as the actor sees them now, stored as bitmap chunks: one
    INSERT ... SELECT, about a second for a million members at 10 million."""
    tree = queries.validate_definition(segment.definition)
    access = queries.reach(actor, segment.store_id)
    if not access.reaches_any:
        raise Forbidden(_("This segment is not in your store."))
    store = access.store_id
    snapshot = SegmentSnapshot.objects.create(
        segment=segment, taken_by=actor_user(actor), store_id=store, definition=segment.definition,
    )
    if queries.compiler.is_bitmap(tree):
        chunks, chunk_params = queries.compiler.chunks_sql(tree, store)
        select = f"SELECT %s, x.chunk, x.bits FROM ({chunks}) AS x WHERE bit_count(x.bits) > 0"
        params = chunk_params
    else:
        ids_sql, params = queries.member_ids_sql(tree, actor, store_id=segment.store_id)
        bitmaps = index.bitmaps_sql(f"SELECT 's'::text AS dimension, 0::bigint AS key, ids.id FROM ({ids_sql}) AS ids")
        select = f"SELECT %s, x.chunk, x.bits FROM ({bitmaps}) AS x"
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH written AS (INSERT INTO member_segments_snapshotchunk (snapshot_id, chunk, bits) {select} "
            "RETURNING bit_count(bits) AS n) SELECT coalesce(sum(n), 0) FROM written",
            [snapshot.pk, *params],
        )
        snapshot.member_count = int(cursor.fetchone()[0])
    snapshot.save(update_fields=["member_count"])
    if store == segment.store_id:
        Segment.objects.filter(pk=segment.pk).update(
            last_count=snapshot.member_count, last_counted_at=snapshot.taken_at
        )
    return snapshot


@dataclass(frozen=True)
class RuleRefresh:
    tag_id: int
    added: int
    removed: int


@transaction.atomic
def refresh_rule_tag(*, tag_id: int) -> RuleRefresh | None:
    """Make a rule tag's members exactly the live members matching its rule, set-based: INSERT the
    new matches (source "rule"), DELETE rule rows that no longer match. None if the tag is gone or
    has no rule. Concurrent refreshes of one tag queue on the tag's row lock."""
    tag = Tag.objects.select_for_update().filter(pk=tag_id, rule__isnull=False).first()
    if tag is None:
        return None
    tree = queries.validate_definition(tag.rule, forbid_tags={tag.pk})
    ids_sql, params = queries.member_ids_sql(tree, RULE_REFRESH)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS member_segments_rule_matches")
        cursor.execute(
            "CREATE TEMP TABLE member_segments_rule_matches ON COMMIT DROP AS "
            f"SELECT DISTINCT id FROM ({ids_sql}) AS s",
            params,
        )
        cursor.execute("ANALYZE member_segments_rule_matches")
        # Each member gaining or losing the tag hears member.tag_added / member.tag_removed, written
        # by the same statement as the change.
        add_events, add_params = events.insert_sql(tag_services.TAG_ADDED, tag_services.tag_event_select("added"))
        cursor.execute(
            f"WITH added AS (INSERT INTO {members_sql.MEMBER_TAG} (member_id, tag_id, source, added_at) "
            "SELECT x.id, %s, 'rule', now() FROM member_segments_rule_matches x "
            f"WHERE NOT EXISTS (SELECT 1 FROM {members_sql.MEMBER_TAG} t WHERE t.tag_id = %s AND t.member_id = x.id) "
            "ON CONFLICT (member_id, tag_id) DO NOTHING RETURNING member_id, tag_id), "
            f"ev AS ({add_events}) SELECT count(*) FROM added",
            [tag.pk, tag.pk, *add_params],
        )
        added = cursor.fetchone()[0]
        gone_events, gone_params = events.insert_sql(tag_services.TAG_REMOVED, tag_services.tag_event_select("gone"))
        cursor.execute(
            f"WITH gone AS (DELETE FROM {members_sql.MEMBER_TAG} t WHERE t.tag_id = %s AND t.source = 'rule' "
            "AND NOT EXISTS (SELECT 1 FROM member_segments_rule_matches x WHERE x.id = t.member_id) "
            f"RETURNING t.member_id, t.tag_id), ev AS ({gone_events}) SELECT count(*) FROM gone",
            [tag.pk, *gone_params],
        )
        removed = cursor.fetchone()[0]
    Tag.objects.filter(pk=tag.pk).update(rule_refreshed_at=timezone.now())
    return RuleRefresh(tag_id=tag.pk, added=added, removed=removed)


def queue_rule_refresh(*, tag_id: int) -> None:
    """Refresh a rule tag in the background once the current transaction commits (call it when a
    rule is created or changed)."""
    from members.segments.tasks import refresh_rule_tag as task

    transaction.on_commit(lambda: task.delay(tag_id))
