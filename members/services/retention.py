"""Retention: personal data is kept only as long as the brand needs it. A periodic job (beat:
"privacy-retention") runs every registered retention step (member imports delete upload files and
error reports older than `SIYU_UPLOAD_RETENTION_DAYS`, 30 by default) and, when the brand sets
`SIYU_MEMBER_RETENTION_DAYS` (0, the default, keeps members), erases members with no activity for
that long: not created, changed, on the timeline or active in any app (`register_activity`) since.

Each pass is bounded (`SIYU_RETENTION_BATCH` members and files per step), erases each member in its
own transaction (privacy.erase_member), and records what it did in one audit entry of counts."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from members import privacy_registry as registry
from members import sql as members_sql
from members.models import Member
from members.services import privacy
from scrm.actors import SystemActor
from scrm.services import audit

ACTOR_LABEL = "rule:retention"


def member_retention_days() -> int:
    return max(int(getattr(settings, "SIYU_MEMBER_RETENTION_DAYS", 0)), 0)


def retention_batch() -> int:
    return max(int(getattr(settings, "SIYU_RETENTION_BATCH", 500)), 1)


def inactive_member_ids(*, since, limit: int) -> list[int]:
    """Live members with nothing since `since` (created, changed, an event, any app's activity),
    oldest ids first, at most `limit`: one statement."""
    conditions = [
        f"NOT EXISTS (SELECT 1 FROM {members_sql.MEMBER_EVENT} e "
        "WHERE e.member_id = m.id AND e.created_at >= %(since)s)",
        *(f"NOT {sql}" for sql in registry.activities().values()),
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.id FROM {members_sql.MEMBER} m WHERE {members_sql.live('m')} "
            "AND m.created_at < %(since)s AND m.updated_at < %(since)s AND "
            + " AND ".join(conditions)
            + " ORDER BY m.id LIMIT %(limit)s",
            {"since": since, "limit": limit},
        )
        return [row[0] for row in cursor.fetchall()]


def erase_inactive_members(*, now, batch: int, actor) -> int:
    days = member_retention_days()
    if not days:
        return 0
    erased = 0
    for member_id in inactive_member_ids(since=now - timedelta(days=days), limit=batch):
        member = Member.objects.filter(pk=member_id, **members_sql.LIVE).first()
        if member is not None:  # merged or erased since the list was read
            privacy.erase_member(member=member, actor=actor, reason="retention")
            erased += 1
    return erased


def run_retention(*, now=None, batch: int | None = None) -> dict:
    """One retention pass (see the module docstring); returns and audits the counts."""
    now = now or timezone.now()
    batch = batch or retention_batch()
    actor = SystemActor(ACTOR_LABEL)
    counts: dict[str, object] = {}
    for name, step in registry.retention_steps().items():
        counts[name] = step(now=now, batch=batch)
    counts["members_erased"] = erase_inactive_members(now=now, batch=batch, actor=actor)
    audit.record(
        actor=actor,
        action="privacy.retention",
        detail={
            "by": ACTOR_LABEL,
            "counts": counts,
            "batch": batch,
            "upload_retention_days": getattr(settings, "SIYU_UPLOAD_RETENTION_DAYS", 30),
            "member_retention_days": member_retention_days(),
        },
    )
    return counts
