"""The events page (operators only: counts by status, filters, htmx rows, fields with ids only, the
idempotent "retry failed") and the events API (scope `wecom`, cursor pages, the FilterSet)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from wecom.models import CallbackEvent, EventStatus
from wecom.services import events

pytestmark = pytest.mark.django_db


def _event(n: int, *, status=EventStatus.PENDING, event="change_external_contact", change="add_external_contact",
           **fields) -> CallbackEvent:
    payload = {"Event": event, "ChangeType": change, "UserID": "sh01_staff1", "ExternalUserID": f"wmEXT{n:03}",
               "CreateTime": "1764640000", **fields}
    row = events.store_event(payload, raw_digest=hashlib.sha256(f"{n}{payload}".encode()).hexdigest())
    CallbackEvent.objects.filter(pk=row.pk).update(status=status)
    row.refresh_from_db()
    return row


@pytest.fixture
def rows():
    return {
        "pending": _event(1),
        "done": _event(2, status=EventStatus.DONE, change="edit_external_contact"),
        "ignored": _event(3, status=EventStatus.IGNORED, event="change_unheard_of", change="x"),
        "failed": _event(4, status=EventStatus.FAILED, Name="王女士", WelcomeCode="one-time"),
    }


@pytest.mark.parametrize("who, status", [("alice", 200), ("bob", 403), ("carol", 403), ("dave", 403)])
def test_the_events_page_is_for_operators(client, request, rows, who, status):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("wecom-event-list")).status_code == status
    answer = client.post(reverse("wecom-event-retry"))
    assert answer.status_code == (302 if status == 200 else 403)


def test_anonymous_visitors_are_sent_to_login(client, rows):
    assert client.get(reverse("wecom-event-list")).status_code == 302
    assert client.post(reverse("wecom-event-retry")).status_code == 302
    assert CallbackEvent.objects.get(pk=rows["failed"].pk).status == EventStatus.FAILED


def test_the_page_counts_by_status_and_shows_ids_but_nothing_else_personal(client, alice, rows):
    client.force_login(alice)
    page = client.get(reverse("wecom-event-list")).content.decode()
    for status in EventStatus.values:
        assert f'data-testid="count-{status}">1<' in page
    assert "wmEXT004" in page and "sh01_staff1" in page
    assert "王女士" not in page and "one-time" not in page and "Name=" in page
    assert "No handler for this event type" not in page  # the ignored row has no reason stored yet
    assert 'data-testid="retry-failed"' in page
    assert "Callback events" in page  # the sidebar link


def test_filters_and_the_htmx_partial(client, alice, rows):
    client.force_login(alice)
    url = reverse("wecom-event-list")
    failed = client.get(url, {"status": "failed"}, HTTP_HX_REQUEST="true")
    body = failed.content.decode()
    assert "<html" not in body and f'data-testid="event-{rows["failed"].pk}"' in body
    assert f'data-testid="event-{rows["pending"].pk}"' not in body
    edits = client.get(url, {"change_type": "edit_external_contact"}).content.decode()
    assert f'data-testid="event-{rows["done"].pk}"' in edits
    assert f'data-testid="event-{rows["pending"].pk}"' not in edits
    by_event = client.get(url, {"event": "change_unheard_of"}).content.decode()
    assert f'data-testid="event-{rows["ignored"].pk}"' in by_event
    CallbackEvent.objects.filter(pk=rows["done"].pk).update(received_at=timezone.now() - timedelta(days=3))
    today = timezone.localdate().isoformat()
    recent = client.get(url, {"received_from": today}).content.decode()
    assert f'data-testid="event-{rows["done"].pk}"' not in recent
    assert f'data-testid="event-{rows["pending"].pk}"' in recent
    old = client.get(url, {"received_to": (timezone.localdate() - timedelta(days=2)).isoformat()}).content.decode()
    assert f'data-testid="event-{rows["done"].pk}"' in old and f'data-testid="event-{rows["pending"].pk}"' not in old


def test_an_ignored_events_reason_is_worded(client, alice):
    row = _event(9, event="change_unheard_of")
    events.process_event(row.pk)
    client.force_login(alice)
    assert "No handler for this event type" in client.get(reverse("wecom-event-list")).content.decode()


def test_retry_failed_is_idempotent(client, alice, rows):
    client.force_login(alice)
    first = client.post(reverse("wecom-event-retry"), follow=True)
    assert "1 failed event will be processed again." in first.content.decode()
    assert CallbackEvent.objects.get(pk=rows["failed"].pk).status == EventStatus.PENDING
    second = client.post(reverse("wecom-event-retry"), follow=True)
    assert "No failed events to retry." in second.content.decode()
    assert client.get(reverse("wecom-event-retry")).status_code == 405


def test_the_page_reads_a_fixed_number_of_queries(client, alice, rows, django_assert_max_num_queries):
    client.force_login(alice)
    url = reverse("wecom-event-list")
    client.get(url)
    for n in range(10, 40):
        _event(n)
    with django_assert_max_num_queries(12):
        assert client.get(url).status_code == 200


def _bulk(n: int, *, status=EventStatus.DONE, start: int = 0) -> None:
    now = timezone.now()
    CallbackEvent.objects.bulk_create(
        [CallbackEvent(digest=f"bulk{status}{start + i:08d}", event="change_external_contact",
                       change_type="edit_external_contact", status=status, received_at=now,
                       payload={"ExternalUserID": f"wmBULK{start + i}"}) for i in range(n)],
        batch_size=5000,
    )


def _sql(queries) -> list[str]:
    return [q["sql"].upper() for q in queries.captured_queries]


def test_counts_are_capped_and_no_request_counts_the_whole_table(client, alice, rows, settings, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(events, "COUNT_CAP", 30)
    _bulk(31)  # 32 processed: past the cap
    client.force_login(alice)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("wecom-event-list")).content.decode()
    assert 'data-testid="count-done">30+<' in page
    assert 'data-testid="count-failed">1<' in page and 'data-testid="count-pending">1<' in page
    counts = [q for q in _sql(queries) if "COUNT(" in q]
    assert counts and all("LIMIT 31" in q for q in counts), counts  # each count stops at the cap + 1
    assert len(counts) == len(EventStatus.values)


def test_the_page_goes_older_and_newer_by_id_keeping_the_filters(client, alice, rows):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _bulk(120, start=0)
    newest = list(CallbackEvent.objects.filter(status=EventStatus.DONE).order_by("-id").values_list("pk", flat=True))
    client.force_login(alice)
    url = reverse("wecom-event-list")
    first = client.get(url, {"status": "done"})
    shown = [e.pk for e in first.context["object_list"]]
    assert shown == newest[:50]
    page = first.content.decode()
    assert f"status=done&amp;before={newest[49]}" in page and 'data-testid="newer"' not in page
    with CaptureQueriesContext(connection) as queries:
        second = client.get(url, {"status": "done", "before": newest[49]})
    assert [e.pk for e in second.context["object_list"]] == newest[50:100]
    assert not [q for q in _sql(queries) if "COUNT(" in q and "LIMIT" not in q]
    third = client.get(url, {"status": "done", "before": newest[99]})
    assert [e.pk for e in third.context["object_list"]] == newest[100:]
    assert 'data-testid="older"' not in third.content.decode()
    back = client.get(url, {"status": "done", "after": newest[100]})
    assert [e.pk for e in back.context["object_list"]] == newest[50:100]
    assert f"after={newest[50]}" in back.content.decode()
    top = client.get(url, {"status": "done", "after": newest[50]})
    assert [e.pk for e in top.context["object_list"]] == newest[:50]
    assert 'data-testid="newer"' not in top.content.decode()
    assert client.get(url, {"before": "nonsense"}).status_code == 200  # a bad id reads as the first page


def test_the_htmx_rows_bring_their_pager(client, alice, rows):
    _bulk(60)
    client.force_login(alice)
    rows_only = client.get(reverse("wecom-event-list"), {"status": "done"}, HTTP_HX_REQUEST="true").content.decode()
    assert '<template><nav class="pager" id="event-pager"' in rows_only and 'hx-swap-oob="true"' in rows_only
    assert "status=done&amp;before=" in rows_only


# --- API ----------------------------------------------------------------------------------------


def test_the_api_lists_and_shows_events_for_the_wecom_scope(key_client, rows):
    api = key_client(scopes=["wecom:read"])
    answer = api.get("/api/v1/wecom/events/")
    assert answer.status_code == 200
    listed = answer.json()["results"]
    assert [e["id"] for e in listed] == sorted((r.pk for r in rows.values()), reverse=True)
    failed = api.get(f"/api/v1/wecom/events/{rows['failed'].pk}/").json()
    assert failed["status"] == "failed" and failed["fields_shown"]["ExternalUserID"] == "wmEXT004"
    assert failed["fields_shown"]["Name"] == failed["fields_shown"]["WelcomeCode"] == events.WITHHELD
    assert "payload" not in failed
    only = api.get("/api/v1/wecom/events/", {"status": "ignored"}).json()["results"]
    assert [e["id"] for e in only] == [rows["ignored"].pk]
    assert api.get("/api/v1/wecom/events/", {"status": "nonsense"}).status_code == 400
    assert api.get("/api/v1/wecom/events/999999/").status_code == 404


def test_the_api_pages_with_a_cursor(key_client, rows):
    api = key_client(scopes=["wecom:read"])
    first = api.get("/api/v1/wecom/events/", {"page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    second = api.get(first["next"]).json()
    assert {e["id"] for e in first["results"]}.isdisjoint({e["id"] for e in second["results"]})
    assert "cursor=" in first["next"]


def test_the_api_list_reads_a_fixed_number_of_queries(key_client, rows, django_assert_max_num_queries):
    api = key_client(scopes=["wecom:read"])
    api.get("/api/v1/wecom/events/")
    for n in range(10, 40):
        _event(n)
    with django_assert_max_num_queries(8):
        assert api.get("/api/v1/wecom/events/").status_code == 200


def test_the_api_refuses_without_the_scope_and_for_store_roles(key_client, api_client, bob, carol, rows, store_a):
    assert key_client(scopes=["members:read"]).get("/api/v1/wecom/events/").status_code == 403
    store_key = key_client(scopes=["members:read"], store=store_a)
    assert store_key.get("/api/v1/wecom/events/").status_code == 403
    assert store_key.get(f"/api/v1/wecom/events/{rows['failed'].pk}/").status_code in (403, 404)
    api_client.credentials()
    for user in (bob, carol):
        api_client.force_authenticate(user)
        assert api_client.get("/api/v1/wecom/events/").status_code == 403
        assert api_client.get(f"/api/v1/wecom/events/{rows['failed'].pk}/").status_code == 403


def test_a_store_bound_key_with_the_wecom_scope_is_refused(key_client, rows, store_a):
    api = key_client(scopes=["wecom:read"], store=store_a)
    assert api.get("/api/v1/wecom/events/").status_code == 403
    assert api.get(f"/api/v1/wecom/events/{rows['failed'].pk}/").status_code == 403


def test_the_api_list_counts_nothing(key_client, rows):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _bulk(30)
    api = key_client(scopes=["wecom:read"])
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/api/v1/wecom/events/", {"page_size": 10}).status_code == 200
    assert not [q for q in _sql(queries) if "COUNT(" in q]
