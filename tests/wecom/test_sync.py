"""Contact syncs against the local WeCom server: the initial full sync creates members, identities
and relations in the right stores; a re-run writes nothing; a rate limit pauses the run and it
resumes at the same cursor; a run a dead worker left is restarted by the sweeper; an erased contact
is not re-created; churn is counted; an unlinked staff member is skipped with a reason."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from members.models import Channel, Identity, Member, MemberEvent, StaffRelation
from scrm.models import Role, User
from wecom.client import get_client
from wecom.models import (
    CursorStatus,
    ErasedContact,
    RunStatus,
    SyncCursor,
    SyncKind,
    SyncRun,
    WecomContact,
    WecomFollow,
    WecomStaff,
)
from wecom.services import sync

pytestmark = pytest.mark.django_db(transaction=True)

STAFF = ["carol", "dave", "erin"]  # erin has no Siyu account: listed, not synced


@pytest.fixture
def synced_corp(make_corp, carol, dave, alice):
    return make_corp(staff=STAFF, contacts_per_staff=120)


def listed(userid) -> set[str]:
    return set(get_client().get("externalcontact/list", params={"userid": userid}).get("external_userid") or [])


def run_to_end(run_id, *, pages=None, limit=500) -> str:
    for _ in range(limit):
        outcome = sync.run_step(run_id=run_id, pages=pages)
        if outcome != "more":
            return outcome
    raise AssertionError("the run did not end")


def full_sync(actor, **kwargs) -> SyncRun:
    result = sync.start_run(kind=SyncKind.CONTACTS, actor=actor)
    assert result.created
    assert run_to_end(result.run.pk, **kwargs) == "done"
    return SyncRun.objects.get(pk=result.run.pk)


def test_initial_sync_creates_members_identities_and_relations_in_the_staff_store(synced_corp, alice, carol, dave):
    run = full_sync(alice)
    truth = {userid: listed(userid) for userid in ("carol", "dave")}
    everyone = truth["carol"] | truth["dave"]
    assert everyone
    assert WecomContact.objects.filter(external_userid__in=everyone).count() == len(everyone)
    ids = set(Identity.objects.filter(channel=Channel.WECOM).values_list("external_id", flat=True))
    assert ids == everyone
    for user in (carol, dave):
        relations = StaffRelation.objects.filter(staff=user)
        assert relations.count() == len(truth[user.username])
        assert set(relations.values_list("store_id", flat=True)) == {user.store_id}
    only_carol = truth["carol"] - truth["dave"]
    homes = set(Member.objects.filter(identities__channel=Channel.WECOM, identities__external_id__in=only_carol)
                .values_list("home_store_id", flat=True))
    assert homes == {carol.store_id}
    assert run.added == len(truth["carol"]) + len(truth["dave"])
    assert run.updated == run.failed == 0
    assert run.staff_total == run.staff_done == 2
    erin = SyncCursor.objects.get(run=run, staff__userid="erin")
    assert (erin.status, erin.error_code) == (CursorStatus.SKIPPED, "staff_unlinked")
    assert WecomStaff.objects.get(userid="erin").user is None
    assert WecomStaff.objects.get(userid="carol").user == carol


def test_second_full_run_over_an_unchanged_corp_writes_nothing(synced_corp, alice):
    first = full_sync(alice)
    last_update = max(Member.objects.values_list("updated_at", flat=True))
    events = MemberEvent.objects.count()
    follows = dict(WecomFollow.objects.values_list("pk", "synced_at"))
    second = full_sync(alice)
    assert (second.added, second.updated, second.failed, second.removed) == (0, 0, 0, 0)
    assert second.unchanged == first.added
    assert max(Member.objects.values_list("updated_at", flat=True)) == last_update
    assert MemberEvent.objects.count() == events
    assert dict(WecomFollow.objects.values_list("pk", "synced_at")) == follows


def test_a_rate_limit_pauses_the_run_and_it_resumes_at_the_same_cursor(synced_corp, alice, settings):
    settings.WECOM_CALLS_PER_MINUTE = 1  # the client's budget: one page a minute per API
    # A fresh minute, with nothing counted in it yet: the fixture's own calls may have fallen in this
    # minute's window, and a window turning over mid-step would admit a second page.
    limiter = get_client().limiter
    for key in limiter.redis.scan_iter(f"{limiter.key}:*"):
        limiter.redis.delete(key)
    seconds, _micro = limiter.redis.time()
    if seconds % 60 > 50:
        time.sleep(60 - seconds % 60 + 0.2)
    run = sync.start_run(kind=SyncKind.CONTACTS, actor=alice).run
    assert sync.run_step(run_id=run.pk, pages=50) == "paused"
    run.refresh_from_db()
    assert run.status == RunStatus.PAUSED and run.pause_reason == "rate_limited"
    assert run.resume_at > timezone.now()
    saved = dict(SyncCursor.objects.filter(run=run).values_list("staff__userid", "cursor"))
    assert saved["carol"]  # one page written, its cursor kept
    written = WecomFollow.objects.count()
    settings.WECOM_CALLS_PER_MINUTE = 9000
    assert 0 < written < len(listed("carol")) + len(listed("dave"))
    assert sync.sweep(now=timezone.now())["resumed"] == []  # not due yet
    assert sync.sweep(now=run.resume_at + timedelta(seconds=1))["resumed"] == [run.pk]
    assert run_to_end(run.pk) == "done"
    run.refresh_from_db()
    total = len(listed("carol")) + len(listed("dave"))
    assert run.added == total == WecomFollow.objects.count()
    assert run.updated == 0 and run.attempts == 0
    assert Identity.objects.filter(channel=Channel.WECOM).count() == len(listed("carol") | listed("dave"))


def test_a_run_left_by_a_killed_worker_is_restarted_by_the_sweeper(synced_corp, alice):
    run = sync.start_run(kind=SyncKind.CONTACTS, actor=alice).run
    assert sync.run_step(run_id=run.pk, pages=1) == "more"
    # The worker dies: the run stays "running" with its last heartbeat.
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    first_cursor = SyncCursor.objects.get(run=run, staff__userid="carol").cursor
    assert first_cursor
    swept = sync.sweep()
    assert swept["restarted"] == [run.pk]
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and run.attempts == 1
    assert run_to_end(run.pk) == "done"
    run.refresh_from_db()
    assert run.added == len(listed("carol")) + len(listed("dave")) == WecomFollow.objects.count()


def test_the_sweeper_gives_up_on_a_run_that_keeps_dying(synced_corp, alice, settings):
    settings.WECOM_SYNC_MAX_ATTEMPTS = 1
    run = sync.start_run(kind=SyncKind.CONTACTS, actor=alice).run
    SyncRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, attempts=1, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert sync.sweep()["failed"] == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.error_code) == (RunStatus.FAILED, "stalled")


def test_one_active_run_per_kind(synced_corp, alice):
    first = sync.start_run(kind=SyncKind.CONTACTS, actor=alice)
    second = sync.start_run(kind=SyncKind.CONTACTS, actor=alice)
    assert first.created and not second.created and second.run.pk == first.run.pk
    other = sync.start_run(kind=SyncKind.CONTACTS_INCREMENTAL, actor=alice)
    assert other.created


def test_an_erased_member_is_not_re_created(synced_corp, alice):
    from members.services import privacy

    full_sync(alice)
    contact = WecomContact.objects.filter(member__isnull=False).select_related("member").first()
    external_userid = contact.external_userid
    privacy.erase_member(member=contact.member, actor=alice, reason="request")
    assert not WecomContact.objects.filter(external_userid=external_userid).exists()
    assert ErasedContact.objects.count() == 1
    again = full_sync(alice)
    assert again.skipped >= 1
    assert not WecomContact.objects.filter(external_userid=external_userid).exists()
    assert not Identity.objects.filter(channel=Channel.WECOM, external_id=external_userid).exists()


def test_churn_is_counted_and_recorded_on_the_relation(synced_corp, alice):
    full_sync(alice)
    gone = sorted(listed("carol"))[0]
    answer = httpx.post(f"{synced_corp.url}/_fake/delete", json={"userid": "carol", "external_userid": gone})
    assert answer.status_code == 200
    assert gone not in listed("carol")
    run = full_sync(alice)
    assert run.removed == 1
    follow = WecomFollow.objects.get(staff__userid="carol", contact__external_userid=gone)
    assert follow.deleted_at is not None
    relation = StaffRelation.objects.get(pk=follow.relation_id)
    assert not relation.is_active


def test_incremental_sync_adds_the_new_and_churns_the_missing(synced_corp, alice):
    full_sync(alice)
    added = httpx.post(f"{synced_corp.url}/_fake/add_contact", json={"userid": "carol", "state": "SH01-door"})
    assert added.status_code == 200
    gone = sorted(listed("dave"))[0]
    httpx.post(f"{synced_corp.url}/_fake/delete", json={"userid": "dave", "external_userid": gone})
    run = sync.start_run(kind=SyncKind.CONTACTS_INCREMENTAL, actor=alice).run
    assert run_to_end(run.pk) == "done"
    run.refresh_from_db()
    assert (run.added, run.removed, run.failed) == (1, 1, 0)
    new = WecomFollow.objects.get(staff__userid="carol", state="SH01-door")
    assert new.relation.state == "SH01-door"
    assert WecomFollow.objects.get(staff__userid="dave", contact__external_userid=gone).deleted_at is not None


def test_a_store_account_is_linked_by_hand(synced_corp, alice, store_a):
    from wecom.services import staff as staff_services

    full_sync(alice)
    erin_account = User.objects.create(username="erin-sh", role=Role.STORE_STAFF, store=store_a)
    erin = WecomStaff.objects.get(userid="erin")
    staff_services.link_staff(staff=erin, user=erin_account, actor=alice)
    run = full_sync(alice)
    assert run.added == len(listed("erin"))
    assert StaffRelation.objects.filter(staff=erin_account).count() == len(listed("erin"))


def test_cancelling_a_running_run_stops_it_before_its_next_page_and_keeps_what_was_written(synced_corp, alice):
    run = sync.start_run(kind=SyncKind.CONTACTS, actor=alice).run
    assert sync.run_step(run_id=run.pk, pages=1) == "more"
    written = WecomFollow.objects.count()
    assert written > 0
    assert sync.cancel_run(run_id=run.pk, actor=alice) is True
    assert sync.cancel_run(run_id=run.pk, actor=alice) is False  # already ended
    assert sync.run_step(run_id=run.pk, pages=5) == "idle"
    run.refresh_from_db()
    assert (run.status, run.error_code) == (RunStatus.CANCELLED, "cancelled")
    assert run.finished_at is not None and run.error == alice.username  # who cancelled it
    assert WecomFollow.objects.count() == written
    # The next full run can start (the cancelled one is no longer active) and finishes the work.
    again = full_sync(alice)
    assert again.added + again.unchanged == len(listed("carol")) + len(listed("dave"))


def test_a_run_cancelled_while_a_worker_runs_it_rolls_back_only_the_batch_in_flight(
    synced_corp, alice, monkeypatch, settings
):
    from wecom.services import contacts

    settings.WECOM_SYNC_WRITE_BATCH = 1  # every page written on its own

    run = sync.start_run(kind=SyncKind.CONTACTS, actor=alice).run
    real = contacts.apply_page
    calls = {"n": 0}

    def apply_then_cancel(**kwargs):
        calls["n"] += 1
        outcome = real(**kwargs)
        if calls["n"] == 2:  # the operator cancels while the worker writes its second page
            SyncRun.objects.filter(pk=run.pk).update(status=RunStatus.CANCELLED)
        return outcome

    monkeypatch.setattr(contacts, "apply_page", apply_then_cancel)
    assert sync.run_step(run_id=run.pk, pages=50) == "stopped"
    assert calls["n"] == 2
    cursor = SyncCursor.objects.get(run=run, staff__userid="carol")
    assert cursor.pages == 1  # the second page rolled back with its cursor
    assert WecomFollow.objects.count() == cursor.added


def test_the_sweeper_never_runs_a_paused_tags_run_as_a_contact_sync(synced_corp, alice):
    tags_run = SyncRun.objects.create(kind=SyncKind.TAGS, status=RunStatus.PAUSED,
                                      resume_at=timezone.now() - timedelta(seconds=5))
    swept = sync.sweep()
    assert swept["resumed"] == [tags_run.pk]
    assert sync.run_step(run_id=tags_run.pk) == "idle"  # the contact runner does not claim it
    assert not SyncCursor.objects.filter(run=tags_run).exists()
    SyncRun.objects.filter(pk=tags_run.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert tags_run.pk not in sync.sweep()["restarted"]


def test_pages_are_written_in_batches_and_a_pause_mid_batch_keeps_the_pages_fetched(synced_corp, alice, settings):
    settings.WECOM_SYNC_WRITE_BATCH = 1000
    settings.WECOM_CALLS_PER_MINUTE = 1  # the first page, then the limiter refuses the second
    run = sync.start_run(kind=SyncKind.CONTACTS, actor=alice).run
    assert sync.run_step(run_id=run.pk, pages=50) == "paused"
    carol = SyncCursor.objects.get(run=run, staff__userid="carol")
    assert carol.pages == 1 and carol.cursor and carol.added == 100 == WecomFollow.objects.count()
    settings.WECOM_CALLS_PER_MINUTE = 9000
    SyncRun.objects.filter(pk=run.pk).update(status=RunStatus.QUEUED)
    assert run_to_end(run.pk) == "done"
    carol.refresh_from_db()
    assert carol.pages == 2 and carol.added == len(listed("carol"))  # 120: two pages of 100 and 20


def test_two_lanes_share_a_run_with_every_contact_written_once(synced_corp, alice, carol, dave, settings):
    """Two workers on one run at once (each its own database connection), customers shared between
    carol and dave included: every follow once, one member per customer, nothing failed."""
    import threading

    from django.db import connections

    settings.WECOM_SYNC_WRITE_BATCH = 100
    settings.WECOM_SYNC_LANES = 2
    run = sync.start_run(kind=SyncKind.CONTACTS, actor=alice).run
    outcomes, errors_ = [], []

    def lane():
        try:
            for _ in range(200):
                outcome = sync.run_step(run_id=run.pk, pages=1)
                outcomes.append(outcome)
                if outcome not in ("more", "busy"):
                    break
        except Exception as exc:  # noqa: BLE001 - reported below
            errors_.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=lane) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors_, errors_
    run.refresh_from_db()
    if run.status != RunStatus.DONE:  # the lane that found the rest taken said "waiting"; finish it
        assert run_to_end(run.pk) == "done"
        run.refresh_from_db()
    assert "done" in outcomes or run.status == RunStatus.DONE
    truth = {userid: listed(userid) for userid in ("carol", "dave")}
    shared = truth["carol"] & truth["dave"]
    assert shared, "the corp should have customers both staff members follow"
    assert run.failed == 0 and run.updated == 0
    assert run.added == len(truth["carol"]) + len(truth["dave"]) == WecomFollow.objects.count()
    everyone = truth["carol"] | truth["dave"]
    assert Identity.objects.filter(channel=Channel.WECOM).count() == len(everyone)
    assert Member.objects.filter(identities__channel=Channel.WECOM).distinct().count() == len(everyone)
    assert set(SyncCursor.objects.filter(run=run, staff__userid__in=["carol", "dave"])
               .values_list("status", flat=True)) == {CursorStatus.DONE}


def test_a_lane_leaves_a_staff_member_another_lane_is_writing(synced_corp, alice):
    from django.db import connection

    run = sync.start_run(kind=SyncKind.CONTACTS, actor=alice).run
    assert sync.run_step(run_id=run.pk, pages=1) == "more"  # cursors made, carol's first page written
    carol = SyncCursor.objects.get(run=run, staff__userid="carol")
    dave = SyncCursor.objects.get(run=run, staff__userid="dave")
    other = connection.copy()  # another worker, holding carol
    try:
        with other.cursor() as c:
            c.execute("SELECT pg_advisory_lock(%s, %s)", [sync.CURSOR_LOCK_CLASS, carol.pk])
        assert sync.run_step(run_id=run.pk, pages=100) == "waiting"
        carol.refresh_from_db()
        dave.refresh_from_db()
        assert carol.status == CursorStatus.PENDING and carol.pages == 1  # untouched
        assert dave.status == CursorStatus.DONE
        assert sync.lock_is_free(run.pk)  # no lane holds the run between steps (the sweeper's test)
    finally:
        other.close()
    assert run_to_end(run.pk) == "done"


def test_the_nightly_incremental_sync_starts_only_with_a_corp_configured(synced_corp, settings):
    from scrm.celery import app
    from wecom.tasks.contacts import start_incremental

    assert app.conf.beat_schedule["wecom-incremental-sync"]["task"] == start_incremental.name
    run_id = start_incremental()
    assert SyncRun.objects.get(pk=run_id).kind == SyncKind.CONTACTS_INCREMENTAL
    assert start_incremental() == run_id  # the active one, not a second
    settings.WECOM_CORP_ID = ""
    assert start_incremental() is None
    app.control.purge()
