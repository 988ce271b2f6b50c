"""Who acted, and the member's timeline.

An actor is a staff User, an API key principal (scrm.api.auth.ApiPrincipal) or a SystemActor (a
Celery rule). Users are kept as foreign keys; keys and rules as a readable label, so every write
says who made it."""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from members.models import MemberEvent
from scrm.models import User


class SystemActor:
    """The actor of rules and periodic jobs: reaches every store, is named by its label."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_operator = True
    is_staff = False
    role = "system"
    api_key = None
    store_id = None
    pk = id = None

    def __init__(self, label: str = "system") -> None:
        self.label = label

    def __str__(self) -> str:
        return self.label


def actor_user(actor) -> User | None:
    return actor if isinstance(actor, User) else None


def actor_label(actor) -> str:
    """'' for a staff user (the foreign key says who), the key's name and prefix for an API key,
    the rule's label for a SystemActor."""
    if isinstance(actor, SystemActor):
        return actor.label[:100]
    api_key = getattr(actor, "api_key", None)
    if api_key is not None:
        return f"API key {api_key.name} ({api_key.prefix})"[:100]
    return ""


def actor_display(actor) -> str:
    user = actor_user(actor)
    return user.get_username() if user is not None else actor_label(actor)


def event(member_id: int, kind: str, actor, data: dict | None = None, at=None) -> MemberEvent:
    """An unsaved event, for callers collecting several into one INSERT."""
    return MemberEvent(
        member_id=member_id,
        kind=kind,
        data=data or {},
        actor=actor_user(actor),
        actor_label=actor_label(actor),
        created_at=at or timezone.now(),
    )


def record(member_id: int, kind: str, actor, data: dict | None = None) -> MemberEvent:
    item = event(member_id, kind, actor, data)
    item.save()
    return item


def record_many(events: Iterable[MemberEvent]) -> int:
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
                    [e.member_id for e in items],
                    [e.kind for e in items],
                    [json.dumps(e.data, cls=DjangoJSONEncoder) for e in items],
                    [e.actor_id for e in items],
                    [e.actor_label for e in items],
                    [e.created_at for e in items],
                ],
            )
    return len(items)
