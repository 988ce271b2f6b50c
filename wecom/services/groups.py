"""Customer groups (客户群): WeCom's external group chats, kept as CustomerGroup rows with their members.

Two ways in, one write (`apply_group`, from a groupchat/get answer):

- The sync (SyncKind.GROUPS, a run of wecom.services.sync with a cursor per staff member): per owner,
  externalcontact/groupchat/list pages (owner_filter = that staff member, so a corp with more than
  1,000 owners never meets 81017) and groupchat/get (need_name=1) for each chat, a page's groups
  written in one transaction with the next cursor. When the run is complete, the groups of the owners
  it covered that it no longer listed are dismissed (WeCom lists no dismissed group).
- Callbacks (change_external_chat: create, update with UpdateDetail add_member / del_member /
  change_owner / change_name / change_notice, dismiss): the group is read back with groupchat/get and
  applied, so a repeated callback changes nothing more and the order of arrival does not matter. A
  callback older than the group's `seen_at` (the WeCom time of the state last applied) is stale and
  ignored; a dismiss is applied as of its CreateTime, and a read answering 40050 dismisses too.

Members: a customer (type 2) is linked to the Siyu member of the WeCom contact with that
external_userid when there is one; a staff member (type 1) to the WecomStaff row. Whoever is no longer
listed gets `left_at`; joining again clears it. Store roles see the groups of their store (the
owner's store when last read)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wecom import sql
from wecom.client import errors, get_client
from wecom.models import (
    CursorStatus,
    CustomerGroup,
    CustomerGroupMember,
    GroupMemberKind,
    SyncCursor,
    SyncRun,
    WecomContact,
    WecomStaff,
)
from wecom.services import events

logger = logging.getLogger(__name__)

LIST = "externalcontact/groupchat/list"
GET = "externalcontact/groupchat/get"
NOT_FOUND = 40050  # chat_id unknown to WeCom (or the group was dismissed)
NAME_MAX = CustomerGroup._meta.get_field("name").max_length
MEMBER_NAME_MAX = CustomerGroupMember._meta.get_field("name").max_length

UPDATE_DETAILS = {
    "add_member": _("Members joined"),
    "del_member": _("Members left"),
    "change_owner": _("New owner"),
    "change_name": _("Renamed"),
    "change_notice": _("New notice"),
}


def page_size() -> int:
    """Chats per groupchat/list page: each is then read with groupchat/get, and a page's groups are
    written together with the cursor after it (WECOM_GROUP_PAGE; WeCom takes 1 to 1,000)."""
    from django.conf import settings

    return max(1, min(int(getattr(settings, "WECOM_GROUP_PAGE", 20)), 1000))


def _at(seconds) -> dt.datetime | None:
    try:
        value = int(seconds)
    except (TypeError, ValueError):
        return None
    return dt.datetime.fromtimestamp(value, tz=dt.UTC) if 0 < value < 2**33 else None


# --- writing one group -------------------------------------------------------------------------


@dataclass
class Applied:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


def apply_group(detail: dict, *, seen_at: dt.datetime, status: int | None = None, run: SyncRun | None = None,
                outcome: Applied | None = None) -> CustomerGroup | None:
    """Write one group as groupchat/get answered it (`detail` = its group_chat), as of `seen_at`.
    Nothing is written when the stored state is newer; unchanged fields cost no write (only the run
    that listed it is noted). Call inside a transaction."""
    outcome = outcome if outcome is not None else Applied()
    chat_id = str(detail.get("chat_id") or "")
    if not chat_id:
        return None
    owner_userid = str(detail.get("owner") or "")
    owner = WecomStaff.objects.filter(userid=owner_userid).select_related("user").first() if owner_userid else None
    listed = [m for m in detail.get("member_list") or [] if isinstance(m, dict) and m.get("userid")]
    fields = {
        "name": str(detail.get("name") or "")[:NAME_MAX],
        "owner": owner,
        "owner_userid": owner_userid[:64],
        "store_id": owner.store_id if owner else None,
        "created_at_wecom": _at(detail.get("create_time")),
        "notice": str(detail.get("notice") or ""),
        "member_count": len(listed),
        "customer_count": sum(1 for m in listed if int(m.get("type") or 0) == GroupMemberKind.CUSTOMER),
        "member_version": str(detail.get("member_version") or "")[:64],
        "dismissed_at": None,
    }
    if status is not None:
        fields["status"] = int(status)
    group = CustomerGroup.objects.select_for_update().filter(chat_id=chat_id).first()
    if group is None:
        group = CustomerGroup.objects.create(chat_id=chat_id, seen_at=seen_at, last_run=run, **fields)
        outcome.added += 1
    else:
        if group.seen_at is not None and seen_at < group.seen_at:
            return group  # a newer state is stored already
        changed = [name for name, value in fields.items()
                   if getattr(group, "owner_id" if name == "owner" else name) != (
                       value.pk if name == "owner" and value is not None else value)]
        for name in changed:
            setattr(group, name, fields[name])
        group.seen_at, group.synced_at, group.last_run = seen_at, timezone.now(), run or group.last_run
        group.save(update_fields=[*changed, "seen_at", "synced_at", "last_run"])
        if changed:
            outcome.updated += 1
        else:
            outcome.unchanged += 1
    _apply_members(group, listed, seen_at)
    return group


def _apply_members(group: CustomerGroup, listed: list[dict], seen_at: dt.datetime) -> None:
    """The group's member rows as listed: one upsert for all of them, one UPDATE for who left."""
    from wecom.services.contacts import erased_among

    external = [str(m["userid"]) for m in listed if int(m.get("type") or 0) == GroupMemberKind.CUSTOMER]
    erased = erased_among(external)  # erased on a data-subject request: not kept again
    listed = list({str(m["userid"]): m for m in listed if str(m["userid"]) not in erased}.values())  # once each
    staff_ids = [str(m["userid"]) for m in listed if int(m.get("type") or 0) == GroupMemberKind.STAFF]
    members = dict(WecomContact.objects.filter(external_userid__in=external, member__isnull=False)
                   .values_list("external_userid", "member_id"))
    staff = dict(WecomStaff.objects.filter(userid__in=staff_ids).values_list("userid", "pk"))
    rows = []
    for m in listed:
        userid = str(m["userid"])[:64]
        kind = GroupMemberKind.STAFF if int(m.get("type") or 0) == GroupMemberKind.STAFF else GroupMemberKind.CUSTOMER
        invitor = m.get("invitor") if isinstance(m.get("invitor"), dict) else {}
        scene = m.get("join_scene")
        rows.append(CustomerGroupMember(
            group=group, userid=userid, kind=kind,
            member_id=members.get(userid) if kind == GroupMemberKind.CUSTOMER else None,
            staff_id=staff.get(userid) if kind == GroupMemberKind.STAFF else None,
            name=str(m.get("group_nickname") or m.get("name") or "")[:MEMBER_NAME_MAX],
            joined_at=_at(m.get("join_time")), join_scene=int(scene) if str(scene or "").isdigit() else None,
            invitor=str(invitor.get("userid") or "")[:64], left_at=None,
        ))
    if rows:
        CustomerGroupMember.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["group", "userid"],
            update_fields=["kind", "member", "staff", "name", "joined_at", "join_scene", "invitor", "left_at"],
        )
    CustomerGroupMember.objects.filter(group=group, left_at__isnull=True).exclude(
        userid__in=[r.userid for r in rows]
    ).update(left_at=seen_at)


