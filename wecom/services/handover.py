"""Handovers: a staff member's customers handed to another staff member through WeCom's transfer API
(`externalcontact/transfer_customer` while the leaver is still employed, `resigned/transfer_customer`
once they have left), each customer tracked until WeCom reports a final status.

Creating a handover writes one item per customer (the outbox); a worker claims queued items in
batches of at most 100 (WeCom's limit per call), records the intent (`sent_at`) before the call, and
maps each customer's errcode to a status. A call whose outcome is unknown (timeout, network) is
settled by reading `transfer_result` back before anything is sent again, never by resending. A
periodic poll reads `transfer_result` for waiting customers; a done customer moves in the member
centre too (the receiver follows, and owns the member if the leaver did).

A handover of all the leaver's customers takes their customer groups along (wecom.services.
handover_groups, sent by the same worker after the customers); it is finished when both are final."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member, StaffRelation
from members.services import relations as relation_service
from scrm import permissions
from scrm.actors import SystemActor, actor_user
from scrm.errors import Forbidden, InvalidInput, NotInScope
from wecom.client import errors, get_client
from wecom.models import (
    GroupItemStatus,
    Handover,
    HandoverGroup,
    HandoverItem,
    HandoverKind,
    HandoverStatus,
    ItemStatus,
    StaffStatus,
    WecomContact,
    WecomFollow,
    WecomStaff,
)
from wecom.services import handover_groups

log = logging.getLogger(__name__)

RESOURCE = "wecom_handovers"
BATCH = 100  # customers per transfer_customer call (WeCom's limit)
MESSAGE_MAX = Handover._meta.get_field("message").max_length  # 200 characters
# A claimed batch whose call has not come back after this long is settled by reading WeCom back.
SETTLE_AFTER = timedelta(minutes=2)
SYSTEM = SystemActor("rule:wecom-handover")

PATHS = {
    HandoverKind.ON_JOB: ("externalcontact/transfer_customer", "externalcontact/transfer_result"),
    HandoverKind.RESIGNED: ("externalcontact/resigned/transfer_customer", "externalcontact/resigned/transfer_result"),
}

# errcode of one customer in transfer_customer's answer -> the item's status.
SEND_STATUS = {
    0: ItemStatus.WAITING,  # the takeover started; it completes within 24 hours
    40129: ItemStatus.WAITING,  # already being transferred
    40128: ItemStatus.LIMIT,  # transferred twice in 90 days already
    40130: ItemStatus.FAILED,  # handing over to the same person
    40096: ItemStatus.FAILED,  # not a valid external_userid
}
# status of one customer in transfer_result -> the item's status (2 waiting keeps it waiting).
RESULT_STATUS = {1: ItemStatus.DONE, 3: ItemStatus.REFUSED, 4: ItemStatus.RECEIVER_FULL, 5: ItemStatus.FAILED}
# transfer_fail callbacks' FailReason -> the item's status.
FAIL_REASONS = {"customer_refused": ItemStatus.REFUSED, "customer_limit_exceed": ItemStatus.RECEIVER_FULL}

ACTIVE_ITEMS = (ItemStatus.QUEUED, ItemStatus.WAITING)


# --- who may ------------------------------------------------------------------------------------


def can_hand_over(actor) -> bool:
    """Operators (any store), store managers and store-bound keys with the scope (their store's staff)."""
    return permissions.can_write(actor, RESOURCE)


def can_see_handovers(actor) -> bool:
    return permissions.has_scope(actor, f"{RESOURCE}:read")


def staff_choices(actor):
    """Staff an actor may pick: linked to an active Siyu account, within the actor's stores."""
    return (
        WecomStaff.objects.visible_to(actor)
        .filter(user__isnull=False, user__is_active=True)
        .select_related("user", "store")
        .order_by("store__code", "name", "userid")
    )


# --- creating a handover ------------------------------------------------------------------------


@dataclass(frozen=True)
class HandoverRequest:
    kind: str
    from_staff: int | str
    to_staff: int | str
    external_userids: list[str] | None = None
    message: str = ""


def _find_staff(actor, value, *, field: str, scoped: bool) -> WecomStaff:
    queryset = WecomStaff.objects.visible_to(actor) if scoped else WecomStaff.objects.all()
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise InvalidInput(details={field: [_("Expected a staff member's id or WeCom userid.")]})
    lookup = Q(userid=value) if isinstance(value, str) and not value.isdigit() else Q(pk=int(value))
    staff = queryset.filter(lookup).select_related("user", "store").first()
    if staff is None:
        raise NotInScope(details={field: [_("Unknown staff member %(value)s.") % {"value": value}]})
    return staff


def _check_request(actor, request: HandoverRequest) -> tuple[WecomStaff, WecomStaff]:
    if request.kind not in HandoverKind.values:
        raise InvalidInput(details={"kind": [_("%(value)s is not one of: %(choices)s.")
                                             % {"value": request.kind, "choices": ", ".join(HandoverKind.values)}]})
    on_job = request.kind == HandoverKind.ON_JOB
    leaver = _find_staff(actor, request.from_staff, field="from_staff", scoped=True)
    receiver = _find_staff(actor, request.to_staff, field="to_staff", scoped=on_job)
    problems: dict[str, list] = {}
    if receiver.pk == leaver.pk:
        problems["to_staff"] = [_("The receiving staff member must be another person.")]
    elif receiver.status != StaffStatus.ACTIVE or not receiver.follow_enabled:
        problems["to_staff"] = [_("The receiving staff member is not active in WeCom.")]
    elif receiver.user is None or not receiver.user.is_active:
        problems["to_staff"] = [_("The receiving staff member has no active Siyu account.")]
    if on_job and leaver.status != StaffStatus.ACTIVE:
        problems["kind"] = [_("This staff member has left: hand their customers over as a resigned staff member.")]
    if not on_job and leaver.status != StaffStatus.RESIGNED:
        problems["kind"] = [_("This staff member is still employed: hand their customers over as moving.")]
    message = request.message
    if not isinstance(message, str):
        problems["message"] = [_("Expected text.")]
    elif len(message) > MESSAGE_MAX:
        problems["message"] = [_("At most %(max)d characters.") % {"max": MESSAGE_MAX}]
    elif message and not on_job:
        problems["message"] = [_("WeCom sends a message to customers only when the staff member is still employed.")]
    ids = request.external_userids
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids)):
        problems["external_userids"] = [_("Expected a list of external_userids.")]
    elif ids is not None and len(ids) > 100_000:
        problems["external_userids"] = [_("At most %(max)d customers in one handover.") % {"max": 100_000}]
    if problems:
        raise InvalidInput(details=problems)
    return leaver, receiver


