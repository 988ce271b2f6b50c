"""Group campaigns through the REST API (/api/v1/group-campaigns/) against the local WeCom server: an
integrator writes one to chosen groups and owners, approves it, sends it with an Idempotency-Key (a
retry answers the first result and fans out once), the tick makes one WeCom task per owner, and
cancelling cancels the tasks; a body naming an unknown group, another store's group or owner, a text
over WeCom's limit or with personal fields, or a past schedule is a 400 naming the field and writes
nothing; a store manager's account and a store-bound key write to and see their store's only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Campaign, GroupAudience, GroupDelivery, WecomMassTask
from tests.campaigns.test_group_messages import groups_of  # noqa: F401 - the synced local server's groups
from tests.campaigns.wecom import CREATE, TEXT
from wecom.models import CustomerGroup

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/group-campaigns/"


def _post(client, path, body=None, key=None):
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(path, body if body is not None else {}, format="json", **extra)


def test_an_integrator_writes_approves_sends_and_cancels_a_group_campaign(groups_of, alice, store_b,  # noqa: F811
                                                                           api_client, wstaff):
    server = groups_of()
    api_client.force_authenticate(alice)
    daves = list(CustomerGroup.objects.filter(owner_userid="dave").order_by("pk").values_list("pk", flat=True))
    made = _post(api_client, URL, {"name": "周末骑行", "content": TEXT, "owners": ["carol"], "groups": [daves[0]]})
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["status"] == "draft" and body["channel"] == "wecom_group" and body["store"] is None
    assert body["audience"] == {"groups": [daves[0]], "owners": ["carol"], "store": None}
    assert body["counts"]["total"] == 0
    campaign_id = body["id"]
    assert GroupAudience.objects.get(campaign_id=campaign_id).owner_ids == [wstaff["carol"].pk]

    assert _post(api_client, f"{URL}{campaign_id}/approve/").json()["status"] == "approved"
    sent = _post(api_client, f"{URL}{campaign_id}/send/", key="bi-run-0042")
    assert sent.status_code == 200, sent.content
    assert sent.json()["status"] == "sending" and sent.json()["counts"]["pending"] == 3  # carol's 2 and dave's 1
    again = _post(api_client, f"{URL}{campaign_id}/send/", key="bi-run-0042")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true" and again.json() == sent.json()
    assert GroupDelivery.objects.filter(campaign_id=campaign_id).count() == 3

    from campaigns.services import sending

    sending.tick()
    assert server.calls(CREATE) == 2  # one task per owner
    read = api_client.get(f"{URL}{campaign_id}/").json()
    assert read["counts"]["accepted"] + read["counts"]["sent"] == 3
    listed = api_client.get(URL, {"status": "sending"}).json()["results"]
    assert [c["id"] for c in listed] == [campaign_id]
    assert api_client.get(URL, {"status": "nope"}).status_code == 400

    cancelled = _post(api_client, f"{URL}{campaign_id}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert not WecomMassTask.objects.filter(campaign_id=campaign_id, next_poll_at__isnull=True,
                                            finished_at__isnull=True).exists()  # due for cancelling in WeCom
    # Other campaigns are not group campaigns' routes.
    other = Campaign.objects.create(name="mass", channel="outbox", content="x")
    assert api_client.get(f"{URL}{other.pk}/").status_code == 404


def test_bad_bodies_are_400s_naming_the_field_and_write_nothing(groups_of, alice, bob, api_client,  # noqa: F811
                                                               store_b, wstaff, settings):
    groups_of()
    theirs = CustomerGroup.objects.filter(store=store_b).first()
    ours = CustomerGroup.objects.exclude(store=store_b).first()
    dismissed = CustomerGroup.objects.exclude(store=store_b).exclude(pk=ours.pk).first()
    CustomerGroup.objects.filter(pk=dismissed.pk).update(dismissed_at=timezone.now())
    api_client.force_authenticate(bob)  # store A's manager
    before = Campaign.objects.count()

    def refused(body, field, *words):
        answer = _post(api_client, URL, {"name": "门店福利", "content": TEXT, **body})
        assert answer.status_code == 400, answer.content
        details = answer.json()["error"]["details"]
        assert field in details, details
        text = " ".join(details[field])
        assert all(w in text for w in words), text
        return details

    refused({"groups": [999999]}, "groups", "No customer group 999999")
    refused({"groups": [theirs.pk]}, "groups", f"{theirs.pk} belongs to another store")
    refused({"groups": [dismissed.pk]}, "groups", "dismissed")
    refused({"owners": ["nobody"]}, "owners", "nobody")
    refused({"owners": ["dave"]}, "owners", "dave", "another store")
    refused({"store": "BJ01"}, "store")
    refused({"store": "NOPE"}, "store", "NOPE")
    refused({"groups": [ours.pk], "content": "群" * 1400}, "content", "4000")  # 4,200 bytes
    refused({"groups": [ours.pk], "content": "Hi {name}"}, "content", "{name}")
    refused({"groups": [ours.pk], "scheduled_at": (timezone.now() - dt.timedelta(hours=1)).isoformat()},
            "scheduled_at", "past")
    refused({"groups": [ours.pk], "colour": "red"}, "colour")
    refused({}, "groups")
    both = refused({"groups": [999999], "content": "Hi {name}"}, "groups")
    assert "content" in both  # every problem at once
    assert Campaign.objects.count() == before and not GroupAudience.objects.exists()


def test_store_accounts_write_and_see_their_stores_group_campaigns_only(groups_of, alice, bob, carol,  # noqa: F811
                                                                       store_a, store_b, api_client, key_client):
    groups_of()
    api_client.force_authenticate(alice)
    brand = _post(api_client, URL, {"name": "brand", "content": TEXT, "owners": ["dave"]}).json()
    api_client.force_authenticate(bob)
    own = _post(api_client, URL, {"name": "门店福利", "content": TEXT, "store": store_a.code})
    assert own.status_code == 201 and own.json()["store"] == store_a.code
    mine = _post(api_client, URL, {"name": "carol's", "content": TEXT, "owners": ["carol"]}).json()
    assert mine["store"] == store_a.code  # a store account's campaign is its store's
    assert sorted(c["id"] for c in api_client.get(URL).json()["results"]) == sorted([own.json()["id"], mine["id"]])
    assert api_client.get(f"{URL}{brand['id']}/").status_code == 404
    assert _post(api_client, f"{URL}{brand['id']}/approve/").status_code == 404
    # Store staff write drafts but never approve or send.
    api_client.force_authenticate(carol)
    draft = _post(api_client, URL, {"name": "staff draft", "content": TEXT, "owners": ["carol"]})
    assert draft.status_code == 201, draft.content
    assert _post(api_client, f"{URL}{draft.json()['id']}/approve/").status_code == 403
    api_client.force_authenticate(None)

    keyed = key_client(scopes=["campaigns:read", "campaigns:write"], store=store_a)
    answer = _post(keyed, URL, {"name": "POS", "content": TEXT, "groups": [
        CustomerGroup.objects.filter(store=store_b).first().pk]})
    assert answer.status_code == 400 and "another store" in " ".join(answer.json()["error"]["details"]["groups"])
    answer = _post(keyed, URL, {"name": "POS", "content": TEXT, "owners": ["erin"]})
    assert answer.status_code == 201 and answer.json()["store"] == store_a.code
    assert _post(keyed, f"{URL}{answer.json()['id']}/approve/").json()["status"] == "approved"
    assert brand["id"] not in [c["id"] for c in keyed.get(URL).json()["results"]]


def test_the_list_takes_the_same_queries_for_more_campaigns(groups_of, alice, api_client):  # noqa: F811
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    groups_of()
    api_client.force_authenticate(alice)

    def write(n):
        for i in range(n):
            made = _post(api_client, URL, {"name": f"g{i}", "content": TEXT, "owners": ["carol", "dave"]})
            assert made.status_code == 201, made.content

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert api_client.get(URL).status_code == 200
        return len(captured)

    write(2)
    few = queries()
    write(4)
    assert queries() == few
