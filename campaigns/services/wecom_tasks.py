"""WeCom customer mass messages: creating the tasks a send batch needs, exactly once, and what staff
and operators do with them (remind, cancel).

WeCom's add_msg_template takes no idempotency key: a retried create makes a second task, and a
customer would get the message twice once both are confirmed. So every create is a WecomMassTask row
written and committed as an intent first; an answer turns it into `created` (its msgid) or `failed`;
a call whose outcome is unknown (a timeout, a dropped connection) leaves it `unknown`. Before any
delivery of an unknown (or stale intent) row is sent again, WeCom's task list is read back
(get_groupmsg_list_v2 around the intent's time, API-created tasks, matched by sender, text and time)
and the task found is adopted; only a task WeCom has no record of is created again."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import content
from campaigns.channels.base import Outcome, Outgoing, Result
from campaigns.links.services import Tracker
from campaigns.models import (
    ERROR_MAX,
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryReason,
    WecomMassTask,
    WecomTaskState,
)
from campaigns.services import attachments as attachment_service
from members import sql as members_sql
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope
from scrm.models import Role
from wecom import sql as wecom_sql
from wecom.client import errors, get_client

logger = logging.getLogger(__name__)

DELIVERY = Delivery._meta.db_table
TASK = WecomMassTask._meta.db_table
CREATE = "externalcontact/add_msg_template"
LIST = "externalcontact/get_groupmsg_list_v2"
REMIND = "externalcontact/remind_groupmsg_send"
CANCEL = "externalcontact/cancel_groupmsg_send"
MAX_CUSTOMERS = 10_000  # external_userid per add_msg_template call (single chat)
REMINDERS_PER_DAY = 3  # remind_groupmsg_send: at most 3 per task in 24 hours
# Read-back window around an intent: WeCom's create_time is the server's clock, ours may differ.
MATCH_BEFORE = dt.timedelta(minutes=5)
MATCH_AFTER = dt.timedelta(minutes=30)
LIST_PAGES = 20  # get_groupmsg_list_v2 pages (100 tasks each) read per look-up
STAFF_TASK = "externalcontact/get_groupmsg_task"
STAFF_TASK_PAGES = 5
MATCH_CANDIDATES = 500  # tasks with the intent's text whose staff list is read, closest in time first
# An intent this old whose worker never wrote an answer is as unknown as a timeout.
STALE_INTENT = dt.timedelta(minutes=2)
OPEN = (WecomTaskState.INTENT, WecomTaskState.UNKNOWN)
INVALID_MEDIA = 40007  # add_msg_template: a media_id WeCom does not know (or no longer)

S = WecomTaskState


def configured() -> bool:
    """Whether a WeCom corp is configured (the client's own test: a corp id and a secret)."""
    return bool(settings.WECOM_CORP_ID and settings.WECOM_SECRET)


def confirm_window() -> dt.timedelta:
    """How long after its creation a task may still be confirmed by its staff member and is polled
    (WECOM_MASS_CONFIRM_DAYS; WeCom documents no end, so it is the brand's setting)."""
    return dt.timedelta(days=settings.WECOM_MASS_CONFIRM_DAYS)


def _short(exc: Exception) -> str:
    return str(exc)[:ERROR_MAX]


# --- who a delivery goes through -------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    delivery_id: int
    staff_id: int | None
    store_id: int | None
    sender: str
    external_userid: str


def targets(batch: list[Outgoing]) -> dict[int, Target]:
    """Per delivery of the batch: the staff member's WeCom userid and the customer's external_userid
    of the relation chosen at fan-out, while that follow is still active (one query)."""
    if not batch:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT d.id, d.staff_id, ws.store_id, ws.userid, wc.external_userid FROM {DELIVERY} d "
            "JOIN unnest(%s::date[], %s::bigint[]) AS k(send_month, id) ON d.send_month = k.send_month AND d.id = k.id "
            f"JOIN {wecom_sql.FOLLOW} f ON f.relation_id = d.relation_id AND f.deleted_at IS NULL "
            f"JOIN {wecom_sql.STAFF} ws ON ws.id = f.staff_id AND ws.status = 'active' "
            f"JOIN {wecom_sql.CONTACT} wc ON wc.id = f.contact_id AND wc.deleted_at IS NULL",
            [[o.send_month for o in batch], [o.delivery_id for o in batch]],
        )
        return {row[0]: Target(*row) for row in cursor.fetchall()}


