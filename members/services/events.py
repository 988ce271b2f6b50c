"""The member's timeline: events recorded with who made them (scrm.actors names the actor)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from members.models import MemberEvent
from scrm.actors import actor_label, actor_user
from scrm.sql import array


@dataclass(slots=True)
class PendingEvent:
    """An event not yet written: what record_many inserts (lighter than a model instance, which
    matters when a sync writes tens of thousands)."""

    member_id: int
    kind: str
    data: dict
    actor_id: int | None
    actor_label: str
    created_at: datetime.datetime


def event(member_id: int, kind: str, actor, data: dict | None = None, at=None) -> PendingEvent:
    """An unsaved event, for callers collecting several into one INSERT (record_many)."""
    user = actor_user(actor)
    return PendingEvent(
        member_id=member_id,
        kind=kind,
        data=data or {},
        actor_id=user.pk if user is not None else None,
        actor_label=actor_label(actor),
        created_at=at or timezone.now(),
    )


def record(member_id: int, kind: str, actor, data: dict | None = None) -> MemberEvent:
    return MemberEvent.objects.create(
        member_id=member_id, kind=kind, data=data or {}, actor=actor_user(actor),
        actor_label=actor_label(actor), created_at=timezone.now(),
    )


def record_many(events: Iterable[PendingEvent]) -> int:
    """INSERT unsaved events in one statement (a thousand in a few milliseconds of Python)."""
    items = list(events)
    if items:
        with connection.cursor() as cursor:
            cursor.execute(
                """INSERT INTO members_memberevent (member_id, kind, data, actor_id, actor_label, created_at)
                SELECT r.member_id, r.kind, r.data::jsonb, r.actor_id, r.actor_label, r.created_at
                FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bigint[], %s::text[], %s::timestamptz[])
                     AS r(member_id, kind, data, actor_id, actor_label, created_at)""",
                [
                    array(e.member_id for e in items),
                    array(e.kind for e in items),
                    array(json.dumps(e.data, cls=DjangoJSONEncoder) for e in items),
                    array(e.actor_id for e in items),
                    array(e.actor_label for e in items),
                    array(e.created_at for e in items),
                ],
            )
    return len(items)