def _write_items(handover: Handover, external_userids: list[str] | None) -> int:
    """One item per active follow of the leaver (those named, when named), leaving out customers
    already queued or waiting in another handover. Set-based."""
    items, follows, contacts = (m._meta.db_table for m in (HandoverItem, WecomFollow, WecomContact))
    condition, params = "", [handover.pk, handover.from_staff_id]
    if external_userids is not None:
        condition, params = "AND c.external_userid = ANY(%s)", [*params, sorted(set(external_userids))]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {items} (handover_id, contact_id, status, updated_at)
            SELECT %s, f.contact_id, 'queued', now()
            FROM {follows} f JOIN {contacts} c ON c.id = f.contact_id
            WHERE f.staff_id = %s AND f.deleted_at IS NULL AND c.deleted_at IS NULL {condition}
              AND NOT EXISTS (SELECT 1 FROM {items} i WHERE i.contact_id = f.contact_id
                              AND i.status IN ('queued', 'waiting'))
            ORDER BY f.contact_id
            ON CONFLICT DO NOTHING""",
            params,
        )
        return cursor.rowcount


def create_handover(*, actor, request: HandoverRequest) -> Handover:
    """Hand `request.from_staff`'s customers (all, or the named subset) to `request.to_staff`, and,
    when all are handed over, the customer groups they own. Writes the items and the groups and queues
    the sending once the transaction commits."""
    if not can_hand_over(actor):
        raise Forbidden(permissions.refusal(actor, RESOURCE), details={"scope": [f"{RESOURCE}:write"]})
    leaver, receiver = _check_request(actor, request)
    with transaction.atomic():
        # One handover at a time per leaver: two operators starting the same one make one.
        WecomStaff.objects.select_for_update().filter(pk=leaver.pk).first()
        handover = Handover.objects.create(
            kind=request.kind, from_staff=leaver, to_staff=receiver, store_id=leaver.store_id,
            message=request.message, created_by=actor_user(actor),
        )
        count = _write_items(handover, request.external_userids)
        groups = handover_groups.write_groups(handover) if request.external_userids is None else 0
        if count == 0 and groups == 0:
            raise InvalidInput(
                _("This staff member has no customers or groups to hand over (or they are already being "
                  "handed over)."),
                details={"external_userids": [_("No customers to hand over.")]}, code="nothing_to_hand_over",
            )
        from wecom.tasks import handovers as tasks

        transaction.on_commit(lambda: tasks.send_handover.delay(handover.pk))
    log.info("handover %s created: %s customers, %s groups", handover.pk, count, groups)
    return handover


# --- sending --------------------------------------------------------------------------------------


@dataclass
class SendResult:
    sent: int = 0
    calls: int = 0
    groups_sent: int = 0
    group_calls: int = 0
    retry_after: float | None = None  # set when the work paused (rate limit, outage)


def _claim(handover_id: int) -> list[tuple[int, str]]:
    """Up to BATCH queued items nobody has claimed, with the intent recorded (sent_at) and committed
    before the call: two workers never send one customer twice."""
    with transaction.atomic():
        rows = list(
            HandoverItem.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(handover_id=handover_id, status=ItemStatus.QUEUED, sent_at__isnull=True)
            .order_by("id")
            .values_list("id", "contact__external_userid")[:BATCH]
        )
        if rows:
            HandoverItem.objects.filter(pk__in=[r[0] for r in rows]).update(sent_at=timezone.now(),
                                                                           updated_at=timezone.now())
    return rows


def _release(item_ids: list[int]) -> None:
    """The call was refused before anything happened (rate limit, credentials): queue them again."""
    HandoverItem.objects.filter(pk__in=item_ids, status=ItemStatus.QUEUED).update(sent_at=None,
                                                                                 updated_at=timezone.now())


def _set_statuses(pairs: list[tuple[int, str, int | None]], *, only_from) -> int:
    """(item id, status, errcode) rows, set-based; only items still in one of `only_from`."""
    if not pairs:
        return 0
    table = HandoverItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {table} i SET status = v.status, errcode = v.errcode, updated_at = now()
            FROM unnest(%s::bigint[], %s::text[], %s::int[]) AS v(id, status, errcode)
            WHERE i.id = v.id AND i.status = ANY(%s)""",
            [[p[0] for p in pairs], [p[1] for p in pairs], [p[2] for p in pairs], list(only_from)],
        )
        return cursor.rowcount


