"""Handovers, the groups part: the leaver's customer groups handed to the receiver with
`externalcontact/groupchat/onjob_transfer` (still employed) or `groupchat/transfer` (left), part of
the same handover as their customers.

A handover of all of a leaver's customers writes one row per live group the leaver owns (the
outbox). A worker claims queued groups, at most 100 a call and no more than WeCom's 300 chats a day to
one new owner (what was sent to that receiver in the last 24 hours, across handovers, counted under
a lock per receiver), and records the intent (`sent_at`) before the call. WeCom moves a chat at once
unless it lists it in `failed_chat_list`, so a group is final when its call comes back; a moved group
gets its new owner in Siyu's mirror too. A call whose outcome is unknown is settled by reading the
group back (`groupchat/get`: whose it is now), never by sending again."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from wecom.client import errors
from wecom.models import (
    CustomerGroup,
    GroupItemStatus,
    Handover,
    HandoverGroup,
    HandoverKind,
)

log = logging.getLogger(__name__)

BATCH = 100  # chats per transfer call (WeCom's limit)
DAILY_PER_OWNER = 300  # chats WeCom hands to one new owner a day
DAY = timedelta(hours=24)
ADVISORY = 871_400  # pg_advisory_xact_lock's first key: a receiver's daily count and claim
PATHS = {
    HandoverKind.ON_JOB: "externalcontact/groupchat/onjob_transfer",
    HandoverKind.RESIGNED: "externalcontact/groupchat/transfer",
}
# errcode of one chat in failed_chat_list -> the group's status (anything else: failed).
FAILED_STATUS = {40128: GroupItemStatus.LIMIT}  # handed over twice in 90 days already
NOT_FOUND = 40050  # groupchat/get: the chat is gone (dismissed)


# --- creating ---------------------------------------------------------------------------------


def write_groups(handover: Handover) -> int:
    """One row per live (not dismissed) group the leaver owns, leaving out groups queued in another
    handover. Set-based; call inside the handover's transaction."""
    rows, groups = HandoverGroup._meta.db_table, CustomerGroup._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {rows} (handover_id, group_id, status, updated_at)
            SELECT %s, g.id, 'queued', now() FROM {groups} g
            WHERE g.owner_id = %s AND g.dismissed_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM {rows} h WHERE h.group_id = g.id AND h.status = 'queued')
            ORDER BY g.id
            ON CONFLICT DO NOTHING""",
            [handover.pk, handover.from_staff_id],
        )
        return cursor.rowcount


# --- sending ----------------------------------------------------------------------------------


def sent_today(receiver_id: int, *, now=None) -> int:
    """Chats handed (or being handed: claimed, call under way) to one receiver in the last 24 hours."""
    since = (now or timezone.now()) - DAY
    return HandoverGroup.objects.filter(
        handover__to_staff_id=receiver_id, sent_at__gte=since,
        status__in=(GroupItemStatus.QUEUED, GroupItemStatus.DONE),
    ).count()


def _claim(handover: Handover) -> list[tuple[int, str]]:
    """Up to BATCH queued groups nobody has claimed, cut to what the receiver may still take today,
    with the intent recorded (sent_at) and committed before the call. The advisory lock makes the
    count and the claim one step for all workers sending to this receiver."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY, handover.to_staff_id])
        now = timezone.now()
        room = min(BATCH, DAILY_PER_OWNER - sent_today(handover.to_staff_id, now=now))
        if room <= 0:
            return []
        rows = list(
            HandoverGroup.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(handover_id=handover.pk, status=GroupItemStatus.QUEUED, sent_at__isnull=True)
            .order_by("id")
            .values_list("id", "group__chat_id")[:room]
        )
        if rows:
            HandoverGroup.objects.filter(pk__in=[r[0] for r in rows]).update(sent_at=now, updated_at=now)
    return rows


def _release(ids: list[int]) -> None:
    """The call was refused before anything happened (rate limit, credentials): queue them again."""
    HandoverGroup.objects.filter(pk__in=ids, status=GroupItemStatus.QUEUED).update(
        sent_at=None, updated_at=timezone.now())


