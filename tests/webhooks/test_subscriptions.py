"""Subscriptions' services: every bad input refused naming what and where, store-bound keys,
secret rotation's overlap, ping's one delivery, redeliver and replay as set-based results."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from scrm import events
from scrm.actors import SystemActor
from scrm.api.auth import ApiPrincipal
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope
from scrm.models import AuditLog, Event
from tests.webhooks.conftest import ORDERED, TOUCHED
from webhooks.models import Delivery, Subscription
from webhooks.services import sending
from webhooks.services import subscriptions as services
from webhooks.services.urls import refuse_reason

pytestmark = pytest.mark.django_db
URL = "http://127.0.0.1:8999/hook"


def create(actor, key, **kwargs):
    kwargs.setdefault("name", "warehouse")
    kwargs.setdefault("url", URL)
    kwargs.setdefault("event_types", [TOUCHED])
    return services.create_subscription(actor=actor, api_key=key, **kwargs)


# --- URLs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url, words", [
    ("", "required"),
    ("ftp://93.184.216.34/x", "Only http"),
    ("http:///hook", "no host"),
    ("https://user:pw@93.184.216.34/hook", "user name or password"),
    ("http://testserver/hook", "Siyu itself"),
    ("http://127.0.0.1:8000/hook", "Siyu itself"),
    ("http://" + "a" * 500 + ".example/", "longer than"),
])
def test_urls_siyu_refuses_whatever_the_network(url, words):
    assert words in (refuse_reason(url) or "")


@override_settings(SIYU_WEBHOOK_FORBID_PRIVATE=True)
@pytest.mark.parametrize("url, words", [
    ("http://127.0.0.1:8999/hook", "not a public address"),
    ("http://10.1.2.3/hook", "not a public address"),
    ("http://169.254.169.254/latest/meta-data", "not a public address"),
    ("http://[::1]:8999/hook", "not a public address"),
    ("http://[::ffff:10.0.0.1]/hook", "not a public address"),
    ("http://224.0.0.1/hook", "not a public address"),
    ("http://localhost:8999/hook", "not a public address"),  # the name resolves to loopback
    ("http://no-such-host.invalid/hook", "does not resolve"),
])
def test_private_addresses_are_refused_when_forbidden_even_behind_a_name(url, words):
    assert words in (refuse_reason(url) or "")


@override_settings(SIYU_WEBHOOK_FORBID_PRIVATE=True)
def test_a_public_address_is_accepted_when_private_ones_are_forbidden():
    assert refuse_reason("https://93.184.216.34/hook") is None


@override_settings(SIYU_WEBHOOK_FORBID_PRIVATE=False)
def test_a_local_receiver_is_accepted_when_private_addresses_are_allowed():
    assert refuse_reason("http://127.0.0.1:8034/hook") is None
    assert refuse_reason("http://localhost:8034/hook") is None


@override_settings(PRODUCTION=True)
def test_production_sends_over_https_only():
    assert "https:// only" in refuse_reason("http://93.184.216.34/hook")


# --- create and its refusals ----------------------------------------------------------------------


def test_an_operator_subscribes_an_integration_and_gets_the_secret_once(alice, integration):
    key = integration()
    created = create(alice, key, event_types=[TOUCHED, ORDERED])
    sub = Subscription.objects.get(pk=created.subscription.pk)
    assert created.secret.startswith("whsec_") and sub.secret == created.secret
    assert (sub.api_key, sub.event_types, sub.state, sub.store, sub.created_by) == (
        key, sorted([TOUCHED, ORDERED]), "active", None, alice)
    assert AuditLog.objects.filter(action="webhook.subscribe", object_id=str(sub.pk)).count() == 1
    assert created.secret not in str(AuditLog.objects.get(action="webhook.subscribe").detail)


def test_an_unknown_event_type_is_named(alice, integration):
    with pytest.raises(InvalidInput) as caught:
        create(alice, integration(), event_types=[TOUCHED, "member.teleported"])
    assert "member.teleported" in caught.value.message
    assert caught.value.details["unknown"] == ["member.teleported"]
    assert not Subscription.objects.exists()


def test_ping_is_not_a_type_to_subscribe_to(alice, integration):
    with pytest.raises(InvalidInput) as caught:
        create(alice, integration(), event_types=["ping"])
    assert "ping" in caught.value.message


def test_a_type_the_keys_scopes_do_not_allow_names_the_scope(alice, integration):
    key = integration(scopes=("members:read", "webhooks:read"))
    with pytest.raises(InvalidInput) as caught:
        create(alice, key, event_types=[TOUCHED, ORDERED])
    assert "orders:read" in caught.value.message and ORDERED in caught.value.message
    assert caught.value.details["scopes"] == ["orders:read"]
    assert not Subscription.objects.exists()


@pytest.mark.parametrize("types", [[], None, "member.joined"])
def test_empty_types_are_refused(alice, integration, types):
    with pytest.raises(InvalidInput) as caught:
        create(alice, integration(), event_types=types)
    assert "event_types" in caught.value.details


def test_a_refused_url_gives_its_reason_on_the_url_field(alice, integration):
    with pytest.raises(InvalidInput) as caught:
        create(alice, integration(), url="ftp://93.184.216.34/x")
    assert caught.value.details["url"] == ["Only http:// and https:// URLs can receive webhooks."]


def test_a_name_is_required(alice, integration):
    with pytest.raises(InvalidInput) as caught:
        create(alice, integration(), name="  ")
    assert "name" in caught.value.details


def test_an_operator_must_name_the_integration_and_a_revoked_one_is_refused(alice, integration):
    with pytest.raises(InvalidInput) as caught:
        create(alice, None)
    assert "api_key" in caught.value.details
    key = integration()
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    with pytest.raises(InvalidInput) as caught:
        create(alice, key)
    assert "revoked" in caught.value.message


def test_a_store_bound_key_is_limited_to_its_store_whatever_is_asked(integration, store_a, store_b):
    key = integration(store=store_a)
    actor = ApiPrincipal(integration(scopes=("webhooks:write", "members:read"), store=store_a))
    with pytest.raises(InvalidInput) as caught:
        services.create_subscription(actor=actor, name="x", url=URL, event_types=[TOUCHED], store=store_b)
    assert "SH01" in caught.value.message and "store" in caught.value.details
    made = services.create_subscription(actor=actor, name="x", url=URL, event_types=[TOUCHED])
    assert made.subscription.store == store_a and made.subscription.api_key == actor.api_key
    assert key.pk != actor.api_key.pk


def test_a_key_subscribes_itself_only(integration):
    actor = ApiPrincipal(integration(scopes=("webhooks:write", "members:read")))
    with pytest.raises(InvalidInput) as caught:
        services.create_subscription(actor=actor, api_key=integration(), name="x", url=URL, event_types=[TOUCHED])
    assert "api_key" in caught.value.details


def test_writing_needs_the_webhooks_write_scope(integration, carol, bob):
    reader = ApiPrincipal(integration(scopes=("webhooks:read", "members:read")))
    for actor in (reader, carol, bob):
        with pytest.raises(Forbidden):
            services.create_subscription(actor=actor, name="x", url=URL, event_types=[TOUCHED])


def test_a_key_has_a_bounded_number_of_subscriptions(alice, integration, subscribe):
    key = integration()
    for i in range(services.MAX_SUBSCRIPTIONS_PER_KEY):
        subscribe(URL, key=key, name=f"s{i}")
    with pytest.raises(Conflict):
        create(alice, key)


# --- update, owners, pause, resume ----------------------------------------------------------------


def test_update_checks_like_create_and_changes_nothing_on_refusal(alice, integration):
    sub = create(alice, integration(scopes=("members:read",))).subscription
    with pytest.raises(InvalidInput):
        services.update_subscription(actor=alice, subscription=sub, name="renamed", event_types=[ORDERED])
    sub.refresh_from_db()
    assert (sub.name, sub.event_types) == ("warehouse", [TOUCHED])
    services.update_subscription(actor=alice, subscription=sub, name="renamed", url="http://127.0.0.1:9000/h")
    sub.refresh_from_db()
    assert (sub.name, sub.url, sub.event_types) == ("renamed", "http://127.0.0.1:9000/h", [TOUCHED])


def test_another_keys_subscription_is_not_found(integration, subscribe):
    mine = ApiPrincipal(integration(scopes=("webhooks:write", "members:read")))
    theirs = subscribe(URL)
    for call in (services.pause, services.resume, services.rotate_secret, services.ping, services.delete_subscription):
        with pytest.raises(NotInScope):
            call(actor=mine, subscription=theirs)
    assert Subscription.objects.filter(pk=theirs.pk, state="active").exists()


def test_pause_and_resume_are_idempotent_and_resume_clears_failing_since(alice, subscribe):
    sub = subscribe(URL, failing_since=timezone.now() - dt.timedelta(hours=3))
    services.pause(actor=alice, subscription=sub, reason="maintenance")
    services.pause(actor=alice, subscription=sub, reason="again")
    sub.refresh_from_db()
    assert (sub.state, sub.paused_reason) == ("paused", "maintenance")
    services.resume(actor=alice, subscription=sub)
    sub.refresh_from_db()
    assert (sub.state, sub.paused_reason, sub.paused_at, sub.failing_since) == ("active", "", None, None)
    assert AuditLog.objects.filter(action="webhook.pause").count() == 1


def test_delete_takes_the_deliveries_and_leaves_the_events(alice, subscribe):
    sub = subscribe(URL)
    services.ping(actor=alice, subscription=sub)
    services.delete_subscription(actor=alice, subscription=sub)
    assert not Delivery.objects.exists() and Event.objects.filter(type="ping").count() == 1


# --- secrets ------------------------------------------------------------------------------------


def test_rotation_keeps_the_previous_secret_signing_for_24_hours(alice, subscribe):
    sub = subscribe(URL)
    old = sub.secret
    now = timezone.now()
    new = services.rotate_secret(actor=alice, subscription=sub, now=now)
    sub.refresh_from_db()
    assert new != old and sub.secret == new and sub.previous_secret == old
    assert sub.previous_secret_until == now + dt.timedelta(hours=24)
    assert sending.signing_secrets(sub, now=now + dt.timedelta(hours=23)) == (new, old)
    assert sending.signing_secrets(sub, now=now + dt.timedelta(hours=25)) == (new,)
    headers = sending.headers(event_id=1, event_type="ping", attempt=1, body=b"{}",
                              secrets=sending.signing_secrets(sub, now=now))
    assert headers["Siyu-Signature"].count("v1=") == 2


# --- ping ---------------------------------------------------------------------------------------


def test_ping_creates_one_relayed_event_and_one_delivery_for_this_subscription_only(alice, subscribe):
    sub = subscribe(URL)
    other = subscribe(URL)
    delivery = services.ping(actor=alice, subscription=sub)
    event = Event.objects.get(type="ping")
    assert event.relayed and event.data == {"subscription": {"id": sub.pk}}
    assert list(Delivery.objects.values_list("subscription_id", "event_id", "state")) == [
        (sub.pk, event.pk, "pending")]
    assert delivery.event_id == event.pk and not Delivery.objects.filter(subscription=other).exists()


def test_a_paused_subscription_cannot_be_pinged(alice, subscribe):
    sub = subscribe(URL, state="paused")
    with pytest.raises(Conflict):
        services.ping(actor=alice, subscription=sub)
    assert not Event.objects.filter(type="ping").exists()


# --- redeliver and replay -------------------------------------------------------------------------


def _emit(n, *, store=None, code=TOUCHED, at=None):
    events.emit_many(code, [(i + 1, store.pk if store else None, {"n": i}) for i in range(n)], at=at)
    return list(Event.objects.filter(type=code).order_by("id"))


def _deliver(sub, evs, state, attempts=3):
    old = timezone.now() - dt.timedelta(hours=30)
    return Delivery.objects.bulk_create([
        Delivery(subscription=sub, event=e, member_id=e.member_id, state=state, attempts=attempts,
                 created_at=old, next_attempt_at=old, last_status=503) for e in evs])


def test_redeliver_sends_parked_ones_again_all_or_chosen(alice, subscribe):
    sub = subscribe(URL)
    other = subscribe(URL)
    evs = _emit(6)
    parked = _deliver(sub, evs[:4], "parked")
    _deliver(sub, evs[4:], "delivered", attempts=1)
    _deliver(other, evs[:2], "parked")
    assert services.redeliver(actor=alice, subscription=sub, ids=[parked[0].pk, parked[1].pk, 10**9]) == 2
    rows = dict(Delivery.objects.filter(subscription=sub).values_list("id", "state"))
    assert [rows[p.pk] for p in parked] == ["pending", "pending", "parked", "parked"]
    fresh = Delivery.objects.get(pk=parked[0].pk)
    assert fresh.attempts == 0 and fresh.created_at > timezone.now() - dt.timedelta(minutes=1)
    assert services.redeliver(actor=alice, subscription=sub) == 2
    assert Delivery.objects.filter(subscription=sub, state="pending").count() == 4
    assert Delivery.objects.filter(subscription=other, state="parked").count() == 2


@pytest.mark.parametrize("ids", [[], ["x"], [0], [True], list(range(1, 1002))])
def test_redeliver_refuses_bad_ids(alice, subscribe, ids):
    with pytest.raises(InvalidInput) as caught:
        services.redeliver(actor=alice, subscription=subscribe(URL), ids=ids)
    assert "ids" in caught.value.details


def test_replay_requeues_what_it_had_and_adds_what_it_may_hear(alice, integration, subscribe, store_a, store_b):
    key = integration(scopes=("members:read",))
    sub = subscribe(URL, key=key, types=[TOUCHED, ORDERED], store=store_a)
    a = _emit(3, store=store_a)
    _emit(2, store=store_b)  # another store's
    _emit(2, store=store_a, code=ORDERED)  # a type its key may not hear (no orders:read)
    _deliver(sub, a[:1], "delivered", attempts=1)
    _deliver(sub, a[1:2], "parked")
    result = services.replay(actor=alice, subscription=sub, after_id=0)
    assert (result.requeued, result.created) == (2, 1)
    got = Delivery.objects.filter(subscription=sub).order_by("event_id")
    assert [(d.event_id, d.state, d.attempts, d.delivered_at) for d in got] == [
        (e.pk, "pending", 0, None) for e in a]
    again = services.replay(actor=alice, subscription=sub, after_id=a[1].pk)
    assert (again.requeued, again.created) == (1, 0)


def test_replay_since_a_time_within_retention(alice, subscribe):
    sub = subscribe(URL)
    now = timezone.now()
    _emit(2, at=now - dt.timedelta(days=2))
    recent = _emit(3, at=now - dt.timedelta(hours=1))[2:]
    result = services.replay(actor=alice, subscription=sub, since=now - dt.timedelta(hours=2))
    assert (result.requeued, result.created) == (0, 3)
    assert sorted(Delivery.objects.values_list("event_id", flat=True)) == [e.pk for e in recent]
    with pytest.raises(InvalidInput) as caught:
        services.replay(actor=alice, subscription=sub, since=now - dt.timedelta(days=400))
    assert "since" in caught.value.details and "kept" in caught.value.message


@pytest.mark.parametrize("kwargs, field", [
    ({}, "after"), ({"after_id": 1, "since": timezone.now()}, "since"), ({"after_id": -1}, "after"),
    ({"after_id": "12"}, "after"), ({"since": dt.datetime(2026, 1, 1)}, "since"),
])
def test_replay_refuses_a_bad_point(alice, subscribe, kwargs, field):
    with pytest.raises(InvalidInput) as caught:
        services.replay(actor=alice, subscription=subscribe(URL), **kwargs)
    assert field in caught.value.details


def test_replay_beyond_its_bound_is_refused_and_queues_nothing(alice, subscribe, monkeypatch):
    sub = subscribe(URL)
    _emit(5)
    monkeypatch.setattr(services, "MAX_REPLAY", 4)
    with pytest.raises(InvalidInput) as caught:
        services.replay(actor=alice, subscription=sub, after_id=0)
    assert "4" in caught.value.message and not Delivery.objects.exists()


def test_a_system_actor_may_manage(subscribe):
    sub = subscribe(URL)
    services.pause(actor=SystemActor("rule:test"), subscription=sub)
    sub.refresh_from_db()
    assert sub.state == "paused"


def test_the_demo_seeds_its_integration_and_subscription_once(monkeypatch, stores):
    from webhooks import demo

    monkeypatch.setenv("SIYU_DEMO_EVENT_RECEIVER_URL", "http://127.0.0.1:8034/demo")
    monkeypatch.setenv("SIYU_DEMO_EVENT_RECEIVER_SECRET", "whsec_demo_receiver_secret_0001")
    monkeypatch.setattr(demo, "TYPES", (TOUCHED, ORDERED, "no.such.type"))
    first = demo.seed()
    assert "new" in first
    sub = Subscription.objects.get()
    assert sub.api_key.name == demo.KEY_NAME and sub.url == "http://127.0.0.1:8034/demo"
    assert sorted(sub.event_types) == sorted([TOUCHED, ORDERED]) and sub.secret == "whsec_demo_receiver_secret_0001"
    monkeypatch.setenv("SIYU_DEMO_EVENT_RECEIVER_SECRET", "whsec_demo_receiver_secret_0002")
    demo.seed()  # the receiver restarted with a new secret
    sub = Subscription.objects.get()
    assert sub.secret == "whsec_demo_receiver_secret_0002"
    assert "members:read" in sub.api_key.scopes


def test_the_demo_without_a_receiver_makes_the_key_only(monkeypatch, db):
    from webhooks import demo

    monkeypatch.delenv("SIYU_DEMO_EVENT_RECEIVER_URL", raising=False)
    assert "not set" in demo.seed()
    assert not Subscription.objects.exists()
    from scrm.models import ApiKey

    assert ApiKey.objects.filter(name=demo.KEY_NAME).count() == 1
