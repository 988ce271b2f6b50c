"""The webhooks screens in a real Chromium: an operator creates a subscription (event types ticked
in their groups), sees the signing secret once, sends a test ping and sees its delivery, then finds
the subscription listed with its figures; the list and the subscription's page at 390 px. No page
scrolls sideways and none logs a script error (a Content-Security-Policy refusal included)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.browsing import DESKTOP, OVERFLOW, PHONE, login
from tests.webhooks.conftest import ORDERED, TOUCHED
from webhooks.models import Delivery, Subscription

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
URL = "http://127.0.0.1:8999/hook"


def watch(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def test_an_operator_subscribes_sees_the_secret_once_and_pings(browser, live_server, alice, integration, shot):
    key = integration(name="Data warehouse")
    ctx, page = login(browser, live_server, "alice", **DESKTOP)
    errors = watch(page)
    page.goto(f"{live_server.url}/webhooks/")
    page.get_by_test_id("new-subscription").click()
    page.wait_for_load_state("networkidle")
    page.select_option("#id_api_key", str(key.pk))
    page.fill("#id_name", "Warehouse feed")
    page.fill("#id_url", "ftp://93.184.216.34/x")
    page.locator(f"input[name=event_types][value='{TOUCHED}']").check()
    page.get_by_test_id("save").click()
    page.wait_for_load_state("networkidle")
    assert "Only http" in page.get_by_test_id("field-url").inner_text()
    assert page.locator(f"input[name=event_types][value='{TOUCHED}']").is_checked()
    page.fill("#id_url", URL)
    page.locator(f"input[name=event_types][value='{ORDERED}']").check()
    shot(page, "webhooks-form-1280")
    page.get_by_test_id("save").click()
    page.wait_for_load_state("networkidle")
    sub = Subscription.objects.get()
    assert page.url.endswith(f"/webhooks/{sub.pk}/")
    assert page.get_by_test_id("secret").inner_text().strip() == sub.secret
    assert sorted(sub.event_types) == sorted([TOUCHED, ORDERED])
    shot(page, "webhooks-detail-secret-1280")

    page.get_by_test_id("ping").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("new-secret").count() == 0  # shown once only
    ping = Delivery.objects.get(subscription=sub)
    row = page.get_by_test_id(f"delivery-{ping.pk}")
    assert row.get_attribute("data-state") == "pending" and "ping" in row.inner_text()
    Delivery.objects.filter(pk=ping.pk).update(state="delivered", attempts=1, last_status=200,
                                               delivered_at=timezone.now(), latency_ms=42)
    page.reload()
    assert page.get_by_test_id("fig-delivered").inner_text() == "1"
    page.get_by_test_id("state-filter").select_option("parked")
    page.get_by_text("No deliveries here yet.").wait_for()
    assert "state=parked" in page.url

    page.goto(f"{live_server.url}/webhooks/")
    listed = page.get_by_test_id(f"subscription-{sub.pk}")
    assert "Warehouse feed" in listed.inner_text() and "Data warehouse" in listed.inner_text()
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "webhooks-list-1280")
    assert errors == []
    ctx.close()


def test_the_list_and_a_subscriptions_page_fit_a_phone(browser, live_server, alice, subscribe, shot):
    sub = subscribe("http://127.0.0.1:8999/a-rather-long-path/for/the/warehouse/receiver?token=abcdef", name="feed")
    subscribe(URL, name="paused feed", state="paused", paused_reason="the receiver answered 410 Gone")
    ctx, page = login(browser, live_server, "alice", **PHONE)
    errors = watch(page)
    page.goto(f"{live_server.url}/webhooks/")
    assert page.get_by_test_id(f"subscription-{sub.pk}").count() == 1
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "webhooks-list-390")
    page.goto(f"{live_server.url}/webhooks/{sub.pk}/")
    page.get_by_test_id("ping").click()
    page.wait_for_load_state("networkidle")
    assert Delivery.objects.filter(subscription=sub).count() == 1
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "webhooks-detail-390")
    page.goto(f"{live_server.url}/webhooks/new/")
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "webhooks-form-390")
    assert errors == []
    ctx.close()