def recipient_sql(member: str) -> str:
    """The relation a member is reached through: their owner's when it is an active WeCom follow of
    an active staff member, else the most recently added active follow (the staff member who last
    took them on is the likeliest to have chatted last, whom WeCom itself would pick)."""
    return (
        f"SELECT r.id AS relation_id, r.staff_id AS staff_id, wc.external_userid::text AS address "
        f"FROM {members_sql.STAFF_RELATION} r "
        f"JOIN {wecom_sql.FOLLOW} f ON f.relation_id = r.id AND f.deleted_at IS NULL "
        f"JOIN {wecom_sql.STAFF} ws ON ws.id = f.staff_id AND ws.status = 'active' "
        f"JOIN {wecom_sql.CONTACT} wc ON wc.id = f.contact_id AND wc.deleted_at IS NULL "
        f"WHERE r.member_id = {member}.id AND r.staff_deleted_at IS NULL AND r.member_deleted_at IS NULL "
        "ORDER BY r.is_owner DESC, r.added_at DESC, r.id DESC LIMIT 1"
    )


def recipients_sql() -> str:
    """recipient_sql for every member at once (member_id, relation_id, staff_id, address): the same
    choice, one row per member, for a fan-out reading most of the members (one pass with hash joins
    and a sort instead of a look-up per member)."""
    return (
        f"SELECT DISTINCT ON (r.member_id) r.member_id, r.id AS relation_id, r.staff_id AS staff_id, "
        f"wc.external_userid::text AS address "
        f"FROM {members_sql.STAFF_RELATION} r "
        f"JOIN {wecom_sql.FOLLOW} f ON f.relation_id = r.id AND f.deleted_at IS NULL "
        f"JOIN {wecom_sql.STAFF} ws ON ws.id = f.staff_id AND ws.status = 'active' "
        f"JOIN {wecom_sql.CONTACT} wc ON wc.id = f.contact_id AND wc.deleted_at IS NULL "
        f"WHERE r.staff_deleted_at IS NULL AND r.member_deleted_at IS NULL "
        "ORDER BY r.member_id, r.is_owner DESC, r.added_at DESC, r.id DESC"
    )


def address_sql(member: str) -> str:
    """The external_userid of the member's chosen follow (NULL without an active one)."""
    return (
        f"(SELECT wc.external_userid FROM {members_sql.STAFF_RELATION} r "
        f"JOIN {wecom_sql.FOLLOW} f ON f.relation_id = r.id AND f.deleted_at IS NULL "
        f"JOIN {wecom_sql.STAFF} ws ON ws.id = f.staff_id AND ws.status = 'active' "
        f"JOIN {wecom_sql.CONTACT} wc ON wc.id = f.contact_id AND wc.deleted_at IS NULL "
        f"WHERE r.member_id = {member}.id AND r.staff_deleted_at IS NULL AND r.member_deleted_at IS NULL "
        "ORDER BY r.is_owner DESC, r.added_at DESC, r.id DESC LIMIT 1)"
    )


# --- reading WeCom's tasks back ---------------------------------------------------------------------


def _epoch(at: dt.datetime) -> int:
    return int(at.timestamp())


def _sends_for(client, msgid: str, sender: str) -> bool:
    """Whether the task `msgid` is for staff member `sender` (its get_groupmsg_task list)."""
    for page in client.pages(STAFF_TASK, {"msgid": msgid, "limit": 1000}, max_pages=STAFF_TASK_PAGES):
        if any(row.get("userid") == sender for row in page.get("task_list") or []):
            return True
    return False