def _body(handover: Handover, external_userids: list[str]) -> dict:
    body = {
        "handover_userid": handover.from_staff.userid,
        "takeover_userid": handover.to_staff.userid,
        "external_userid": external_userids,
    }
    if handover.kind == HandoverKind.ON_JOB and handover.message:
        body["transfer_success_msg"] = handover.message
    return body


def _send_batch(client, handover: Handover, rows: list[tuple[int, str]]) -> None:
    """One transfer_customer call for claimed rows; raises RateLimited / Unavailable / credentials
    errors for the caller to pause on."""
    ids_by_user = {external_userid: item_id for item_id, external_userid in rows}
    path = PATHS[handover.kind][0]
    try:
        answer = client.post(path, _body(handover, list(ids_by_user)))
    except (errors.RateLimited, errors.CredentialsRejected, errors.NotConfigured):
        _release(list(ids_by_user.values()))  # refused before WeCom did anything
        raise
    except errors.Unavailable:
        raise  # outcome unknown: the items keep their sent_at and are settled by reading back
    except errors.WecomError as exc:  # the whole call refused (permission, bad staff id): not retried
        code = exc.errcode if exc.errcode is not None else -1
        status = SEND_STATUS.get(code, ItemStatus.FAILED)
        _set_statuses([(i, status, code) for i in ids_by_user.values()], only_from=[ItemStatus.QUEUED])
        return
    answered = {}
    for row in answer.get("customer") or []:
        item_id = ids_by_user.get(row.get("external_userid"))
        if item_id is not None:
            code = int(row.get("errcode") or 0)
            answered[item_id] = (item_id, SEND_STATUS.get(code, ItemStatus.FAILED), code)
    # A customer WeCom's answer leaves out was taken as sent: the poll reads its real state.
    pairs = [answered.get(i, (i, ItemStatus.WAITING, 0)) for i in ids_by_user.values()]
    _set_statuses(pairs, only_from=[ItemStatus.QUEUED])