def dismiss(group: CustomerGroup, *, at: dt.datetime) -> bool:
    """The group was dismissed in WeCom (as of `at`): kept with its members, marked. False when a
    newer state is stored or it was dismissed already."""
    done = CustomerGroup.objects.filter(pk=group.pk, dismissed_at__isnull=True).filter(
        Q(seen_at__isnull=True) | Q(seen_at__lte=at)
    ).update(dismissed_at=at, seen_at=at, synced_at=timezone.now())
    return bool(done)


def read_group(chat_id: str, *, client=None) -> dict | None:
    """groupchat/get with the members' names; None when WeCom no longer knows the chat (40050)."""
    try:
        answer = (client or get_client()).post(GET, {"chat_id": chat_id, "need_name": 1})
    except errors.InvalidRequest as exc:
        if exc.errcode == NOT_FOUND:
            return None
        raise
    return answer.get("group_chat") or None


# --- the sync ----------------------------------------------------------------------------------


def sync_owner(runner, cursor: SyncCursor) -> bool:
    """One owner's groups from the saved cursor on, a page (page_size() chats, each read with
    groupchat/get) written at a time with the cursor after it; True when the last page is written.
    `runner` is the sync run's (wecom.services.sync): its API client, budget and page recorder."""
    from wecom.services import contacts, sync

    while runner.budget_left():
        body = {"status_filter": 0, "owner_filter": {"userid_list": [cursor.staff.userid]},
                "limit": page_size()}
        if cursor.cursor:
            body["cursor"] = cursor.cursor
        answer = runner.api.post(LIST, body)
        runner.pages_left -= 1
        listed = [c for c in answer.get("group_chat_list") or [] if isinstance(c, dict) and c.get("chat_id")]
        details = []
        for chat in listed:  # read them all first: a pause here writes nothing of the page
            runner.pages_left -= 1
            details.append((chat, read_group(str(chat["chat_id"]), client=runner.api)))
        found = answer.get("next_cursor") or ""
        next_cursor = found if isinstance(found, str) else ""
        applied, outcome = Applied(), contacts.Outcome()
        now = timezone.now()
        with transaction.atomic():
            for chat, detail in details:
                if detail is None:  # dismissed between the list and the read
                    group = CustomerGroup.objects.filter(chat_id=str(chat["chat_id"])).first()
                    if group is not None and dismiss(group, at=now):
                        outcome.skipped += 1
                    continue
                apply_group(detail, seen_at=now, status=chat.get("status"), run=runner.run_row, outcome=applied)
            outcome.added, outcome.updated, outcome.unchanged = applied.added, applied.updated, applied.unchanged
            sync._record_page(runner.run_row, cursor, outcome, next_cursor=next_cursor)
        cursor.cursor = next_cursor
        if not next_cursor:
            return True
    return False


