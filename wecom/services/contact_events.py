"""Callback handlers of external-contact changes (change_external_contact): each fetches the
contact's current state from WeCom and writes it through the contact sync's one write path, or
records a deletion. Idempotent: a repeated or late event writes nothing new; a delete older than
the follow's last add is ignored."""

from __future__ import annotations

import datetime

from django.utils import timezone

from wecom.models import DeletedBy
from wecom.services import contacts, events

EVENT = "change_external_contact"
REFRESH = ("add_external_contact", "edit_external_contact", "add_half_external_contact", "transfer_fail")
DELETES = {"del_external_contact": DeletedBy.STAFF, "del_follow_user": DeletedBy.CUSTOMER}


def _fields(event) -> tuple[dict, datetime.datetime]:
    payload = getattr(event, "payload", event) or {}
    at = getattr(event, "created_at_wecom", None)
    if at is None:
        try:
            at = datetime.datetime.fromtimestamp(int(payload.get("CreateTime")), tz=datetime.UTC)
        except (TypeError, ValueError):
            at = timezone.now()
    return payload, at


def refresh_contact(event, *args, **kwargs) -> dict:
    """add / edit / add_half / transfer_fail: the contact as WeCom has it now."""
    from wecom.client import errors, get_client

    payload, _at = _fields(event)
    external_userid = payload.get("ExternalUserID")
    if not isinstance(external_userid, str) or not external_userid:
        _ignore("no external_userid")
    if contacts.erased_among([external_userid]):
        _ignore("erased contact")
    try:
        answer = get_client().get("externalcontact/get", params={"external_userid": external_userid})
    except errors.NotAContact:
        _ignore("no longer a contact")  # its delete event (or the next sync) records that
    outcome = contacts.apply_contact_answer(answer)
    return {"added": outcome.added, "updated": outcome.updated, "unchanged": outcome.unchanged,
            "failed": outcome.failed}


def record_deletion(event, *args, **kwargs) -> dict:
    payload, at = _fields(event)
    by = DELETES.get(payload.get("ChangeType"), "")
    userid, external_userid = payload.get("UserID"), payload.get("ExternalUserID")
    if not (isinstance(userid, str) and isinstance(external_userid, str)):
        _ignore("incomplete")
    removed = contacts.apply_deletion(userid=userid, external_userid=external_userid, by=by, at=at)
    if not removed:
        _ignore("stale or unknown follow")
    return {"removed": removed}


def _ignore(why: str):
    """Tell the events processor the event changes nothing (it records it as ignored)."""
    raise events.Ignore(why)


def register() -> None:
    """Hand the handlers to the callbacks' registry."""
    for change_type in REFRESH:
        events.register_handler(EVENT, change_type, refresh_contact)
    for change_type in DELETES:
        events.register_handler(EVENT, change_type, record_deletion)