def send_queued(*, handover_id: int, client=None) -> SendResult:
    """Send a running handover's queued customers, 100 a call, until none is left or WeCom asks to
    wait, then its queued groups (100 a call, up to the receiver's 300 a day). Items and groups of an
    earlier call whose outcome is unknown are settled first."""
    result = SendResult()
    handover = Handover.objects.select_related("from_staff", "to_staff").filter(
        pk=handover_id, status=HandoverStatus.RUNNING).first()
    if handover is None:
        return result
    client = client or get_client()
    try:
        settle_unknown(handover=handover, client=client)
        while rows := _claim(handover.pk):
            result.calls += 1
            _send_batch(client, handover, rows)
            result.sent += len(rows)
        handover_groups.send_queued(handover=handover, client=client, settle_after=SETTLE_AFTER, result=result)
    except errors.RateLimited as exc:
        result.retry_after = exc.retry_after
    except errors.Unavailable:
        result.retry_after = SETTLE_AFTER.total_seconds()
    except (errors.CredentialsRejected, errors.NotConfigured) as exc:
        log.warning("handover %s paused: errcode %s", handover.pk, exc.errcode)
        result.retry_after = 300.0
    finish_if_complete(handover_id=handover.pk)
    return result


# --- reading WeCom back -----------------------------------------------------------------------


def _transfer_results(client, handover: Handover):
    """transfer_result's pages (up to 1,000 customers each) for the handover's pair of staff."""
    body = {"handover_userid": handover.from_staff.userid, "takeover_userid": handover.to_staff.userid, "cursor": ""}
    yield from client.pages(PATHS[handover.kind][1], body, cursor_field="cursor", next_field="next_cursor")


def settle_unknown(*, handover: Handover, client, older_than: timedelta = SETTLE_AFTER) -> int:
    """Items claimed for a call that never came back: WeCom's record says whether the transfer
    started (waiting, or already final); those it has no record of are queued again."""
    cutoff = timezone.now() - older_than
    pending = dict(
        HandoverItem.objects.filter(handover=handover, status=ItemStatus.QUEUED, sent_at__lt=cutoff)
        .values_list("contact__external_userid", "id")
    )
    if not pending:
        return 0
    pairs = []
    for page in _transfer_results(client, handover):
        for row in page.get("customer") or []:
            item_id = pending.pop(row.get("external_userid"), None)
            status = int(row.get("status") or 0)
            if item_id is not None and status in (1, 2, 3, 4):
                pairs.append((item_id, ItemStatus.WAITING, 0))
            elif item_id is not None:
                pending[row["external_userid"]] = item_id  # no record: not sent after all
    settled = _set_statuses(pairs, only_from=[ItemStatus.QUEUED])
    if pending:  # WeCom never heard of them: send them again
        HandoverItem.objects.filter(pk__in=list(pending.values()), status=ItemStatus.QUEUED,
                                    sent_at__lt=cutoff).update(sent_at=None, updated_at=timezone.now())
    return settled + len(pending)


