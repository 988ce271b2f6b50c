"""The webhooks screens: alice the operator lists, creates, pings, rotates, pauses and resumes;
bob, carol and dave (store roles) are refused; the form shows the services' refusals by the field;
the overview tells operators about paused subscriptions, only when there is one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scrm.models import Event
from tests.webhooks.conftest import ORDERED, TOUCHED
from webhooks.models import Delivery, Subscription

pytestmark = pytest.mark.django_db
URL = "http://127.0.0.1:8999/hook"


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


def test_store_roles_are_refused_every_screen(client, bob, carol, dave, subscribe):
    sub = subscribe(URL)
    for user in (bob, carol, dave):
        client.force_login(user)
        for name, kwargs in (("webhook-list", {}), ("webhook-create", {}), ("webhook-detail", {"pk": sub.pk}),
                             ("webhook-edit", {"pk": sub.pk})):
            assert client.get(reverse(name, kwargs=kwargs)).status_code == 403, (user.username, name)
        assert client.post(reverse("webhook-ping", kwargs={"pk": sub.pk})).status_code == 403
    assert not Delivery.objects.exists()


def test_signed_out_goes_to_login(client):
    response = client.get(reverse("webhook-list"))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_alice_sees_the_list_with_figures_and_state(as_alice, subscribe):
    active = subscribe(URL, name="warehouse")
    paused = subscribe(URL, name="crm", state="paused", paused_reason="the receiver answered 410 Gone")
    Event.objects.create(type=TOUCHED, data={})
    Delivery.objects.create(subscription=active, event=Event.objects.get(), state="parked", attempts=3)
    response = as_alice.get(reverse("webhook-list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "warehouse" in html and "crm" in html and "410 Gone" in html
    rows = {s.pk: s for s in response.context["rows"]}
    assert rows[active.pk].figures.parked == 1 and rows[paused.pk].figures.parked == 0
    assert 'data-testid="how-to-verify"' in html


def test_alice_creates_a_subscription_and_sees_the_secret_once(as_alice, integration):
    key = integration()
    response = as_alice.post(reverse("webhook-create"), {"api_key": key.pk, "name": "warehouse", "url": URL,
                                                         "event_types": [TOUCHED, ORDERED]})
    sub = Subscription.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("webhook-detail", kwargs={"pk": sub.pk})
    page = as_alice.get(response["Location"]).content.decode()
    assert sub.secret in page and 'data-testid="new-secret"' in page
    again = as_alice.get(response["Location"]).content.decode()
    assert sub.secret not in again
    assert sorted(sub.event_types) == sorted([TOUCHED, ORDERED]) and sub.api_key == key


def test_the_form_shows_refusals_beside_the_field(as_alice, integration):
    narrow = integration(scopes=("members:read",), name="narrow")
    cases = [
        ({"url": "ftp://93.184.216.34/x"}, "url", "Only http"),
        ({"event_types": [ORDERED]}, "event_types", "orders:read"),
        ({"event_types": []}, "event_types", "required"),
        ({"name": ""}, "name", "required"),
    ]
    for change, field, words in cases:
        data = {"api_key": narrow.pk, "name": "x", "url": URL, "event_types": [TOUCHED], **change}
        response = as_alice.post(reverse("webhook-create"), data)
        assert response.status_code == 200, change
        errors = response.context["form"].errors
        assert field in errors and words in " ".join(errors[field]), (change, errors)
    assert not Subscription.objects.exists()
    page = as_alice.get(reverse("webhook-create")).content.decode()
    assert TOUCHED in page and 'name="event_types"' in page and "members" in page.lower()


def test_alice_edits_a_subscription(as_alice, subscribe):
    sub = subscribe(URL)
    response = as_alice.post(reverse("webhook-edit", kwargs={"pk": sub.pk}),
                             {"name": "renamed", "url": "http://127.0.0.1:9001/x", "event_types": [TOUCHED]})
    assert response.status_code == 302
    sub.refresh_from_db()
    assert (sub.name, sub.url) == ("renamed", "http://127.0.0.1:9001/x")


def test_ping_rotate_pause_resume_redeliver_delete_from_the_page(as_alice, subscribe):
    sub = subscribe(URL)
    detail = reverse("webhook-detail", kwargs={"pk": sub.pk})
    assert as_alice.post(reverse("webhook-ping", kwargs={"pk": sub.pk}))["Location"] == detail
    ping = Delivery.objects.get(subscription=sub)
    assert ping.event.type == "ping"
    page = as_alice.get(detail)
    assert f'data-testid="delivery-{ping.pk}"' in page.content.decode()
    old = sub.secret
    as_alice.post(reverse("webhook-rotate", kwargs={"pk": sub.pk}))
    sub.refresh_from_db()
    assert sub.previous_secret == old and sub.secret in as_alice.get(detail).content.decode()
    as_alice.post(reverse("webhook-pause", kwargs={"pk": sub.pk}))
    sub.refresh_from_db()
    assert sub.state == "paused"
    refused = as_alice.post(reverse("webhook-ping", kwargs={"pk": sub.pk}), follow=True)
    assert "paused" in refused.content.decode() and Delivery.objects.count() == 1
    as_alice.post(reverse("webhook-resume", kwargs={"pk": sub.pk}))
    sub.refresh_from_db()
    assert sub.state == "active"
    Delivery.objects.filter(pk=ping.pk).update(state="parked", attempts=9, last_status=500, last_error="boom")
    parked = as_alice.get(detail, {"state": "parked"})
    assert [d.pk for d in parked.context["object_list"]] == [ping.pk] and "boom" in parked.content.decode()
    assert [d.pk for d in as_alice.get(detail, {"state": "delivered"}).context["object_list"]] == []
    as_alice.post(reverse("webhook-redeliver", kwargs={"pk": sub.pk}), {"ids": [ping.pk]})
    assert Delivery.objects.get(pk=ping.pk).state == "pending"
    gone = as_alice.post(reverse("webhook-delete", kwargs={"pk": sub.pk}))
    assert gone["Location"] == reverse("webhook-list") and not Subscription.objects.exists()


def test_the_deliveries_partial_answers_htmx(as_alice, subscribe):
    sub = subscribe(URL)
    response = as_alice.get(reverse("webhook-detail", kwargs={"pk": sub.pk}), {"state": "pending"},
                            HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "webhooks/_deliveries.html"


def test_the_overview_tells_operators_about_paused_subscriptions_only_when_there_is_one(as_alice, subscribe):
    sub = subscribe(URL, name="crm")
    assert 'data-testid="webhooks-paused"' not in as_alice.get(reverse("home")).content.decode()
    Subscription.objects.filter(pk=sub.pk).update(state="paused", paused_reason="every delivery failed for 24 hours")
    page = as_alice.get(reverse("home")).content.decode()
    assert 'data-testid="webhooks-paused"' in page and "every delivery failed for 24 hours" in page


def test_the_overview_shows_store_roles_nothing_of_webhooks(client, bob, subscribe):
    subscribe(URL, state="paused", paused_reason="gone")
    client.force_login(bob)
    assert 'data-testid="webhooks-paused"' not in client.get(reverse("home")).content.decode()


def test_the_list_takes_the_same_number_of_queries_however_many_rows(as_alice, subscribe):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert as_alice.get(reverse("webhook-list")).status_code == 200
        return len(captured)

    subscribe(URL, name="s0")
    few = count()
    for i in range(1, 6):
        subscribe(URL, name=f"s{i}")
    assert count() == few