def find_task(task: WecomMassTask, *, client) -> tuple[str, dt.datetime] | None:
    """The msgid and create time of the WeCom task an intent made, or None when WeCom lists none:
    API-created single-chat tasks created around the intent with its text and as many attachments as
    the campaign has, not
    taken by another of our rows, closest in time first, the first whose staff list has the intent's
    sender. The list gives no sender for tasks created through the API (and a campaign's tasks for
    every staff member share text and time), so each candidate's staff list is read: bounded by
    MATCH_CANDIDATES. Raises the client's errors when WeCom cannot be read."""
    start, end = task.intended_at - MATCH_BEFORE, task.intended_at + MATCH_AFTER
    attached = len(Campaign.objects.values_list("attachments", flat=True).get(pk=task.campaign_id) or [])
    taken = set(
        WecomMassTask.objects.filter(campaign_id=task.campaign_id).exclude(pk=task.pk).exclude(msgid="")
        .values_list("msgid", flat=True)
    )
    body = {"chat_type": task.chat_type, "filter_type": 0, "start_time": _epoch(start), "end_time": _epoch(end),
            "limit": 100}
    found: list[tuple[int, str]] = []
    for page in client.pages(LIST, body, max_pages=LIST_PAGES):
        for row in page.get("group_msg_list") or []:
            text = (row.get("text") or {}).get("content", "")
            msgid = row.get("msgid") or ""
            if text == task.text and msgid and msgid not in taken and len(row.get("attachments") or []) == attached:
                found.append((int(row.get("create_time") or 0), msgid))
    found.sort(key=lambda pair: abs(pair[0] - _epoch(task.intended_at)))
    for created, msgid in found[:MATCH_CANDIDATES]:
        if _sends_for(client, msgid, task.sender):
            return msgid, dt.datetime.fromtimestamp(created, tz=dt.UTC)
    return None


def resolve(task: WecomMassTask, *, client, now: dt.datetime) -> WecomMassTask:
    """Settle an intent or unknown row by reading WeCom back: `created` with the msgid found, or
    `failed` (not created; its deliveries may be sent again). Errors reading leave it as it was."""
    found = find_task(task, client=client)
    if found is None:
        WecomMassTask.objects.filter(pk=task.pk, state__in=OPEN).update(
            state=S.FAILED, error=_("Not created: WeCom lists no such task."), finished_at=now
        )
    else:
        msgid, created_at = found
        WecomMassTask.objects.filter(pk=task.pk, state__in=OPEN).update(
            state=S.CREATED, msgid=msgid, created_at=created_at, next_poll_at=now, error=""
        )
    task.refresh_from_db()
    return task


def _carrying(campaign_id: int, states, delivery_ids: list[int]) -> list[WecomMassTask]:
    """The campaign's tasks in `states` that carry any of these deliveries. One pass over the
    campaign's tasks' delivery ids against a hashed list (array && compares every element of one
    array with every element of the other: 200 tasks of 1,000 against a claim of 10,000 took 11 s)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT t.id FROM {TASK} t CROSS JOIN LATERAL unnest(t.delivery_ids) AS d(id) "
            "WHERE t.campaign_id = %s AND t.state = ANY(%s) AND d.id = ANY(%s)",
            [campaign_id, list(states), list(delivery_ids)],
        )
        ids = [row[0] for row in cursor.fetchall()]
    return list(WecomMassTask.objects.filter(pk__in=ids).order_by("pk")) if ids else []


def _open_rows(campaign_id: int, delivery_ids: list[int], now: dt.datetime) -> list[WecomMassTask]:
    """The campaign's rows whose outcome is not known yet and that carry any of these deliveries
    (an intent is open only once its worker is surely gone)."""
    rows = _carrying(campaign_id, [str(s) for s in OPEN], delivery_ids)
    return [t for t in rows if t.state == S.UNKNOWN or t.intended_at < now - STALE_INTENT]


def _created_rows(campaign_id: int, delivery_ids: list[int]) -> list[WecomMassTask]:
    return _carrying(campaign_id, [str(S.CREATED)], delivery_ids)


def known_results(batch: list[Outgoing], *, client, now: dt.datetime) -> dict[int, Result]:
    """Deliveries of the batch a WeCom task already carries (created, or found by reading back an
    unknown outcome): ACCEPTED with its msgid. Raises the client's errors when WeCom cannot be read."""
    if not batch:
        return {}
    campaign_id = batch[0].campaign_id
    ids = [o.delivery_id for o in batch]
    for task in _open_rows(campaign_id, ids, now):
        resolve(task, client=client, now=now)
    known: dict[int, Result] = {}
    wanted = set(ids)
    for task in _created_rows(campaign_id, ids):
        for delivery_id in wanted.intersection(task.delivery_ids):
            known[delivery_id] = Result(delivery_id, Outcome.ACCEPTED, provider_message_id=task.msgid)
    return known