def poll_results(*, handover_id: int, client=None) -> dict:
    """Read transfer_result for a handover's waiting customers and record what WeCom says; a done
    customer moves in the member centre. Returns counts of the statuses set."""
    counts: dict[str, int] = {}
    handover = Handover.objects.select_related("from_staff__user", "to_staff__user").filter(pk=handover_id).first()
    if handover is None or not HandoverItem.objects.filter(handover=handover, status=ItemStatus.WAITING).exists():
        return counts
    client = client or get_client()
    for page in _transfer_results(client, handover):
        statuses = {}
        for row in page.get("customer") or []:
            status = RESULT_STATUS.get(int(row.get("status") or 0))
            if status is not None and row.get("external_userid"):
                statuses[row["external_userid"]] = status
        if statuses:
            for status, n in _record_results(handover, statuses).items():
                counts[status] = counts.get(status, 0) + n
    finish_if_complete(handover_id=handover.pk)
    return counts


def _record_results(handover: Handover, statuses: dict[str, str]) -> dict[str, int]:
    items = list(
        HandoverItem.objects.filter(handover=handover, status=ItemStatus.WAITING,
                                    contact__external_userid__in=list(statuses))
        .values_list("id", "contact__external_userid")
    )
    counts: dict[str, int] = {}
    with transaction.atomic():
        table = HandoverItem._meta.db_table
        pairs = [(item_id, statuses[uid]) for item_id, uid in items]
        if not pairs:
            return counts
        with connection.cursor() as cursor:
            # The conditional update is the claim: a concurrent poll moves nobody twice.
            cursor.execute(
                f"""UPDATE {table} i SET status = v.status, updated_at = now()
                FROM unnest(%s::bigint[], %s::text[]) AS v(id, status)
                WHERE i.id = v.id AND i.status = 'waiting' RETURNING i.contact_id, i.status""",
                [[p[0] for p in pairs], [p[1] for p in pairs]],
            )
            changed = cursor.fetchall()
        done = [contact_id for contact_id, status in changed if status == ItemStatus.DONE]
        for _contact_id, status in changed:
            counts[status] = counts.get(status, 0) + 1
        if done:
            move_relations(handover=handover, contact_ids=done)
    return counts


def move_relations(*, handover: Handover, contact_ids: list[int]) -> int:
    """Customers now served by the receiver: in WeCom's mirror (follows) and in the member centre
    (the receiver follows the member, and owns them if the leaver did; the leaver's relation ends),
    through the member centre's relation services."""
    leaver, receiver = handover.from_staff, handover.to_staff
    now = timezone.now()
    contacts = list(WecomContact.objects.filter(pk__in=contact_ids, member__isnull=False)
                    .select_related("member"))
    old_follows = {f.contact_id: f for f in WecomFollow.objects.filter(staff=leaver, contact_id__in=contact_ids)}
    WecomFollow.objects.filter(staff=leaver, contact_id__in=contact_ids, deleted_at__isnull=True).update(
        deleted_at=now, synced_at=now)
    moved = 0
    for contact in contacts:
        member = contact.member
        old = old_follows.get(contact.pk)
        relation = None
        if receiver.user is not None:
            try:
                with transaction.atomic():
                    relation = _move_member(member, leaver, receiver)
            except InvalidInput as exc:  # the receiver's account cannot follow (deactivated, no store)
                log.warning("handover %s: relation not moved for contact %s: %s", handover.pk, contact.pk, exc.code)
        WecomFollow.objects.update_or_create(
            contact=contact, staff=receiver,
            defaults={"relation": relation, "deleted_at": None, "deleted_by": "", "synced_at": now,
                      "added_at": now, "add_way": 202, "state": old.state if old else ""},
        )
        moved += 1
    return moved


