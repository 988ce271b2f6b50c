"""The campaigns API: create with a segment, a channel, the text and a schedule; approve, send,
pause, resume, cancel, each safe to retry; deliveries by member, state and reason; counts in the
detail; the outbox. Store-bound keys and store managers reach only their store's campaigns; store
staff cannot approve. Bad input is a clear 400."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Delivery, OutboxMessage
from campaigns.services import sending
from members.segments import services as segment_services
from tests.campaigns.conftest import consent

pytestmark = pytest.mark.django_db

WRITE = ("campaigns:read", "campaigns:write")


def _body(segment_, **extra):
    return {"name": "spring", "segment": segment_.pk, "channel": "outbox", "content": "Hi {name}, {tier}"} | extra


def _create(client, segment_, **extra):
    return client.post("/api/v1/campaigns/", _body(segment_, **extra), format="json")


def test_an_operator_writes_approves_and_sends_a_campaign(api_client, alice, everyone, audience, policy):
    api_client.force_authenticate(alice)
    created = _create(api_client, everyone)
    assert created.status_code == 201, created.json()
    campaign = created.json()
    assert campaign["status"] == "draft" and campaign["counts"]["total"] == 0 and campaign["store"] is None
    url = f"/api/v1/campaigns/{campaign['id']}/"
    assert api_client.post(url + "approve/").json()["status"] == "approved"
    sent = api_client.post(url + "send/", {}, format="json", HTTP_IDEMPOTENCY_KEY="send-1")
    assert sent.status_code == 200, sent.json()
    assert sent.json()["status"] == "sending" and sent.json()["counts"]["pending"] == 5
    again = api_client.post(url + "send/", {}, format="json", HTTP_IDEMPOTENCY_KEY="send-1")
    assert again.json() == sent.json()
    assert Delivery.objects.filter(campaign_id=campaign["id"]).count() == 5

    sending.tick()
    detail = api_client.get(url).json()
    assert detail["status"] == "done"
    assert detail["counts"]["sent"] == 5 and detail["counts"]["total"] == 5
    outbox = api_client.get("/api/v1/outbox/", {"campaign": campaign["id"]}).json()
    assert len(outbox["results"]) == 5 and outbox["results"][0]["text"].startswith("Hi ")


def test_deliveries_filter_by_member_state_and_reason_and_page_by_cursor(
    api_client, alice, everyone, audience, make_campaign
):
    a, _b = audience
    consent(a[0], granted=False)
    campaign = make_campaign()
    api_client.force_authenticate(alice)
    url = f"/api/v1/campaigns/{campaign.pk}/deliveries/"
    suppressed = api_client.get(url, {"state": "suppressed"}).json()["results"]
    assert [(d["member"], d["reason"]) for d in suppressed] == [(a[0].pk, "opted_out")]
    assert api_client.get(url, {"reason": "opted_out"}).json()["results"][0]["member"] == a[0].pk
    assert len(api_client.get(url, {"member": a[1].pk}).json()["results"]) == 1
    first = api_client.get(url, {"page_size": 2}).json()
    second = api_client.get(first["next"]).json()
    assert len(first["results"]) == 2 and len(second["results"]) == 2
    assert {d["member"] for d in first["results"]}.isdisjoint({d["member"] for d in second["results"]})
    assert api_client.get(url, {"state": "nonsense"}).status_code == 400
    detail = api_client.get(f"/api/v1/campaigns/{campaign.pk}/").json()
    assert detail["reasons"] == {"opted_out": 1}
    assert detail["counts"]["pending"] == 4 and detail["counts"]["suppressed"] == 1


def test_a_store_bound_key_sees_and_sends_only_its_store(key_client, store_a, store_b, everyone, audience,
                                                         make_campaign, dave, policy):
    a, _b = audience
    brand = make_campaign(name="brand")
    theirs = make_campaign(actor=dave, name="theirs", start=False)
    client = key_client(scopes=WRITE, store=store_a)

    created = _create(client, everyone, store=store_b.code)  # another store's: refused
    assert created.status_code == 403
    created = _create(client, everyone)
    assert created.status_code == 201 and created.json()["store"] == store_a.code
    mine = created.json()["id"]
    assert client.post(f"/api/v1/campaigns/{mine}/approve/").status_code == 200
    sent = client.post(f"/api/v1/campaigns/{mine}/send/", {}, format="json")
    assert sent.status_code == 200 and sent.json()["counts"]["pending"] == len(a)
    assert set(Delivery.objects.filter(campaign_id=mine).values_list("member__home_store", flat=True)) == {store_a.pk}

    listed = [c["id"] for c in client.get("/api/v1/campaigns/").json()["results"]]
    assert listed == [mine]
    for other in (brand, theirs):
        assert client.get(f"/api/v1/campaigns/{other.pk}/").status_code == 404
        assert client.get(f"/api/v1/campaigns/{other.pk}/deliveries/").status_code == 404
        assert client.post(f"/api/v1/campaigns/{other.pk}/cancel/").status_code == 404
    sending.tick()
    outbox = client.get("/api/v1/outbox/").json()["results"]
    assert {m["campaign"] for m in outbox} == {mine}
    brand_message = OutboxMessage.objects.filter(campaign=brand).first()
    assert client.get(f"/api/v1/outbox/{brand_message.pk}/").status_code == 404


def test_a_key_without_the_write_scope_cannot_write(key_client, everyone, audience):
    client = key_client(scopes=("campaigns:read",))
    assert _create(client, everyone).status_code == 403
    assert client.get("/api/v1/campaigns/").status_code == 200


def test_store_staff_write_drafts_but_cannot_approve_or_send(api_client, carol, bob, everyone, audience):
    api_client.force_authenticate(carol)
    created = _create(api_client, everyone)
    assert created.status_code == 201
    url = f"/api/v1/campaigns/{created.json()['id']}/"
    refused = api_client.post(url + "approve/")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert api_client.post(url + "send/", {}, format="json").status_code == 403
    api_client.force_authenticate(bob)
    assert api_client.post(url + "approve/").json()["status"] == "approved"


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ({"content": "Hi {nickname}"}, "content", "{nickname}"),
        ({"content": "Hi {name"}, "content", "braces"),
        ({"content": "   "}, "content", "blank"),
        ({"content": "字" * 1400}, "content", "4000"),
        ({"channel": "pigeon"}, "channel", "pigeon"),
        ({"holdout_share": "0.60"}, "holdout_share", ""),
        ({"scheduled_at": "2020-01-01T08:00:00+08:00"}, "scheduled_at", "past"),
        ({"segment": 999999}, "segment", ""),
        ({"segment": "12"}, "segment", ""),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_client, alice, everyone, extra, field, words):
    api_client.force_authenticate(alice)
    answer = _create(api_client, everyone, **extra)
    assert answer.status_code == 400, answer.json()
    details = answer.json()["error"]["details"]
    assert field in details
    assert words in " ".join(map(str, details[field]))
    assert not Campaign.objects.exists()


def test_sending_to_an_empty_segment_is_a_400_and_nothing_changes(api_client, alice, audience, policy):
    from members.models import Tag, TagGroup

    tag = Tag.objects.create(group=TagGroup.objects.create(name="无人"), name="nobody")
    nobody = segment_services.create_segment(actor=alice, name="nobody", definition={"tags": {"any": [tag.pk]}})
    api_client.force_authenticate(alice)
    campaign = _create(api_client, nobody).json()
    url = f"/api/v1/campaigns/{campaign['id']}/"
    api_client.post(url + "approve/")
    answer = api_client.post(url + "send/", {}, format="json")
    assert answer.status_code == 400 and "segment" in answer.json()["error"]["details"]
    assert api_client.get(url).json()["status"] == "approved"


def test_pause_resume_and_cancel_are_safe_to_repeat(api_client, alice, everyone, audience, policy):
    api_client.force_authenticate(alice)
    url = f"/api/v1/campaigns/{_create(api_client, everyone).json()['id']}/"
    api_client.post(url + "approve/")
    later = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    assert api_client.post(url + "send/", {"scheduled_at": later}, format="json").json()["status"] == "scheduled"
    assert api_client.post(url + "pause/").json()["status"] == "paused"
    assert api_client.post(url + "pause/").json()["status"] == "paused"
    assert api_client.post(url + "resume/").json()["status"] == "scheduled"  # not started yet
    assert api_client.post(url + "resume/").json()["status"] == "scheduled"
    sending.tick(now_fn=lambda: timezone.now() + dt.timedelta(hours=2))
    assert api_client.get(url).json()["status"] == "done"

    url = f"/api/v1/campaigns/{_create(api_client, everyone, name='second').json()['id']}/"
    api_client.post(url + "approve/")
    api_client.post(url + "send/", {}, format="json")
    assert api_client.post(url + "pause/").json()["status"] == "paused"
    assert sending.tick().sent == 0  # paused: nothing goes out
    cancelled = api_client.post(url + "cancel/").json()
    assert cancelled["status"] == "cancelled" and cancelled["counts"]["suppressed"] == 5
    assert cancelled["reasons"] == {"cancelled": 5}
    assert api_client.post(url + "cancel/").json()["status"] == "cancelled"
    assert api_client.post(url + "resume/").status_code == 409


def test_lists_take_a_fixed_number_of_queries(api_client, alice, audience, make_campaign, policy,
                                              django_assert_max_num_queries):
    campaigns = [make_campaign(name=f"c{i}") for i in range(3)]
    sending.tick()
    api_client.force_authenticate(alice)
    for url in ("/api/v1/campaigns/", f"/api/v1/campaigns/{campaigns[0].pk}/deliveries/", "/api/v1/outbox/",
                f"/api/v1/campaigns/{campaigns[0].pk}/"):
        with django_assert_max_num_queries(8):
            assert api_client.get(url).status_code == 200
    assert len(api_client.get("/api/v1/outbox/").json()["results"]) == 15