# --- creating --------------------------------------------------------------------------------------


def task_text(campaign_id: int, staff_id: int | None = None, *, tracker: Tracker | None = None) -> str:
    """The one text of a campaign's tasks: its content ({{ and }} written as braces), its links
    tracked for the staff member's task when `staff_id` is given and the links have their codes
    (campaigns.services.attachments: one text reaches all of that staff member's customers)."""
    if staff_id is None:
        return content.render(Campaign.objects.values_list("content", flat=True).get(pk=campaign_id), {})
    tracker = tracker or Tracker(Campaign.objects.get(pk=campaign_id))
    return content.render(tracker.text_for_staff(staff_id), {})


def _intent(campaign_id: int, target: Target, text: str, delivery_ids: list[int], now: dt.datetime) -> WecomMassTask:
    """The intent row, committed before the call (outside any transaction of the caller's)."""
    with transaction.atomic():
        return WecomMassTask.objects.create(
            campaign_id=campaign_id, staff_id=target.staff_id, store_id=target.store_id, sender=target.sender,
            text=text, delivery_ids=delivery_ids, customers=len(delivery_ids), intended_at=now,
        )


def _failed(task: WecomMassTask, message: str, now: dt.datetime) -> None:
    WecomMassTask.objects.filter(pk=task.pk).update(state=S.FAILED, error=message[:ERROR_MAX], finished_at=now)


def create(campaign_id: int, group: list[tuple[Outgoing, Target]], *, text: str, client,
           now: dt.datetime, attachments: list[dict] | None = None) -> list[Result]:
    """One add_msg_template call for one staff member's deliveries (≤ 10,000), its intent committed
    first; one Result per delivery. RateLimited and NotConfigured / CredentialsRejected propagate
    (nothing was created) after the row is marked failed."""
    task = _intent(campaign_id, group[0][1], text, [o.delivery_id for o, _t in group], now)
    body = {"chat_type": "single", "sender": task.sender, "text": {"content": text},
            "external_userid": [t.external_userid for _o, t in group]}
    if attachments:
        body["attachments"] = attachments
    try:
        answer = client.post(CREATE, body)
    except (errors.RateLimited, errors.CredentialsRejected, errors.NotConfigured) as exc:
        _failed(task, _short(exc), now)  # refused before WeCom made anything
        raise
    except errors.Unavailable as exc:
        # Outcome unknown: WeCom may have made the task. Never create again before reading back.
        WecomMassTask.objects.filter(pk=task.pk).update(state=S.UNKNOWN, error=_short(exc))
        return [Result(o.delivery_id, Outcome.RETRY, error=_("Outcome unknown: %(error)s") % {"error": exc})
                for o, _t in group]
    except errors.WecomError as exc:  # permission, bad sender, bad text: the call is refused for good
        _failed(task, _short(exc), now)
        if exc.errcode == INVALID_MEDIA:  # a kept media_id WeCom no longer has: upload again, then retry
            attachment_service.forget_media(campaign_id)
            return [Result(o.delivery_id, Outcome.RETRY, error=_short(exc)) for o, _t in group]
        return [Result(o.delivery_id, Outcome.FAILED, error=_short(exc)) for o, _t in group]
    refused = set(answer.get("fail_list") or [])
    msgid = answer.get("msgid") or ""
    taken = [o.delivery_id for o, t in group if t.external_userid not in refused]
    if msgid:
        WecomMassTask.objects.filter(pk=task.pk).update(
            state=S.CREATED, msgid=msgid[:64], created_at=now, next_poll_at=now, delivery_ids=taken,
            customers=len(taken), refused=len(group) - len(taken), error="",
        )
    else:
        _failed(task, _("WeCom made no task: every customer was refused."), now)
    results = []
    for o, t in group:
        if t.external_userid in refused or not msgid:
            results.append(Result(o.delivery_id, Outcome.FAILED, reason=DeliveryReason.NOT_A_FRIEND.value,
                                  error=_("In the create call's fail_list.")))
        else:
            results.append(Result(o.delivery_id, Outcome.ACCEPTED, provider_message_id=msgid))
    return results


