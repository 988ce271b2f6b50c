"""The fan-out: one delivery per event and subscription that may hear it, set-based, in one transaction."""

from __future__ import annotations

import threading

import psycopg2
import pytest
from django.db import connection
from django.utils import timezone

from scrm import events
from scrm.models import Event
from tests.webhooks.conftest import ORDERED, TOUCHED
from webhooks.models import Delivery
from webhooks.services import relay

URL = "http://127.0.0.1:9/hooks"


def _pairs():
    return sorted(Delivery.objects.values_list("subscription_id", "event_id"))


def test_each_event_reaches_the_subscriptions_that_want_its_type(subscribe, store_a):
    members = subscribe(URL, types=[TOUCHED], name="members")
    both = subscribe(URL, types=[TOUCHED, ORDERED], name="both")
    orders = subscribe(URL, types=[ORDERED], name="orders")
    events.emit(TOUCHED, member_id=1, store_id=store_a.pk, data={"n": 1})
    events.emit(ORDERED, member_id=2, store_id=store_a.pk, data={"order": {"id": 7}})
    touched, ordered = Event.objects.order_by("id")

    done = relay.relay()

    assert (done.events, done.deliveries) == (2, 4)
    assert _pairs() == sorted([(members.pk, touched.pk), (both.pk, touched.pk), (both.pk, ordered.pk),
                               (orders.pk, ordered.pk)])
    assert not Event.objects.filter(relayed=False).exists()
    row = Delivery.objects.get(subscription=orders, event=ordered)
    assert (row.member_id, row.state, row.attempts) == (2, "pending", 0)
    assert relay.relay() == relay.Relayed(0, 0)  # nothing twice


def test_store_filter_is_the_subscriptions_else_its_keys_else_any(subscribe, integration, store_a, store_b):
    anywhere = subscribe(URL, name="anywhere")
    only_b = subscribe(URL, store=store_b, name="only b")
    bound_a = subscribe(URL, key=integration(scopes=["members:read"], store=store_a), name="key of a")
    events.emit_many(TOUCHED, [(1, store_a.pk, {}), (2, store_b.pk, {}), (3, None, {})])
    in_a, in_b, no_store = Event.objects.order_by("id").values_list("id", flat=True)

    relay.relay()

    assert _pairs() == sorted([(anywhere.pk, in_a), (anywhere.pk, in_b), (anywhere.pk, no_store),
                               (only_b.pk, in_b), (bound_a.pk, in_a)])


def test_the_keys_scopes_decide_which_types_it_hears(subscribe, integration, store_a):
    members_only = integration(scopes=["members:read"])
    sub = subscribe(URL, types=[TOUCHED, ORDERED], key=members_only)
    events.emit(TOUCHED, member_id=1, store_id=store_a.pk)
    events.emit(ORDERED, member_id=1, store_id=store_a.pk)

    relay.relay()

    assert list(Delivery.objects.filter(subscription=sub).values_list("event__type", flat=True)) == [TOUCHED]


def test_revoked_or_expired_keys_hear_nothing_and_paused_subscriptions_keep_theirs(subscribe, integration, store_a):
    revoked, expired = integration(name="revoked"), integration(name="expired")
    revoked.revoked_at = timezone.now()
    revoked.save()
    subscribe(URL, key=revoked, name="revoked")
    subscribe(URL, key=expired, name="expired")
    expired.expires_at = timezone.now() - timezone.timedelta(minutes=1)
    expired.save()
    paused = subscribe(URL, state="paused", name="paused")
    live = subscribe(URL, name="live")
    events.emit(TOUCHED, member_id=1, store_id=store_a.pk)

    done = relay.relay()

    assert done == relay.Relayed(1, 2)
    # The paused subscription's delivery waits for its resume (the claim reads active ones only).
    assert sorted(Delivery.objects.values_list("subscription_id", flat=True)) == sorted([live.pk, paused.pk])


def test_pings_are_never_fanned_out(subscribe, store_a):
    subscribe(URL, types=["ping", TOUCHED])
    events.emit("ping", data={})
    events.emit(TOUCHED, member_id=1, store_id=store_a.pk)

    done = relay.relay()

    assert done.events == 2  # both marked relayed
    assert list(Delivery.objects.values_list("event__type", flat=True)) == [TOUCHED]


