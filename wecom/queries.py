"""Read side of the WeCom contact syncs: runs with their reasons in words, a run's cursors and
failures, the staff list, and a member's follows for the member page."""

from __future__ import annotations

from django.db.models import QuerySet

from wecom.models import ACTIVE_RUN_STATUSES, SyncCursor, SyncFailure, SyncRun, WecomFollow
from wecom.services import sync_reasons


def describe(run: SyncRun) -> SyncRun:
    """Put the run's codes into words (for the reader's language) as attributes the pages show."""
    run.pause_text = sync_reasons.pause_reason(run.pause_reason) if run.status == "paused" else ""
    run.error_text = sync_reasons.run_error(run.error_code)
    run.is_active = run.status in ACTIVE_RUN_STATUSES
    run.percent = round(100 * run.staff_done / run.staff_total) if run.staff_total else 0
    return run


def describe_all(runs) -> list[SyncRun]:
    return [describe(run) for run in runs]


def any_active(runs) -> bool:
    return any(run.status in ACTIVE_RUN_STATUSES for run in runs)


def cursors_of(run: SyncRun) -> QuerySet:
    return SyncCursor.objects.filter(run=run).select_related("staff__user", "staff__store").order_by("staff__userid")


def failures_of(run: SyncRun) -> QuerySet:
    return SyncFailure.objects.filter(run=run).select_related("staff").order_by("id")


def worded_cursors(cursors) -> list[SyncCursor]:
    for cursor in cursors:
        cursor.reason_text = sync_reasons.failure(cursor.error_code)
    return list(cursors)


def worded_failures(failures) -> list[SyncFailure]:
    for failure in failures:
        failure.reason_text = sync_reasons.failure(failure.reason)
    return list(failures)


def follows_of(member) -> QuerySet:
    """The member's WeCom follows (the contacts of every id the member holds), newest first."""
    return (
        WecomFollow.objects.filter(contact__member=member)
        .select_related("staff__user", "staff__store", "contact")
        .order_by("-added_at", "-id")
    )


def member_panel(member, user) -> dict:
    """The WeCom panel: the member's follows with staff, when and how they were added, the channel
    state and the staff's remark. Two queries."""
    from members.models import AddWay

    follows = list(follows_of(member)[:50])
    relation_ids = [f.relation_id for f in follows if f.relation_id]
    from members.models import StaffRelation

    relations = {r.pk: r for r in StaffRelation.objects.filter(pk__in=relation_ids).only("id", "remark", "add_way")}
    for follow in follows:
        relation = relations.get(follow.relation_id)
        follow.remark = relation.remark if relation else ""
        follow.add_way_label = AddWay(relation.add_way).label if relation and relation.add_way in AddWay.values else ""
    return {"follows": follows, "active": sum(1 for f in follows if f.deleted_at is None)}
