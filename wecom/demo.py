"""Demo WeCom data: with the local WeCom server running (as `up` runs it), the demo's store staff are
the corp's staff, linked to their Siyu accounts by username, and the first full contact sync is
started so the demo shows a live corp syncing. Idempotent: a rerun links nobody twice and starts no
second sync while one is active. Against a real corp it does nothing (its staff come from the sync)."""

from __future__ import annotations

from scrm.models import Role, User
from wecom.models import WecomStaff
from wecom.services import connection

STAFF_ROLES = (Role.STORE_MANAGER, Role.STORE_STAFF)


def link_staff() -> int:
    """A WecomStaff row per store staff account (userid = username); the number added."""
    users = User.objects.filter(role__in=STAFF_ROLES, is_active=True, store__isnull=False).order_by("username")
    known = set(WecomStaff.objects.filter(userid__in=[u.username for u in users]).values_list("userid", flat=True))
    rows = [
        WecomStaff(userid=u.username, name=u.display_name[:64], user=u, store_id=u.store_id)
        for u in users
        if u.username not in known
    ]
    WecomStaff.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _start_sync() -> str:
    try:
        from wecom.services import contacts
    except ImportError:
        return "the contact sync is not available"
    start = getattr(contacts, "start_full_sync", None)
    if start is None:
        return "the contact sync is not available"
    run = start()
    return f"contact sync run {getattr(run, 'pk', run)} started"


def seed() -> str:
    if connection.mode() != "local":
        return "wecom: no local WeCom server configured; nothing seeded"
    added = link_staff()
    return f"wecom: {added} staff linked to the local WeCom server; {_start_sync()}"
