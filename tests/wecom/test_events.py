"""Callback events as the outbox: stored once per message, processed by registered handlers with
SKIP LOCKED claims, retried with backoff up to a cap, ignored when unknown, purged after the
retention period and scrubbed on erasure. Real PostgreSQL; the tasks are called directly."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from wecom.models import CallbackEvent, EventStatus
from wecom.services import events
from wecom.tasks import events as tasks

ADD = {"Event": "change_external_contact", "ChangeType": "add_external_contact", "UserID": "sh01_staff1",
       "ExternalUserID": "wmEXT001", "CreateTime": "1764640000", "MsgType": "event"}


@pytest.fixture
def registry():
    """Handlers registered through this fixture are removed at the test's end; the app's own
    handlers are set aside meanwhile, so the test sees only its own."""
    saved = {key: list(value) for key, value in events._handlers.items()}
    events._handlers.clear()
    yield events.register_handler
    events._handlers.clear()
    events._handlers.update(saved)


def _store(n: int = 1, **fields) -> CallbackEvent:
    fields = {**ADD, "ExternalUserID": f"wmEXT{n:03}", **fields}
    return events.store_event(fields, raw_digest=hashlib.sha256(repr(sorted(fields.items())).encode()).hexdigest())


@pytest.mark.django_db
def test_one_message_is_one_row_however_often_it_is_stored():
    first = events.store_event(ADD, raw_digest="d" * 64)
    again = events.store_event(ADD, raw_digest="d" * 64)
    assert first.created is True and again.created is False and again.pk == first.pk
    assert CallbackEvent.objects.count() == 1
    assert first.event == "change_external_contact" and first.change_type == "add_external_contact"
    assert first.created_at_wecom == datetime.fromtimestamp(1764640000, tz=UTC)
    assert first.payload["ExternalUserID"] == "wmEXT001" and first.status == EventStatus.PENDING


@pytest.mark.django_db
def test_a_new_event_is_queued_only_once_committed(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        events.store_event(ADD, raw_digest="q" * 64)
        events.store_event(ADD, raw_digest="q" * 64)  # the retry queues nothing more
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_a_bad_create_time_is_kept_as_none():
    assert _store(1, CreateTime="soon").created_at_wecom is None
    assert _store(2, CreateTime="99999999999999").created_at_wecom is None


@pytest.mark.django_db
def test_handlers_run_by_event_and_change_type(registry):
    seen = []
    registry("change_external_contact", "add_external_contact", lambda e: seen.append(("add", e.pk)))
    registry("change_external_contact", None, lambda e: seen.append(("any", e.pk)))
    add = _store(1)
    edit = _store(2, ChangeType="edit_external_contact")
    assert events.process_pending() == {"done": 2, "ignored": 0, "failed": 0, "retry": 0}
    assert seen == [("any", add.pk), ("add", add.pk), ("any", edit.pk)]
    add.refresh_from_db()
    assert add.status == EventStatus.DONE and add.attempts == 1 and add.processed_at is not None
    assert events.process_pending() == {"done": 0, "ignored": 0, "failed": 0, "retry": 0}


@pytest.mark.django_db
def test_registering_a_handler_twice_runs_it_once(registry):
    seen = []

    def handler(event):
        seen.append(event.pk)

    registry("change_external_tag", None, handler)
    registry("change_external_tag", None, handler)
    _store(1, Event="change_external_tag", ChangeType="create")
    events.process_pending()
    assert len(seen) == 1


@pytest.mark.django_db
def test_an_unknown_event_type_is_stored_and_ignored(registry):
    event = _store(1, Event="change_something_new", ChangeType="brand_new")
    assert events.process_event(event.pk) == EventStatus.IGNORED
    event.refresh_from_db()
    assert event.status == EventStatus.IGNORED and event.error == events.NO_HANDLER
    assert events.process_event(event.pk) is None  # settled: nothing more to do


@pytest.mark.django_db
def test_a_handler_that_finds_the_event_stale_ignores_it(registry):
    def handler(event):
        if events.is_stale(event, seen_at=datetime.fromtimestamp(1764640005, tz=UTC)):
            raise events.Ignore("older than the contact's last sync")

    registry("change_external_contact", "del_follow_user", handler)
    stale = _store(1, ChangeType="del_follow_user", CreateTime="1764640000")
    fresh = _store(2, ChangeType="del_follow_user", CreateTime="1764640009")
    events.process_pending()
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == EventStatus.IGNORED and "older than" in stale.error
    assert fresh.status == EventStatus.DONE


def test_is_stale_compares_create_time_with_what_the_row_last_saw():
    event = CallbackEvent(created_at_wecom=datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC))
    assert events.is_stale(event, datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC))
    # Same second (CreateTime has whole seconds): not stale, applied in arrival order.
    assert not events.is_stale(event, datetime(2026, 12, 1, 10, 0, 0, 900000, tzinfo=UTC))
    assert not events.is_stale(event, None)
    assert not events.is_stale(CallbackEvent(), datetime(2026, 12, 1, tzinfo=UTC))


@pytest.mark.django_db
def test_a_failing_handler_is_retried_with_backoff_then_failed_with_a_bounded_error(registry):
    calls = []

    def handler(event):
        calls.append(event.attempts)
        raise RuntimeError("customer 13800138000 could not be written " + "x" * 1000)

    registry("change_external_contact", None, handler)
    event = _store(1)
    now = timezone.now()
    assert events.process_pending(now=now)["retry"] == 1
    # Within the backoff nothing is tried again, by the sweeper or by process_event.
    assert events.process_pending(now=now + timedelta(seconds=events.RETRY_BASE_SECONDS - 1))["retry"] == 0
    assert events.process_event(event.pk, now=now + timedelta(seconds=1)) is None
    for attempt in range(2, events.MAX_ATTEMPTS + 1):
        now += timedelta(seconds=events.RETRY_BASE_SECONDS * 2 ** (attempt - 2) + 1)
        outcome = events.process_pending(now=now)
        assert outcome == ({"done": 0, "ignored": 0, "failed": 1, "retry": 0} if attempt == events.MAX_ATTEMPTS
                           else {"done": 0, "ignored": 0, "failed": 0, "retry": 1})
    event.refresh_from_db()
    assert event.status == EventStatus.FAILED and event.attempts == events.MAX_ATTEMPTS == len(calls)
    assert len(event.error) == events.ERROR_MAX
    assert event.error.startswith("RuntimeError: customer") and "13800138000" not in event.error
    assert events.process_pending(now=now + timedelta(days=1))["failed"] == 0  # failed stays failed


@pytest.mark.django_db
def test_one_failing_handler_keeps_the_others_work_and_retries_the_event(registry):
    from scrm.models import Region

    def writes(event):
        Region.objects.get_or_create(code=f"r{event.pk}", defaults={"name": "from a handler"})

    def fails(event):
        raise ValueError("not yet")

    registry("change_external_contact", None, writes)
    registry("change_external_contact", None, fails)
    event = _store(1)
    events.process_pending()
    event.refresh_from_db()
    assert event.status == EventStatus.PENDING and event.error == "ValueError: not yet"
    assert Region.objects.filter(code=f"r{event.pk}").exists()


@pytest.mark.django_db
def test_retry_failed_puts_failed_events_back_once(registry, django_capture_on_commit_callbacks):
    event = _store(1)
    CallbackEvent.objects.filter(pk=event.pk).update(status=EventStatus.FAILED, attempts=5, error="boom")
    done = _store(2)
    CallbackEvent.objects.filter(pk=done.pk).update(status=EventStatus.DONE)
    with django_capture_on_commit_callbacks() as callbacks:
        assert events.retry_failed() == 1
    assert len(callbacks) == 1
    assert events.retry_failed() == 0
    event.refresh_from_db()
    assert event.status == EventStatus.PENDING and event.attempts == 0
    registry("change_external_contact", None, lambda e: None)
    assert events.process_event(event.pk) == EventStatus.DONE


@pytest.mark.django_db(transaction=True)
def test_two_processors_never_process_one_event_twice(registry):
    handled: list[int] = []
    lock = threading.Lock()

    def slow(event):
        with lock:
            handled.append(event.pk)
        time.sleep(0.02)

    registry("change_external_contact", None, slow)
    for n in range(40):
        _store(n)
    barrier = threading.Barrier(4)
    results: list = []

    def run():
        close_old_connections()
        try:
            barrier.wait()
            results.append(events.process_pending(limit=100))
        except Exception as exc:  # noqa: BLE001 - the test reports what each thread got
            results.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(isinstance(r, dict) for r in results), results
    assert len(handled) == len(set(handled)) == 40
    assert sum(r["done"] for r in results) == 40
    assert sum(1 for r in results if r["done"]) > 1  # the work was actually shared
    assert set(CallbackEvent.objects.values_list("status", flat=True)) == {EventStatus.DONE}


@pytest.mark.django_db(transaction=True)
def test_process_event_skips_an_event_another_worker_holds(registry):
    registry("change_external_contact", None, lambda e: None)
    event = _store(1)
    holding, release = threading.Event(), threading.Event()

    def hold():
        close_old_connections()
        try:
            with transaction.atomic():
                list(CallbackEvent.objects.select_for_update().filter(pk=event.pk))
                holding.set()
                release.wait(10)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10)
    try:
        assert events.process_event(event.pk) is None
        assert events.process_pending() == {"done": 0, "ignored": 0, "failed": 0, "retry": 0}
    finally:
        release.set()
        thread.join(10)
    assert tasks.process_event(event.pk) == EventStatus.DONE


@pytest.mark.django_db
def test_the_sweeper_task_takes_what_a_lost_message_left(registry):
    seen = []
    registry("change_external_contact", None, lambda e: seen.append(e.pk))
    a, b = _store(1), _store(2)  # on_commit never ran in this test's transaction: no task was queued
    assert tasks.sweep_events()["done"] == 2
    assert seen == [a.pk, b.pk]


@pytest.mark.django_db
def test_old_settled_events_are_purged_pending_ones_kept(settings):
    settings.WECOM_EVENT_RETENTION_DAYS = 90
    old = timezone.now() - timedelta(days=91)
    kept_recent = _store(1)
    CallbackEvent.objects.filter(pk=kept_recent.pk).update(status=EventStatus.DONE)
    rows = {status: _store(n, Status=status) for n, status in enumerate(EventStatus.values, start=10)}
    for status, row in rows.items():
        CallbackEvent.objects.filter(pk=row.pk).update(status=status, received_at=old)
    assert events.purge_old_events(batch=2) == 3
    left = set(CallbackEvent.objects.values_list("pk", flat=True))
    assert left == {kept_recent.pk, rows[EventStatus.PENDING].pk}
    assert tasks.purge_events() == 0


@pytest.mark.django_db
def test_scrub_blanks_every_event_naming_an_erased_contact(registry):
    named = _store(1, ExternalUserID="wmERASED")
    in_list = _store(2, Event="change_external_chat", ChangeType="update", ExternalUserID="",
                     MemChangeList="wmOTHER,wmERASED")
    other = _store(3, ExternalUserID="wmAKEEP")
    done = _store(4, ExternalUserID="wmERASED", ChangeType="edit_external_contact")
    CallbackEvent.objects.filter(pk=done.pk).update(status=EventStatus.DONE)
    # A longer id containing the erased one is blanked too: list fields join their ids, so a
    # substring is what names one; real ids have one length, and blanking more is the safe side.
    similar = _store(5, ExternalUserID="wmERASEDX")
    assert events.scrub_events_for(["wmERASED"]) == 4
    for row in (named, in_list, done, similar, other):
        row.refresh_from_db()
    assert named.payload == {} and in_list.payload == {} and done.payload == {}
    assert named.status == EventStatus.IGNORED and named.error == events.ERASED
    assert done.status == EventStatus.DONE
    assert other.payload["ExternalUserID"] == "wmAKEEP"
    assert events.scrub_events_for([]) == 0
    assert events.scrub_events_for(["wm_KEEP"]) == 0  # "_" is a literal, not a wildcard


@pytest.mark.django_db
def test_shown_fields_withhold_anything_but_ids():
    event = _store(1, Name="王女士", WelcomeCode="secret-code")
    shown = dict(events.shown_fields(event))
    assert shown["ExternalUserID"] == "wmEXT001" and shown["UserID"] == "sh01_staff1"
    assert shown["Name"] == events.WITHHELD and shown["WelcomeCode"] == events.WITHHELD
