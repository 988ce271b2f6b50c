"""Reading WeCom mass-message results back (no callback reports them): per task, whether its staff
member sent it (get_groupmsg_task: 0 not sent, 2 sent) and then each customer's result
(get_groupmsg_send_result: 0 not sent, 1 sent, 2 not a friend, 3 already received another mass
message), written onto the deliveries one UPDATE ... FROM unnest per page of 1,000, each changed
delivery's delivery.state_changed event in the same statement (sending.with_state_events).

A task is polled for as long as it can still be confirmed (WECOM_MASS_CONFIRM_DAYS), often at first
and then less (every 5 minutes for 6 hours, hourly for 3 days, then daily), and each run does bounded
work (a few dozen tasks, each at most a task's pages). What is still unsent when the task can no
longer be confirmed is final: failed, not confirmed (cancelled for a cancelled campaign). A customer
WeCom did not send to (not a friend, already received) gives their frequency-cap slot back: WeCom's
own limit is the final word and must not spend ours."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from campaigns.models import ERROR_MAX, Campaign, Delivery, DeliveryReason, WecomMassTask, WecomTaskState
from campaigns.services import respect, sending, wecom_tasks
from wecom import sql as wecom_sql
from wecom.client import errors, get_client

logger = logging.getLogger(__name__)

DELIVERY = Delivery._meta.db_table
TASK = WecomMassTask._meta.db_table
STAFF_STATUS = "externalcontact/get_groupmsg_task"
SEND_RESULT = "externalcontact/get_groupmsg_send_result"
PAGE = 1000  # both APIs' largest page
PAGES_PER_TASK = 12  # a task carries at most 10,000 customers: 10 pages, and a margin
TASKS_PER_RUN = 50
RESOLVE_PER_RUN = 20
LEASE = dt.timedelta(minutes=10)  # a claimed task is not polled by another worker meanwhile
ERRORS_MAX = 20  # polls in a row WeCom refused before a task is given up
# After its staff member sent it, a customer still unsent (left out by the staff member) is final
# after this long.
AFTER_CONFIRM = dt.timedelta(days=1)

S = WecomTaskState


@dataclass
class PollReport:
    polled: int = 0
    sent: int = 0
    not_friends: int = 0
    already_received: int = 0
    expired: int = 0
    finished: int = 0
    cancelled: int = 0
    resolved: int = 0
    errors: list[str] = field(default_factory=list)


def cadence(age: dt.timedelta) -> dt.timedelta:
    """Time to the next poll of a task this old: staff confirm mostly within hours, some days later."""
    if age < dt.timedelta(hours=6):
        return dt.timedelta(minutes=5)
    if age < dt.timedelta(days=3):
        return dt.timedelta(hours=1)
    return dt.timedelta(days=1)


# --- writing results -------------------------------------------------------------------------------


def apply_page(task: WecomMassTask, campaign: Campaign, rows: list[dict], *, now: dt.datetime,
               report: PollReport) -> None:
    """One page of per-customer results onto the task's deliveries still waiting (accepted, this
    msgid), in one statement; the slots of customers WeCom did not send to are given back."""
    final = [r for r in rows if int(r.get("status") or 0) in (1, 2, 3) and r.get("external_userid")]
    if not final:
        return
    statement, events = sending.with_state_events(
        f"UPDATE {DELIVERY} d SET "
        "state = CASE k.status WHEN 1 THEN 'sent' WHEN 2 THEN 'failed' ELSE 'suppressed' END, "
        "reason = CASE k.status WHEN 1 THEN '' WHEN 2 THEN %(not_friend)s ELSE %(received)s END, "
        "sent_at = CASE WHEN k.status = 1 THEN to_timestamp(k.sent) END, updated_at = %(now)s "
        "FROM unnest(%(ext)s::text[], %(status)s::int[], %(sent)s::bigint[]) AS k(ext, status, sent) "
        f"JOIN {wecom_sql.CONTACT} wc ON wc.external_userid = k.ext "
        "WHERE d.campaign_id = %(campaign)s AND d.send_month = %(month)s AND d.member_id = wc.member_id "
        "AND d.state = 'accepted' AND d.provider_message_id = %(msgid)s "
        "RETURNING d.id, d.campaign_id, d.member_id, d.state, d.reason, d.claimed_at, k.status",
        "SELECT member_id, claimed_at, status FROM w", now=now)
    with connection.cursor() as cursor:
        cursor.execute(statement, {
            **events, "not_friend": DeliveryReason.NOT_A_FRIEND.value,
            "received": DeliveryReason.ALREADY_RECEIVED.value, "now": now,
            "ext": [r["external_userid"] for r in final], "status": [int(r["status"]) for r in final],
            "sent": [int(r.get("send_time") or 0) for r in final], "campaign": campaign.pk,
            "month": campaign.send_month, "msgid": task.msgid})
        written = cursor.fetchall()
    report.sent += sum(1 for *_k, status in written if status == 1)
    report.not_friends += sum(1 for *_k, status in written if status == 2)
    report.already_received += sum(1 for *_k, status in written if status == 3)
    respect.release([(member_id, claimed_at) for member_id, claimed_at, status in written
                     if status != 1 and claimed_at is not None], wecom=True,
                    counted=respect.counts_toward_caps(campaign.purpose))


def _waiting(task: WecomMassTask, campaign: Campaign) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {DELIVERY} WHERE send_month = %s AND id = ANY(%s) AND state = 'accepted' "
            "AND provider_message_id = %s",
            [campaign.send_month, task.delivery_ids, task.msgid],
        )
        return cursor.fetchone()[0]


def expire(task: WecomMassTask, campaign: Campaign, *, reason: str, now: dt.datetime, error: str = "") -> int:
    """The task's deliveries still waiting become final (failed, or suppressed as cancelled) and
    give their slots back; the rows written."""
    state = "suppressed" if reason == DeliveryReason.CANCELLED else "failed"
    statement, events = sending.with_state_events(
        f"UPDATE {DELIVERY} d SET state = %(state)s, reason = %(reason)s, error = %(error)s, updated_at = %(now)s "
        "WHERE d.send_month = %(month)s AND d.id = ANY(%(ids)s) AND d.state = 'accepted' "
        "AND d.provider_message_id = %(msgid)s "
        "RETURNING d.id, d.campaign_id, d.member_id, d.state, d.reason, d.claimed_at",
        "SELECT member_id, claimed_at FROM w", now=now)
    with connection.cursor() as cursor:
        cursor.execute(statement, {
            **events, "state": state, "reason": reason, "error": error[:ERROR_MAX], "now": now,
            "month": campaign.send_month, "ids": task.delivery_ids, "msgid": task.msgid})
        written = cursor.fetchall()
    respect.release([(m, at) for m, at in written if at is not None], wecom=True,
                    counted=respect.counts_toward_caps(campaign.purpose))
    return len(written)


# --- one task --------------------------------------------------------------------------------------


waiting = _waiting  # this module is the ledger of customer tasks (chat_type "single")


def _ledger(task: WecomMassTask):
    """Where a task's results are written: the deliveries here, or a group task's GroupDelivery rows
    (campaigns.services.group_messages, with the same apply_page / waiting / expire)."""
    if task.chat_type == "group":
        from campaigns.services import group_messages

        return group_messages
    return sys.modules[__name__]


def _staff_status(task: WecomMassTask, client) -> tuple[int, int | None]:
    for page in client.pages(STAFF_STATUS, {"msgid": task.msgid, "limit": PAGE}, max_pages=PAGES_PER_TASK):
        for row in page.get("task_list") or []:
            if row.get("userid") == task.sender:
                return int(row.get("status") or 0), row.get("send_time")
    return 0, None


def poll_task(task: WecomMassTask, *, client, now: dt.datetime, report: PollReport) -> None:
    """Read one task's state and results and write them; decide whether it is finished and when it
    is polled next. RateLimited propagates (the run stops; the task is due again after the pause)."""
    campaign = Campaign.objects.get(pk=task.campaign_id)
    ledger = _ledger(task)
    created = task.created_at or task.intended_at
    try:
        status, send_time = _staff_status(task, client)
        if status == 2:
            if task.confirmed_at is None:
                task.confirmed_at = dt.datetime.fromtimestamp(int(send_time or now.timestamp()), tz=dt.UTC)
            body = {"msgid": task.msgid, "userid": task.sender, "limit": PAGE}
            for page in client.pages(SEND_RESULT, body, max_pages=PAGES_PER_TASK):
                ledger.apply_page(task, campaign, page.get("send_list") or [], now=now, report=report)
    except errors.RateLimited as exc:
        WecomMassTask.objects.filter(pk=task.pk).update(
            next_poll_at=now + dt.timedelta(seconds=exc.retry_after), error=str(exc)[:ERROR_MAX])
        raise
    except errors.WecomError as exc:
        failures = task.errors + 1
        report.errors.append(f"task {task.pk}: {exc}"[:ERROR_MAX])
        if failures >= ERRORS_MAX:
            report.expired += ledger.expire(task, campaign, reason=DeliveryReason.PROVIDER_ERROR, now=now,
                                            error=str(exc))
            WecomMassTask.objects.filter(pk=task.pk).update(
                finished_at=now, errors=failures, error=str(exc)[:ERROR_MAX])
            report.finished += 1
            return
        WecomMassTask.objects.filter(pk=task.pk).update(
            errors=failures, error=str(exc)[:ERROR_MAX], last_polled_at=now,
            next_poll_at=now + min(cadence(now - created), dt.timedelta(minutes=5) * failures))
        return
    report.polled += 1
    finished = None
    if ledger.waiting(task, campaign) == 0:
        finished = now
    elif task.cancelled_at is not None and task.last_polled_at is not None and task.last_polled_at >= task.cancelled_at:
        # Polled once since the cancel: whoever had sent is counted; the rest never will be.
        report.expired += ledger.expire(task, campaign, reason=DeliveryReason.CANCELLED, now=now)
        finished = now
    elif now >= created + wecom_tasks.confirm_window() or (
            task.confirmed_at is not None and now >= task.confirmed_at + AFTER_CONFIRM):
        report.expired += ledger.expire(task, campaign, reason=DeliveryReason.NOT_CONFIRMED, now=now)
        finished = now
    next_poll = None if finished else min(now + cadence(now - created),
                                          max(created + wecom_tasks.confirm_window(), now + dt.timedelta(minutes=1)))
    if task.cancelled_at is not None and not finished:
        next_poll = now + dt.timedelta(minutes=1)  # one more read settles a cancelled task
    WecomMassTask.objects.filter(pk=task.pk).update(
        confirmed_at=task.confirmed_at, last_polled_at=now, polls=task.polls + 1, errors=0, error="",
        finished_at=finished, next_poll_at=next_poll,
    )
    if finished:
        report.finished += 1


# --- the run ---------------------------------------------------------------------------------------


def _claim(now: dt.datetime, limit: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TASK} SET next_poll_at = %s WHERE id IN (SELECT id FROM {TASK} "
            "WHERE state = 'created' AND finished_at IS NULL AND next_poll_at <= %s "
            "ORDER BY next_poll_at, id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id",
            [now + LEASE, now, limit],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _resolve_stale(*, client, now: dt.datetime, report: PollReport) -> None:
    """Unknown outcomes nobody sends again (the campaign was cancelled or paused meanwhile): read
    back, so a task WeCom made is tracked (and cancelled) like any other."""
    stale = WecomMassTask.objects.filter(
        state__in=wecom_tasks.OPEN, intended_at__lt=now - wecom_tasks.STALE_INTENT
    ).order_by("intended_at")[:RESOLVE_PER_RUN]
    for task in stale:
        wecom_tasks.resolve(task, client=client, now=now)
        report.resolved += 1


def poll(*, client=None, now: dt.datetime | None = None, limit: int = TASKS_PER_RUN) -> PollReport:
    """One bounded run: cancel the open tasks of cancelled campaigns, settle stale unknown outcomes,
    then poll the due tasks. Safe on several workers (claims with SKIP LOCKED)."""
    report = PollReport()
    if not wecom_tasks.configured() or not WecomMassTask.objects.exists():
        return report
    now = now or timezone.now()
    client = client or get_client()
    try:
        for campaign_id in wecom_tasks.cancelled_campaigns_with_open_tasks():
            report.cancelled += wecom_tasks.cancel_open(campaign_id=campaign_id, client=client, now=now)
        _resolve_stale(client=client, now=now, report=report)
        for pk in _claim(now, limit):
            task = WecomMassTask.objects.filter(pk=pk, state=S.CREATED, finished_at__isnull=True).first()
            if task is not None:
                poll_task(task, client=client, now=now, report=report)
    except (errors.RateLimited, errors.Unavailable, errors.CredentialsRejected, errors.NotConfigured) as exc:
        report.errors.append(str(exc)[:ERROR_MAX])
    return report


def waiting_counts(campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per campaign: its WeCom tasks waiting for their staff member, confirmed, and finished."""
    counts = {pk: {"waiting": 0, "confirmed": 0, "finished": 0, "failed": 0} for pk in campaign_ids}
    rows = WecomMassTask.objects.filter(campaign_id__in=campaign_ids).values_list(
        "campaign_id", "state", "confirmed_at", "finished_at")
    for campaign_id, state, confirmed_at, finished_at in rows:
        c = counts[campaign_id]
        if state in (S.FAILED, S.CANCELLED):
            c["failed"] += 1
        elif finished_at is not None:
            c["finished"] += 1
        elif confirmed_at is not None:
            c["confirmed"] += 1
        else:
            c["waiting"] += 1
    return counts