def test_a_bounded_batch_in_id_order(subscribe, store_a):
    sub = subscribe(URL)
    events.emit_many(TOUCHED, [(i, store_a.pk, {"i": i}) for i in range(25)])
    ids = list(Event.objects.order_by("id").values_list("id", flat=True))

    assert relay.relay(batch=10) == relay.Relayed(10, 10)
    assert sorted(Delivery.objects.values_list("event_id", flat=True)) == ids[:10]
    assert relay.run(batch=10) == relay.Relayed(15, 15)
    # delivery ids follow event ids
    assert list(Delivery.objects.filter(subscription=sub).order_by("id").values_list("event_id", flat=True)) == ids
    with pytest.raises(ValueError, match="between 1 and 50,000"):
        relay.relay(batch=0)


def _other_connection():
    s = connection.settings_dict
    conn = psycopg2.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432)
    conn.autocommit = False
    return conn


@pytest.mark.django_db(transaction=True)
def test_an_event_committed_late_with_a_lower_id_is_still_relayed(subscribe, store_a):
    sub = subscribe(URL)
    late = _other_connection()
    try:
        with late.cursor() as cursor:  # takes its id first, commits last
            cursor.execute(f"INSERT INTO {events.EVENT} (type, occurred_at, member_id, store_id, data, relayed) "
                           "VALUES (%s, now(), 5, %s, '{}', false) RETURNING id", [TOUCHED, store_a.pk])
            late_id = cursor.fetchone()[0]
        events.emit(TOUCHED, member_id=5, store_id=store_a.pk)  # autocommit: committed first
        early_id = Event.objects.get(relayed=False).pk
        assert late_id < early_id

        assert relay.relay() == relay.Relayed(1, 1)  # the uncommitted one is not visible yet
        late.commit()
        assert relay.relay() == relay.Relayed(1, 1)
    finally:
        late.close()
    rows = list(Delivery.objects.filter(subscription=sub).order_by("id").values_list("event_id", flat=True))
    assert rows == [early_id, late_id]  # the order per member is the delivery ids'


@pytest.mark.django_db(transaction=True)
def test_two_relays_at_once_fan_out_each_event_once_in_order(subscribe, store_a):
    subscribe(URL, name="one")
    subscribe(URL, name="two")
    events.emit_many(TOUCHED, [(i % 50, store_a.pk, {"i": i}) for i in range(3000)])
    results, errors = [], []

    def work():
        try:
            results.append(relay.run(batch=500))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not errors
    assert sum(r.events for r in results) == 3000
    assert Delivery.objects.count() == 6000
    assert not Event.objects.filter(relayed=False).exists()
    # one relay at a time: each subscription's deliveries were given in event order
    for sub_id in Delivery.objects.values_list("subscription_id", flat=True).distinct():
        by_id = list(Delivery.objects.filter(subscription_id=sub_id).order_by("id").values_list("event_id", flat=True))
        assert by_id == sorted(by_id)


@pytest.mark.django_db(transaction=True)
def test_a_relay_leaves_the_events_to_the_one_already_running(subscribe, store_a):
    """Two batches fanned out side by side could commit in either order and the sender post a member's
    later event first; so while one relay holds the lock, another relays nothing."""
    subscribe(URL)
    events.emit_many(TOUCHED, [(1, store_a.pk, {"i": i}) for i in range(20)])
    running = _other_connection()
    try:
        with running.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", list(relay.LOCK))
        assert relay.relay() == relay.Relayed(0, 0)
        assert relay.run() == relay.Relayed(0, 0)
        assert Event.objects.filter(relayed=False).count() == 20
        running.rollback()  # the other relay's transaction ends
        assert relay.relay() == relay.Relayed(20, 20)
    finally:
        running.close()


def test_prune_drops_old_deliveries_then_old_events(subscribe, store_a, settings):
    settings.SIYU_EVENT_RETENTION_DAYS = 30
    subscribe(URL)
    old = timezone.now() - timezone.timedelta(days=31)
    events.emit_many(TOUCHED, [(1, store_a.pk, {}), (2, store_a.pk, {})], at=old)
    events.emit(TOUCHED, member_id=3, store_id=store_a.pk)
    relay.relay()
    assert Delivery.objects.count() == 3

    done = relay.prune(batch=1)

    assert (done.deliveries, done.events, done.done) == (2, 2, True)
    assert list(Event.objects.values_list("member_id", flat=True)) == [3]
    assert list(Delivery.objects.values_list("member_id", flat=True)) == [3]