def _record(handover: Handover, outcomes: dict[int, tuple[str, int | None]]) -> int:
    """{row id: (status, errcode)} for rows still queued; the groups now the receiver's get their new
    owner in the mirror. One transaction; the conditional update is the claim."""
    if not outcomes:
        return 0
    table = HandoverGroup._meta.db_table
    ids = list(outcomes)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {table} h SET status = v.status, errcode = v.errcode, updated_at = now()
            FROM unnest(%s::bigint[], %s::text[], %s::int[]) AS v(id, status, errcode)
            WHERE h.id = v.id AND h.status = 'queued' RETURNING h.group_id, h.status""",
            [ids, [outcomes[i][0] for i in ids], [outcomes[i][1] for i in ids]],
        )
        changed = cursor.fetchall()
        moved = [group_id for group_id, status in changed if status == GroupItemStatus.DONE]
        if moved:
            receiver, now = handover.to_staff, timezone.now()
            CustomerGroup.objects.filter(pk__in=moved).update(
                owner=receiver, owner_userid=receiver.userid, store_id=receiver.store_id,
                seen_at=now, synced_at=now)
    return len(changed)


def _send_batch(client, handover: Handover, rows: list[tuple[int, str]]) -> None:
    ids_by_chat = {chat_id: row_id for row_id, chat_id in rows}
    body = {"chat_id_list": list(ids_by_chat), "new_owner": handover.to_staff.userid}
    try:
        answer = client.post(PATHS[handover.kind], body)
    except (errors.RateLimited, errors.CredentialsRejected, errors.NotConfigured):
        _release(list(ids_by_chat.values()))  # refused before WeCom did anything
        raise
    except errors.Unavailable:
        raise  # outcome unknown: the rows keep their sent_at and are settled by reading back
    except errors.WecomError as exc:  # the whole call refused (permission, bad staff id): not retried
        code = exc.errcode if exc.errcode is not None else -1
        _record(handover, {i: (FAILED_STATUS.get(code, GroupItemStatus.FAILED), code) for i in ids_by_chat.values()})
        return
    outcomes = dict.fromkeys(ids_by_chat.values(), (GroupItemStatus.DONE, None))
    for row in answer.get("failed_chat_list") or []:
        row_id = ids_by_chat.get(row.get("chat_id")) if isinstance(row, dict) else None
        if row_id is not None:
            code = int(row.get("errcode") or -1)
            outcomes[row_id] = (FAILED_STATUS.get(code, GroupItemStatus.FAILED), code)
    _record(handover, outcomes)


def settle_unknown(*, handover: Handover, client, older_than: timedelta) -> int:
    """Groups claimed for a call that never came back: read back, those now the receiver's are done,
    a dismissed one failed, the rest queued again (WeCom did not move them)."""
    from wecom.services import groups

    cutoff = timezone.now() - older_than
    pending = list(HandoverGroup.objects.filter(handover=handover, status=GroupItemStatus.QUEUED,
                                                sent_at__lt=cutoff).values_list("id", "group__chat_id"))
    outcomes, again = {}, []
    for row_id, chat_id in pending:
        try:
            detail = groups.read_group(chat_id, client=client)
        except errors.InvalidRequest as exc:
            outcomes[row_id] = (GroupItemStatus.FAILED, exc.errcode)
            continue
        if detail is None:
            outcomes[row_id] = (GroupItemStatus.FAILED, NOT_FOUND)
        elif detail.get("owner") == handover.to_staff.userid:
            outcomes[row_id] = (GroupItemStatus.DONE, None)
        else:
            again.append(row_id)
    settled = _record(handover, outcomes)
    if again:
        HandoverGroup.objects.filter(pk__in=again, status=GroupItemStatus.QUEUED, sent_at__lt=cutoff).update(
            sent_at=None, updated_at=timezone.now())
    return settled + len(again)


def send_queued(*, handover: Handover, client, settle_after: timedelta, result) -> None:
    """Send the handover's queued groups until none is left or the receiver's day is full, counting
    into `result` (groups_sent, group_calls) as calls come back. WeCom's errors (rate limit, outage,
    credentials) propagate to the caller, which pauses as for customers."""
    settle_unknown(handover=handover, client=client, older_than=settle_after)
    while rows := _claim(handover):
        result.group_calls += 1
        _send_batch(client, handover, rows)
        result.groups_sent += len(rows)