def _move_member(member: Member, leaver: WecomStaff, receiver: WecomStaff) -> StaffRelation:
    was_owner = leaver.user_id is not None and Member.objects.filter(pk=member.pk, owner_id=leaver.user_id).exists()
    old = StaffRelation.objects.filter(member=member, staff_id=leaver.user_id).first() if leaver.user_id else None
    relation = relation_service.add_relation(
        member=member, staff=receiver.user, actor=SYSTEM,
        remark=old.remark if old else "", description=old.description if old else "",
    )
    if old is not None and old.is_active:
        relation_service.mark_deleted(relation=old, by="staff", actor=SYSTEM)
    if was_owner:
        try:
            with transaction.atomic():
                relation_service.set_owner(member=member, staff=receiver.user, actor=SYSTEM)
        except InvalidInput:  # the receiver works in another store than the member's home store
            pass
    return relation


# --- transfer_fail callbacks -------------------------------------------------------------------


def record_transfer_fail(*, userid: str, external_userid: str, reason: str) -> int:
    """WeCom's change_external_contact / transfer_fail: the customer refused, or the receiver is full.
    `userid` is the receiving staff member. Idempotent (only waiting items change)."""
    status = FAIL_REASONS.get(reason)
    if status is None or not external_userid:
        return 0
    item_ids = list(
        HandoverItem.objects.filter(status__in=ACTIVE_ITEMS, contact__external_userid=external_userid,
                                    handover__to_staff__userid=userid, handover__status=HandoverStatus.RUNNING)
        .values_list("id", flat=True)
    )
    changed = _set_statuses([(i, status, None) for i in item_ids], only_from=ACTIVE_ITEMS)
    for handover_id in set(HandoverItem.objects.filter(pk__in=item_ids).values_list("handover_id", flat=True)):
        finish_if_complete(handover_id=handover_id)
    return changed


def on_transfer_fail(event) -> None:
    """Handler registered with wecom.services.events for change_external_contact / transfer_fail."""
    payload = getattr(event, "payload", event) or {}
    record_transfer_fail(userid=payload.get("UserID", ""), external_userid=payload.get("ExternalUserID", ""),
                         reason=payload.get("FailReason", ""))


# --- finishing and cancelling ---------------------------------------------------------------------


def finish_if_complete(*, handover_id: int) -> bool:
    """A running handover with no customer queued or waiting and no group queued is finished
    (cancelled when every item and group was cancelled before it was sent). Conditional: runs any
    number of times."""
    active = HandoverItem.objects.filter(handover_id=handover_id, status__in=ACTIVE_ITEMS)
    if active.exists() or HandoverGroup.objects.filter(handover_id=handover_id,
                                                       status=GroupItemStatus.QUEUED).exists():
        return False
    sent = (HandoverItem.objects.filter(handover_id=handover_id).exclude(status=ItemStatus.CANCELLED).exists()
            or HandoverGroup.objects.filter(handover_id=handover_id)
            .exclude(status=GroupItemStatus.CANCELLED).exists())
    return bool(
        Handover.objects.filter(pk=handover_id, status=HandoverStatus.RUNNING).update(
            status=HandoverStatus.DONE if sent else HandoverStatus.CANCELLED, finished_at=timezone.now())
    )


