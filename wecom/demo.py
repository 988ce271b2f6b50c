"""Demo WeCom data: with the local WeCom server running (as `up` runs it, the demo's store staff as
its staff), the corp's staff are read from it and linked to their Siyu accounts by username, and the
first full contact sync is started, so the demo shows a live corp syncing. Idempotent: a rerun links
nobody twice and starts no second sync while one is active. Against a real corp it does nothing (an
operator starts the first sync from the sync page)."""

from __future__ import annotations

from wecom.client import errors
from wecom.services import connection, contacts, staff


def seed() -> str:
    if connection.mode() != "local":
        return "wecom: no local WeCom server configured; nothing seeded"
    try:
        found = staff.refresh_staff()
        run = contacts.start_full_sync()
    except errors.WecomError as exc:
        # The demo comes up without its WeCom part rather than not at all; the page says why.
        return f"wecom: the local WeCom server did not answer ({type(exc).__name__}); nothing seeded"
    return (
        f"wecom: {found.added + found.kept} staff on the local WeCom server ({found.linked} newly linked); "
        f"contact sync run {run.pk} {run.status}"
    )
