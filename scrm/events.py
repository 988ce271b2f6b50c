"""The event log: what happened, for the systems that listen (webhooks, replay through the API).

Each app declares the types it emits (from its plugins.py) and writes an event in the same
transaction as the change, so an event exists if and only if its change committed (the outbox):

    from scrm import events
    events.register_type("member.tag_added", _("A tag was added to a member"), resource="members")
    events.emit("member.tag_added", member_id=m.pk, store_id=m.home_store_id, data={"tag": {"id": 3}})
    events.emit_many("member.tag_added", [(member_id, store_id, {...}), ...])      # one INSERT
    events.emit_sql("points.expired", "SELECT member_id, store_id, jsonb_build_object(...) FROM ...", [])

An event carries ids and what changed, not the member's personal data: a receiver with the right
scope reads the rest through the API. `resource` names the API resource whose read scope a receiver
needs to hear the type (scrm.permissions). Fields a type lists as `personal` (a channel's external
id, say) are blanked from the member's past events when the member is erased (`scrub_member`).
`store_id` is the store the event belongs to (the member's home store), which a store-bound
integration is limited to. Retention: `prune` deletes events older than SIYU_EVENT_RETENTION_DAYS.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone

from scrm.models import Event

EVENT = Event._meta.db_table
MAX_DATA_BYTES = 8000  # an event is ids and what changed; anything larger is a mistake


@dataclass(frozen=True)
class EventType:
    code: str
    label: object  # a lazy translation
    resource: str  # its read scope lets a receiver hear the type
    personal: tuple[str, ...]  # top-level data keys blanked on erasure


_TYPES: dict[str, EventType] = {}


def register_type(code: str, label, *, resource: str, personal: tuple[str, ...] = ()) -> None:
    if code in _TYPES and _TYPES[code].resource != resource:
        raise ValueError(f"event type {code!r} is already registered for {_TYPES[code].resource}")
    _TYPES[code] = EventType(code, label, resource, tuple(personal))


def types() -> dict[str, EventType]:
    return dict(_TYPES)


def get_type(code: str) -> EventType:
    try:
        return _TYPES[code]
    except KeyError:
        raise ValueError(f"unknown event type {code!r}") from None


def _encoded(code: str, data: dict | None) -> str:
    get_type(code)
    text = json.dumps(data or {}, ensure_ascii=False, separators=(",", ":"), default=str)
    if len(text.encode()) > MAX_DATA_BYTES:
        raise ValueError(f"event {code!r}: data over {MAX_DATA_BYTES} bytes")
    return text


def emit(code: str, *, member_id: int | None = None, store_id: int | None = None, data: dict | None = None,
         at: dt.datetime | None = None) -> None:
    """Record one event, in the caller's transaction."""
    emit_many(code, [(member_id, store_id, data)], at=at)


def emit_many(code: str, rows: Iterable[tuple[int | None, int | None, dict | None]], *,
              at: dt.datetime | None = None) -> int:
    """Record one event per (member_id, store_id, data), in one INSERT, in the caller's transaction."""
    members, stores, datas = [], [], []
    for member_id, store_id, data in rows:
        members.append(member_id)
        stores.append(store_id)
        datas.append(_encoded(code, data))
    if not datas:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {EVENT} (type, occurred_at, member_id, store_id, data, relayed) "
            f"SELECT %s, %s, m, s, d::jsonb, false FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS u(m, s, d)",
            [code, at or timezone.now(), members, stores, datas],
        )
        return cursor.rowcount


def insert_sql(code: str, select: str, *, at: dt.datetime | None = None, named: bool = False):
    """(statement, params) of the INSERT that records one event per row of `select`, which yields
    (member_id, store_id, data jsonb); `select`'s own params follow the returned ones. For a change
    and its events in one statement: the INSERT goes after a data-modifying WITH (the rows a DELETE
    or UPDATE returned), or inside one as `ev AS (...)`, so the change's rows never leave
    PostgreSQL. With `named`, the placeholders are %(event_type)s and %(event_at)s and the params a
    dict, for statements written with named parameters. Data is not size-checked here: build it
    from ids and short columns."""
    get_type(code)
    now = at or timezone.now()
    kind, when = ("%(event_type)s", "%(event_at)s") if named else ("%s", "%s")
    statement = (
        f"INSERT INTO {EVENT} (type, occurred_at, member_id, store_id, data, relayed) "
        f"SELECT {kind}, {when}, q.member_id, q.store_id, q.data, false "
        f"FROM ({select}) AS q(member_id, store_id, data)"
    )
    return statement, ({"event_type": code, "event_at": now} if named else [code, now])


def emit_sql(code: str, select: str, params: Iterable = (), *, at: dt.datetime | None = None) -> int:
    """Record one event per row of `select`, which yields (member_id, store_id, data jsonb): for
    changes made by one set-based statement (tier recalculation, points expiry, bulk tagging)."""
    statement, leading = insert_sql(code, select, at=at)
    with connection.cursor() as cursor:
        cursor.execute(statement, [*leading, *params])
        return cursor.rowcount


def scrub_member(member_id: int) -> int:
    """Blank the personal fields of a member's past events (the types' `personal` keys), inside the
    erasure's transaction. Ids, types and times stay: they say what happened, not who."""
    changed = 0
    with connection.cursor() as cursor:
        for kind in _TYPES.values():
            if not kind.personal:
                continue
            cursor.execute(
                f"UPDATE {EVENT} SET data = data - %s::text[] "
                f"WHERE member_id = %s AND type = %s AND data ?| %s::text[]",
                [list(kind.personal), int(member_id), kind.code, list(kind.personal)],
            )
            changed += cursor.rowcount
    return changed


def prune(*, now: dt.datetime | None = None, batch: int = 10_000) -> int:
    """Delete one batch of events older than the retention window; returns how many (0: done)."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.SIYU_EVENT_RETENTION_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {EVENT} WHERE id IN (SELECT id FROM {EVENT} WHERE occurred_at < %s AND relayed "
            f"ORDER BY occurred_at LIMIT %s)",
            [cutoff, batch],
        )
        return cursor.rowcount