@transaction.atomic
def cancel_queued(*, handover: Handover, actor) -> int:
    """Stop what has not been sent yet: queued customers and groups nobody has claimed are cancelled;
    those already sent go on until WeCom reports them. Returns the customers cancelled."""
    if not can_hand_over(actor):
        raise Forbidden(permissions.refusal(actor, RESOURCE), details={"scope": [f"{RESOURCE}:write"]})
    n = HandoverItem.objects.filter(handover=handover, status=ItemStatus.QUEUED, sent_at__isnull=True).update(
        status=ItemStatus.CANCELLED, updated_at=timezone.now())
    HandoverGroup.objects.filter(handover=handover, status=GroupItemStatus.QUEUED, sent_at__isnull=True).update(
        status=GroupItemStatus.CANCELLED, updated_at=timezone.now())
    finish_if_complete(handover_id=handover.pk)
    return n


# --- what the periodic task does ----------------------------------------------------------------


def due_handovers() -> list[int]:
    """Running handovers with customers to send or to read back, or groups to send."""
    items = HandoverItem.objects.filter(handover=OuterRef("pk"), status__in=ACTIVE_ITEMS)
    groups = HandoverGroup.objects.filter(handover=OuterRef("pk"), status=GroupItemStatus.QUEUED)
    return list(
        Handover.objects.filter(Q(Exists(items)) | Q(Exists(groups)), status=HandoverStatus.RUNNING)
        .values_list("pk", flat=True).order_by("pk")[:500]
    )


# --- read side used by the screens and the API --------------------------------------------------

def _status_counts(model, choices, handover: Handover) -> list[dict]:
    found = dict(model.objects.filter(handover=handover).values_list("status").annotate(n=Count("id")))
    return [{"status": s, "label": label, "count": found.get(s, 0)} for s, label in choices]


def _counts_for(model, handover_ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {pk: {"total": 0} for pk in handover_ids}
    rows = (model.objects.filter(handover_id__in=handover_ids).values_list("handover_id", "status")
            .annotate(n=Count("id")))
    for handover_id, status, n in rows:
        counts[handover_id][status] = n
        counts[handover_id]["total"] += n
    return counts


def status_counts(handover: Handover) -> list[dict]:
    """Every customer status with its count (zeros included), in the model's order."""
    return _status_counts(HandoverItem, ItemStatus.choices, handover)


def group_status_counts(handover: Handover) -> list[dict]:
    """Every group status with its count (zeros included), in the model's order."""
    return _status_counts(HandoverGroup, GroupItemStatus.choices, handover)


def counts_for(handover_ids: list[int]) -> dict[int, dict[str, int]]:
    """{handover id: {status: count, "total": n}} of customers for a page of handovers, in one query."""
    return _counts_for(HandoverItem, handover_ids)


def group_counts_for(handover_ids: list[int]) -> dict[int, dict[str, int]]:
    """The same of groups."""
    return _counts_for(HandoverGroup, handover_ids)


# --- demo data ------------------------------------------------------------------------------------


def demo_seeded() -> bool:
    """The demo's handover (or any) exists: demo_seed has nothing more to do."""
    return Handover.objects.exists()


def demo_seed(*, customers: int = 10) -> str:
    """For the demo (called by wecom/demo.py once contacts are synced): one on_job handover of a few
    customers between two linked staff members of one store, unless a handover exists already.
    Idempotent; a one-line summary."""
    if demo_seeded():
        return "handovers: already there"
    linked = WecomStaff.objects.filter(status=StaffStatus.ACTIVE, user__isnull=False, user__is_active=True,
                                       store__isnull=False).order_by("store_id", "userid")
    for leaver in linked:
        follows = WecomFollow.objects.filter(staff=leaver, deleted_at__isnull=True).order_by("contact_id")
        ids = list(follows.values_list("contact__external_userid", flat=True)[:customers])
        receiver = linked.filter(store_id=leaver.store_id).exclude(pk=leaver.pk).first()
        if ids and receiver is not None:
            handover = create_handover(actor=SYSTEM, request=HandoverRequest(
                kind=HandoverKind.ON_JOB, from_staff=leaver.pk, to_staff=receiver.pk, external_userids=ids))
            return f"handovers: {leaver.userid} → {receiver.userid}, {handover.items.count()} customers"
    return "handovers: no synced staff with customers yet"
