"""Demo WeCom data: with the local WeCom server running (as `up` runs it, the demo's store staff as
its staff), the corp's staff are read from it and linked to their Siyu accounts by username, each
store gets its channel code, and the first full contact sync is started, so the demo shows a live
corp syncing. Its first pages are synced here, before the worker takes the rest, so that the demo's
handover (a few customers between two staff members of one store) and the sidebar card have synced
customers to show on a fresh `up`. The customer groups are synced by a run of their own, started
after the contacts' first pages. Idempotent: a rerun links nobody twice, starts no second first
sync and no second handover. Against a real corp it does nothing (an operator starts the first
sync from the sync page)."""

from __future__ import annotations

import time

from scrm.actors import SystemActor
from wecom.client import errors
from wecom.models import ACTIVE_RUN_STATUSES, RunStatus, SyncKind, SyncRun
from wecom.services import channels, connection, contacts, handover, sidebar, staff, sync

DEMO_ACTOR = SystemActor("wecom:demo")
# How long the seed syncs pages itself waiting for customers the handover can move; past it the
# worker carries on and the next seed makes the handover.
FIRST_PAGES_SECONDS = 60.0


def seed() -> str:
    if connection.mode() != "local":
        return "wecom: no local WeCom server configured; nothing seeded"
    try:
        found = staff.refresh_staff()
        codes = channels.seed_demo(actor=DEMO_ACTOR)
        run = _first_full_sync()
        handovers = _handover_once_synced(run)
        groups_run = _groups_sync()
    except errors.WecomError as exc:
        # The demo comes up without its WeCom part rather than not at all; the page says why.
        return f"wecom: the local WeCom server did not answer ({type(exc).__name__}); nothing seeded"
    run.refresh_from_db()
    link = sidebar.demo_link()
    return (
        f"wecom: {found.added + found.kept} staff on the local WeCom server ({found.linked} newly linked); "
        f"{codes} channel codes; contact sync run {run.pk} {run.status}; {handovers}; "
        f"customer groups sync run {groups_run.pk} {groups_run.status}; "
        + (f"sidebar card: {link}" if link else "sidebar card: once a customer is synced")
    )


def _first_full_sync() -> SyncRun:
    """The demo's full sync: the active one, else the last one that finished, else a new one (so a
    rerun starts none while the first one runs or once it has done its work)."""
    done = SyncRun.objects.filter(kind=SyncKind.CONTACTS, status=RunStatus.DONE).order_by("-id").first()
    active = SyncRun.objects.filter(kind=SyncKind.CONTACTS, status__in=ACTIVE_RUN_STATUSES).exists()
    if done is not None and not active:
        return done
    return contacts.start_full_sync(actor=DEMO_ACTOR)


def _groups_sync() -> SyncRun:
    """The demo's customer groups: the active or last finished groups run, else a new one (the worker
    runs it; members the contact sync has not brought in yet are linked when it finishes)."""
    done = SyncRun.objects.filter(kind=SyncKind.GROUPS, status=RunStatus.DONE).order_by("-id").first()
    active = SyncRun.objects.filter(kind=SyncKind.GROUPS, status__in=ACTIVE_RUN_STATUSES).exists()
    if done is not None and not active:
        return done
    return sync.start_run(kind=SyncKind.GROUPS, actor=DEMO_ACTOR).run


def _handover_once_synced(run: SyncRun, *, seconds: float = FIRST_PAGES_SECONDS) -> str:
    """The demo handover, syncing the run's pages here until it has customers to move (a step is
    safe beside the worker's: each takes the run's lock); the worker syncs the rest."""
    summary = handover.demo_seed()
    deadline = time.monotonic() + seconds
    while not handover.demo_seeded() and time.monotonic() < deadline:
        outcome = sync.run_step(run_id=run.pk, pages=1)
        summary = handover.demo_seed()
        if outcome != "more":
            break  # done, or paused, failed, cancelled, another lane's: the worker and the sweeper go on
    return summary
