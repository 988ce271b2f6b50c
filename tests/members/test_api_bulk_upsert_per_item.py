"""Bulk member upsert has orders/batch's two modes: all or nothing (the default) and per item
(`atomic: false`), where one bad phone no longer refuses 999 good items."""

from __future__ import annotations

import json

import pytest

from members.models import Identity, Member
from members.services import identities

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_alice(api_client, alice):
    api_client.force_authenticate(alice)
    return api_client


def post(client, body):
    return client.post("/api/v1/members/bulk-upsert/", json.dumps(body), content_type="application/json")


def _items(n):
    return [{"identities": [{"channel": "pos", "namespace": "SH01", "external_id": f"card{i}"}], "name": f"会员{i}",
             "phone": f"+86137{i:08d}"} for i in range(n)]


def test_per_item_mode_writes_the_good_items_and_reports_the_bad_one(as_alice, store_a,
                                                                    django_assert_max_num_queries):
    items = _items(999)
    items[500]["phone"] = "not a phone"
    with django_assert_max_num_queries(40):
        response = post(as_alice, {"items": items, "atomic": False})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["updated"], body["conflict"], body["invalid"]) == (998, 0, 0, 1)
    assert [r["index"] for r in body["results"]] == list(range(999))
    bad = body["results"][500]
    assert bad["status"] == "invalid" and bad["id"] is None and list(bad["errors"]) == ["phone"]
    assert body["results"][0]["status"] == "created" and body["results"][0]["id"] == body["results"][0]["member"]
    assert Member.objects.count() == 998


def test_per_item_mode_sets_aside_identity_conflicts_and_writes_the_rest(as_alice, alice, members):
    a, b = members
    identities.add_identity(member=a[0], channel="wecom", external_id="wmA", actor=alice)
    identities.add_identity(member=a[1], channel="wechat_unionid", external_id="unB", actor=alice)
    items = [
        {"identities": [{"channel": "wecom", "external_id": "wmA"}], "name": "改名"},  # updates a[0]
        {"identities": [{"channel": "wecom", "external_id": "wmA"}, {"channel": "wechat_unionid",
                                                                     "external_id": "unB"}]},  # two members
        {"identities": [{"channel": "pos", "namespace": "SH01", "external_id": "new1"}]},
        {"identities": [{"channel": "pos", "namespace": "SH01", "external_id": "new2"}], "phone": "bad"},
    ]
    # wmA in items 0 and 1 is an error on both, found before anything is written
    body = post(as_alice, {"items": items, "atomic": False}).json()
    assert [(r["index"], r["status"]) for r in body["results"]] == [
        (0, "invalid"), (1, "invalid"), (2, "created"), (3, "invalid")
    ]
    items[0]["identities"] = [{"channel": "pos", "namespace": "SH01", "external_id": "new3"}]
    items[2]["identities"] = [{"channel": "pos", "namespace": "SH01", "external_id": "new4"}]
    body = post(as_alice, {"items": items, "atomic": False}).json()
    assert [(r["index"], r["status"]) for r in body["results"]] == [
        (0, "created"), (1, "conflict"), (2, "created"), (3, "invalid")
    ]
    assert set(body["results"][1]["errors"]["members"]) == {a[0].pk, a[1].pk}
    assert (body["created"], body["conflict"], body["invalid"]) == (2, 1, 1)
    assert Identity.objects.filter(external_id__in=["new1", "new3", "new4"]).count() == 3


def test_the_default_stays_all_or_nothing(as_alice, store_a):
    items = _items(5)
    items[3]["phone"] = "not a phone"
    response = post(as_alice, {"items": items})
    assert response.status_code == 400 and list(response.json()["error"]["details"]["items"]) == ["3"]
    assert not Member.objects.exists()
    assert post(as_alice, {"items": items, "atomic": "no"}).status_code == 400
    body = post(as_alice, {"items": _items(3), "atomic": True}).json()
    assert [r["status"] for r in body["results"]] == ["created"] * 3 and body["invalid"] == 0