def send(batch: list[Outgoing], *, client=None, now: dt.datetime | None = None) -> list[Result]:
    """The channel's send: deliveries a task already carries are answered from the ledger (after
    reading back unknown outcomes); the rest are grouped by staff member, one task each (10,000
    customers at most). A task carries one text for all its customers: the campaign's own (the
    channel refuses personal fields), not a per-recipient rendering."""
    if not batch:
        return []
    now = now or timezone.now()
    try:
        client = client or get_client()
        # Only a delivery claimed before can be in a task already (its worker died after the call).
        known = known_results([o for o in batch if o.attempt is None or o.attempt > 1], client=client, now=now)
    except errors.WecomError as exc:
        # WeCom cannot be read (or is not configured): nothing is created blind.
        return [Result(o.delivery_id, Outcome.RETRY, error=_short(exc)) for o in batch]
    results = list(known.values())
    rest = [o for o in batch if o.delivery_id not in known]
    found = targets(rest)
    groups: dict[tuple[str, str], list[tuple[Outgoing, Target]]] = {}
    for o in rest:
        target = found.get(o.delivery_id)
        if target is None:  # the follow chosen at fan-out is gone
            results.append(Result(o.delivery_id, Outcome.FAILED, reason=DeliveryReason.NOT_A_FRIEND.value,
                                  error=_("The staff member no longer follows this customer.")))
            continue
        groups.setdefault(target.sender, []).append((o, target))
    stop: errors.WecomError | None = None
    campaign = Campaign.objects.get(pk=batch[0].campaign_id)
    tracker = Tracker(campaign)
    for _sender, group in sorted(groups.items()):
        staff_id = group[0][1].staff_id
        text = task_text(campaign.pk, staff_id, tracker=tracker)
        for start in range(0, len(group), MAX_CUSTOMERS):
            chunk = group[start:start + MAX_CUSTOMERS]
            if stop is not None:
                results += [Result(o.delivery_id, Outcome.RETRY, error=_short(stop)) for o, _t in chunk]
                continue
            try:
                # Media first (uploaded when not fresh): nothing is created without its attachments.
                attachments = attachment_service.wecom_attachments(campaign, client=client, now=now, tracker=tracker,
                                                                   staff_id=staff_id)
                results += create(campaign.pk, chunk, text=text, client=client, now=now, attachments=attachments)
            except errors.WecomError as exc:  # rate limited or not configured: the rest waits too
                stop = exc
                results += [Result(o.delivery_id, Outcome.RETRY, error=_short(exc)) for o, _t in chunk]
    return results


def settle(batch: list[Outgoing], *, client=None, now: dt.datetime | None = None) -> dict[int, Result]:
    """The channel's settle (a lease ran out): what the ledger and WeCom know of these deliveries."""
    if not batch:
        return {}
    now = now or timezone.now()
    try:
        return known_results(batch, client=client or get_client(), now=now)
    except errors.WecomError:
        # WeCom cannot be read: answer them all as unsendable for now (retried, never created blind).
        return {o.delivery_id: Result(o.delivery_id, Outcome.RETRY, error="WeCom could not be read back")
                for o in batch}


# --- staff and operators ---------------------------------------------------------------------------


def own_cut(queryset, actor):
    """A store-scoped queryset of tasks cut to a clerk's own: store staff see only the tasks they
    are to send themselves (a manager their store's, an operator every one)."""
    if getattr(actor, "role", None) == Role.STORE_STAFF:
        return queryset.filter(staff_id=getattr(actor, "pk", None))
    return queryset


def visible_tasks(actor):
    """Tasks the actor may see: operators every one, a store manager their store's staff members',
    store staff only their own (scrm.scoping through the ScopedManager, then own_cut)."""
    return own_cut(WecomMassTask.objects.visible_to(actor), actor)


def waiting_for(actor) -> dict:
    """For the phone's Today page: how many of the tasks the actor sees still wait for their staff
    member (a clerk's own, a manager's store's), one count query."""
    waiting = visible_tasks(actor).filter(state=S.CREATED, confirmed_at__isnull=True, finished_at__isnull=True,
                                          cancelled_at__isnull=True).count()
    return {"waiting": waiting, "own": getattr(actor, "role", None) == Role.STORE_STAFF}


def can_manage(actor) -> bool:
    from campaigns.services import campaigns as lifecycle

    return lifecycle.can_approve(actor)