def finish_run(run: SyncRun) -> int:
    """At the end of a complete groups run: the groups of the owners it listed that it did not list
    (and that no callback wrote since it started) were dismissed in WeCom. Returns how many."""
    if SyncCursor.objects.filter(run=run, status=CursorStatus.FAILED).exists():
        return 0  # an owner was not read: absence proves nothing
    owners = SyncCursor.objects.filter(run=run, status=CursorStatus.DONE).values("staff_id")
    started = run.started_at or run.created_at
    gone = CustomerGroup.objects.filter(owner_id__in=owners, dismissed_at__isnull=True).exclude(
        last_run=run).filter(Q(seen_at__isnull=True) | Q(seen_at__lt=started))
    now = timezone.now()
    removed = gone.update(dismissed_at=now, seen_at=now, synced_at=now)
    if removed:
        SyncRun.objects.filter(pk=run.pk).update(removed=run.removed + removed)
    return removed


def link_members() -> int:
    """Customers in groups not linked to a member whose WeCom contact now has one (synced after the
    group was): linked in one statement. Returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {sql.GROUP_MEMBER} gm SET member_id = wc.member_id FROM {sql.CONTACT} wc "
            "WHERE gm.kind = %s AND gm.member_id IS NULL AND wc.external_userid = gm.userid "
            "AND wc.member_id IS NOT NULL",
            [GroupMemberKind.CUSTOMER],
        )
        return cursor.rowcount


# --- callbacks ---------------------------------------------------------------------------------


def on_chat_event(event) -> None:
    """change_external_chat: read the group back and apply it (create and update alike), or mark it
    dismissed. Stale (older than what the group last took from WeCom): changes nothing."""
    payload = event.payload or {}
    chat_id = str(payload.get("ChatId") or "")
    if not chat_id:
        raise events.Ignore("no ChatId")
    at = event.created_at_wecom or event.received_at
    group = CustomerGroup.objects.filter(chat_id=chat_id).first()
    if group is not None and events.is_stale(event, group.seen_at):
        raise events.Ignore("stale: the group holds a newer state")
    if event.change_type == "dismiss":
        if group is None:
            raise events.Ignore("dismissed before it was synced")
        dismiss(group, at=at)
        return
    if event.change_type not in ("create", "update"):
        raise events.Ignore(f"unknown change type {event.change_type[:20]}")
    if (group is not None and event.change_type == "update"
            and payload.get("UpdateDetail") in ("add_member", "del_member")
            and payload.get("CurMemVer") and payload.get("CurMemVer") == group.member_version):
        raise events.Ignore("member list already at this version")
    detail = read_group(chat_id)
    if detail is None:
        if group is not None:
            dismiss(group, at=at)
        return
    # The read is WeCom's state now, newer than the event: stored as of the later of the two.
    apply_group(detail, seen_at=max(timezone.now(), at))


# --- reading -----------------------------------------------------------------------------------


def visible_groups(actor):
    """Groups the actor may see (scoped by the owner's store), with their owner and store."""
    return CustomerGroup.objects.visible_to(actor).select_related("owner__user", "store")


def members_of(group: CustomerGroup, *, present_only: bool = False):
    rows = CustomerGroupMember.objects.filter(group=group).select_related("member", "staff__user")
    if present_only:
        rows = rows.filter(left_at__isnull=True)
    return rows.order_by("left_at", "kind", "joined_at", "id")


def register() -> None:
    events.register_handler("change_external_chat", None, on_chat_event)
