"""Liveness of the database, the broker and the background processes."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.utils import timezone

from scrm.models import ServiceHeartbeat


def record_heartbeat(*, names: list[str]) -> None:
    now = timezone.now()
    for name in names:
        ServiceHeartbeat.objects.update_or_create(name=name, defaults={"seen_at": now})


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means "not reachable"; the message says why
        return f"database: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return None


def check_broker() -> str | None:
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:  # any failure means "not reachable"; the message says why
        return f"broker: {type(exc).__name__}: {exc}"
    return None


def heartbeats() -> dict[str, object]:
    return {hb.name: hb.seen_at for hb in ServiceHeartbeat.objects.all()}