def reminders_left(task: WecomMassTask, now: dt.datetime) -> int:
    """Reminders the task may still get in the 24 hours before `now`."""
    recent = [t for t in task.reminded_at if t > now - dt.timedelta(hours=24)]
    return max(REMINDERS_PER_DAY - len(recent), 0)


def remind(*, task: WecomMassTask, actor, client=None, now: dt.datetime | None = None) -> WecomMassTask:
    """Remind the task's staff member (remind_groupmsg_send), at most 3 times in 24 hours: a
    Conflict beyond, or when the task is no longer waiting. The slot is claimed with one conditional
    UPDATE before the call and given back when WeCom refuses it."""
    if not can_manage(actor):
        raise Forbidden(_("Only operators and store managers remind staff."))
    if not visible_tasks(actor).filter(pk=task.pk).exists():
        raise NotInScope()
    now = now or timezone.now()
    task.refresh_from_db()
    if task.state != S.CREATED or task.finished_at or task.cancelled_at or task.confirmed_at:
        raise Conflict(_("This WeCom task is not waiting for its staff member: nothing to remind."),
                       details={"state": [task.state]})
    day_ago = now - dt.timedelta(hours=24)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TASK} SET reminded_at = array_append(ARRAY(SELECT t FROM unnest(reminded_at) AS t "
            "WHERE t > %s ORDER BY t), %s) WHERE id = %s "
            "AND (SELECT count(*) FROM unnest(reminded_at) AS t WHERE t > %s) < %s RETURNING id",
            [day_ago, now, task.pk, day_ago, REMINDERS_PER_DAY],
        )
        claimed = cursor.fetchone() is not None
    if not claimed:
        raise Conflict(_("A WeCom task can be reminded at most %(n)d times in 24 hours.") % {"n": REMINDERS_PER_DAY},
                       details={"reminded_at": [t.isoformat() for t in task.reminded_at]})
    try:
        (client or get_client()).post(REMIND, {"msgid": task.msgid})
    except errors.WecomError as exc:
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {TASK} SET reminded_at = array_remove(reminded_at, %s) WHERE id = %s",
                           [now, task.pk])
        if exc.errcode == 41063:
            raise Conflict(_("WeCom allows at most %(n)d reminders per task in 24 hours.")
                           % {"n": REMINDERS_PER_DAY}) from None
        raise InvalidInput(_("WeCom did not take the reminder: %(error)s") % {"error": exc.errmsg or exc}) from None
    task.refresh_from_db()
    return task


def cancel_open(*, campaign_id: int, client=None, now: dt.datetime | None = None) -> int:
    """cancel_groupmsg_send for the campaign's created tasks not cancelled yet (a cancelled
    campaign's): the staff members who have not sent stop; those who have keep their results,
    which polling still reads. Each row is claimed by a conditional UPDATE; the tasks cancelled."""
    now = now or timezone.now()
    ids = list(WecomMassTask.objects.filter(campaign_id=campaign_id, state=S.CREATED, cancelled_at__isnull=True)
               .values_list("pk", flat=True))
    if not ids:
        return 0
    client = client or get_client()
    done = 0
    for pk in ids:
        if not WecomMassTask.objects.filter(pk=pk, cancelled_at__isnull=True).update(cancelled_at=now):
            continue  # another worker has it
        task = WecomMassTask.objects.get(pk=pk)
        try:
            client.post(CANCEL, {"msgid": task.msgid})
        except (errors.RateLimited, errors.Unavailable) as exc:
            WecomMassTask.objects.filter(pk=pk).update(cancelled_at=None, error=_short(exc))
            raise
        except errors.WecomError as exc:  # refused for good (already sent, unknown msgid): recorded
            WecomMassTask.objects.filter(pk=pk).update(error=_short(exc))
        WecomMassTask.objects.filter(pk=pk).update(next_poll_at=now)
        done += 1
    return done


def cancelled_campaigns_with_open_tasks(limit: int = 50) -> list[int]:
    """Cancelled campaigns some of whose created tasks were not cancelled in WeCom yet."""
    return list(
        WecomMassTask.objects.filter(campaign__status=CampaignStatus.CANCELLED, state=S.CREATED,
                                     cancelled_at__isnull=True, finished_at__isnull=True)
        .values_list("campaign_id", flat=True).distinct().order_by("campaign_id")[:limit]
    )
