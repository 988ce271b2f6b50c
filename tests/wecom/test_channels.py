"""Channel codes against the local WeCom server: created exactly once under a retried task, edited,
deactivated; counts from the follow relations in one query; QR downloads; screens per role; the API
scoped with a store key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from members.models import Member
from scrm.errors import NotInScope
from wecom.client import get_client
from wecom.models import ChannelCode, WecomContact, WecomFollow, WecomStaff
from wecom.services import channels as services


@pytest.fixture
def staff(corp, store_a, store_b):
    fake = corp.corp
    a1 = WecomStaff.objects.create(userid=fake.staff[0], store=store_a)
    a2 = WecomStaff.objects.create(userid=fake.staff[1], store=store_a)
    b1 = WecomStaff.objects.create(userid=fake.staff[2], store=store_b)
    return a1, a2, b1


def _ways_with(fake, state):
    return [w for w in fake.contact_ways.values() if w["state"] == state]


def _make(actor, store, staff, **extra):
    return services.create_code(actor=actor, data={"name": "南京西路店门口", "purpose": "store", "store": store,
                                                   "staff": staff, **extra})


def test_create_is_exactly_once_under_a_retried_task(corp, staff, bob, store_a):
    a1, a2, _ = staff
    code = _make(bob, store_a, [a1, a2])
    assert code.config_id == "" and code.state.startswith("s:SH01:") and len(code.state) <= 30
    # a first delivery created the contact way in WeCom and died before recording it
    get_client().post("externalcontact/add_contact_way", services._contact_way(code, [a1.userid, a2.userid]))
    done = services.push_code(code_id=code.pk)
    again = services.push_code(code_id=code.pk)
    ways = _ways_with(corp.corp, code.state)
    assert len(ways) == 1
    assert done.config_id == again.config_id == ways[0]["config_id"]
    assert done.qr_code.endswith(f"/_fake/qr/{done.config_id}")
    assert ways[0]["type"] == 2 and sorted(ways[0]["user"]) == sorted([a1.userid, a2.userid])


def test_edit_and_deactivate(corp, staff, alice, store_a):
    a1, a2, _ = staff
    code = services.push_code(code_id=_make(alice, store_a, [a1]).pk)
    assert _ways_with(corp.corp, code.state)[0]["type"] == 1
    services.update_code(code=code, actor=alice, data={"name": "新名字", "staff": [a1, a2], "skip_verify": False})
    services.push_code(code_id=code.pk)
    way = corp.corp.contact_ways[code.config_id]
    assert (way["remark"], way["skip_verify"], sorted(way["user"])) == ("新名字", False, sorted([a1.userid, a2.userid]))
    services.deactivate_code(code=code, actor=alice)
    gone = services.push_code(code_id=code.pk)
    assert gone.config_id == "" and not gone.is_active and _ways_with(corp.corp, code.state) == []


def test_bad_input_and_store_rules(corp, staff, bob, store_a, store_b):
    from scrm.errors import InvalidInput

    a1, _a2, b1 = staff
    with pytest.raises(InvalidInput) as exc:
        services.create_code(actor=bob, data={"name": "", "store": store_a, "staff": [],
                                              "welcome_enabled": True, "welcome_text": "欢" * 1400})
    assert set(exc.value.details) == {"name", "staff", "welcome_text"}
    with pytest.raises(InvalidInput) as exc:
        _make(bob, store_a, [b1])  # staff of another store
    assert "staff" in exc.value.details
    with pytest.raises(NotInScope):
        _make(bob, store_b, [b1])
    with pytest.raises(InvalidInput):
        services.create_code(actor=bob, data={"name": "x", "purpose": "staff", "store": store_a, "staff": [a1, _a2]})


def _follows(code, staff, store):
    now = timezone.now()
    rows = [(now - timedelta(days=2), None), (now - timedelta(days=10), None), (now - timedelta(days=40), now),
            (now - timedelta(days=3), now)]
    for n, (added, deleted) in enumerate(rows):
        member = Member.objects.create(name=f"客{n}", home_store=store)
        contact = WecomContact.objects.create(external_userid=f"wm{code.pk}x{n}", member=member)
        WecomFollow.objects.create(contact=contact, staff=staff, state=code.state, added_at=added, deleted_at=deleted)


def test_counts(corp, staff, alice, store_a):
    a1, *_ = staff
    code = _make(alice, store_a, [a1])
    _follows(code, a1, store_a)
    row = services.with_counts(ChannelCode.objects.filter(pk=code.pk)).get()
    assert (row.added, row.following, row.churned, row.added_7d, row.added_30d) == (4, 2, 2, 2, 3)


def test_list_page_and_api_are_one_query_for_the_codes(corp, staff, alice, client, api_client, store_a,
                                                        django_assert_max_num_queries):
    a1, *_ = staff
    _follows(_make(alice, store_a, [a1]), a1, store_a)
    client.force_login(alice)
    api_client.force_authenticate(alice)

    def cost():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as page:
            assert client.get("/wecom/channels/").status_code == 200
        with CaptureQueriesContext(connection) as api:
            assert api_client.get("/api/v1/wecom/channel-codes/").status_code == 200
        return len(page), len(api)

    one = cost()
    for n in range(4):
        _follows(_make(alice, store_a, [a1], name=f"码{n}"), a1, store_a)
    assert cost() == one


def test_qr_downloads_are_real_images(corp, staff, bob, client, store_a):
    a1, *_ = staff
    code = services.push_code(code_id=_make(bob, store_a, [a1]).pk)
    client.force_login(bob)
    png = client.get(f"/wecom/channels/{code.pk}/qr.png")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n") and len(png.content) > 200
    svg = client.get(f"/wecom/channels/{code.pk}/qr.svg")
    assert svg.status_code == 200 and b"<svg" in svg.content and svg["Content-Type"] == "image/svg+xml"
    import segno

    assert segno.make(code.qr_code, error="m").symbol_size(scale=12, border=4)[0] > 0


def test_screens_per_role(corp, staff, alice, bob, carol, dave, client, store_a, store_b):
    a1, _a2, b1 = staff
    mine = _make(bob, store_a, [a1], name="A 店码")
    other = _make(alice, store_b, [b1], name="B 店码")
    client.force_login(alice)
    page = client.get("/wecom/channels/").content.decode()
    assert "A 店码" in page and "B 店码" in page
    client.force_login(bob)
    page = client.get("/wecom/channels/").content.decode()
    assert "A 店码" in page and "B 店码" not in page
    assert client.get(f"/wecom/channels/{mine.pk}/").status_code == 200
    assert client.get(f"/wecom/channels/{other.pk}/").status_code == 404
    created = client.post("/wecom/channels/new/", {"name": "新码", "purpose": "store", "store": store_a.pk,
                                                   "staff": [a1.pk], "skip_verify": "on"})
    assert created.status_code == 302 and ChannelCode.objects.filter(name="新码", store=store_a).exists()
    refused = client.post("/wecom/channels/new/", {"name": "越界", "purpose": "store", "store": store_b.pk,
                                                   "staff": [b1.pk]})
    assert refused.status_code == 400 and not ChannelCode.objects.filter(name="越界").exists()
    assert client.post(f"/wecom/channels/{mine.pk}/", {"deactivate": "1"}).status_code == 302
    assert not ChannelCode.objects.get(pk=mine.pk).is_active
    for clerk in (carol, dave):
        client.force_login(clerk)
        assert client.get("/wecom/channels/").status_code == 403
        assert client.get("/wecom/channels/new/").status_code == 403
    client.force_login(bob)
    assert client.get("/wecom/tags/").status_code == 403
    client.force_login(alice)
    assert client.get("/wecom/tags/").status_code == 200


def test_api_scoped_with_a_store_key(corp, staff, alice, key_client, store_a, store_b):
    a1, _a2, b1 = staff
    other = _make(alice, store_b, [b1], name="B 店码")
    api = key_client(scopes=["wecom_channel_codes:read", "wecom_channel_codes:write"], store=store_a)
    created = api.post("/api/v1/wecom/channel-codes/",
                       {"name": "API 码", "store": "SH01", "staff": [a1.userid], "welcome_enabled": True,
                        "welcome_text": "欢迎光临"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["store"] == "SH01" and body["staff"] == [a1.userid] and body["added"] == 0 and body["config_id"] == ""
    listed = api.get("/api/v1/wecom/channel-codes/").json()["results"]
    assert [c["name"] for c in listed] == ["API 码"]
    assert api.get(f"/api/v1/wecom/channel-codes/{other.pk}/").status_code == 404
    assert api.patch(f"/api/v1/wecom/channel-codes/{other.pk}/", {"name": "x"}, format="json").status_code == 404
    wrong_store = api.post("/api/v1/wecom/channel-codes/", {"name": "x", "store": "BJ01", "staff": [b1.userid]},
                           format="json")
    assert wrong_store.status_code == 400 and "store" in wrong_store.json()["error"]["details"]
    bad = api.post("/api/v1/wecom/channel-codes/", {"name": 3, "staff": "x"}, format="json")
    assert bad.status_code == 400 and {"name", "staff"} <= set(bad.json()["error"]["details"])
    patched = api.patch(f"/api/v1/wecom/channel-codes/{body['id']}/", {"name": "改名"}, format="json")
    assert patched.status_code == 200 and patched.json()["name"] == "改名"
    assert api.delete(f"/api/v1/wecom/channel-codes/{body['id']}/").status_code == 204
    assert not ChannelCode.objects.get(pk=body["id"]).is_active
    reader = key_client(scopes=["wecom_channel_codes:read"], store=store_a)
    assert reader.post("/api/v1/wecom/channel-codes/", {"name": "x"}, format="json").status_code == 403


def test_demo_seed_is_idempotent(corp, staff, alice):
    from scrm.actors import SystemActor

    assert services.seed_demo(actor=SystemActor("demo")) == 2
    assert services.seed_demo(actor=SystemActor("demo")) == 0
    assert ChannelCode.objects.filter(welcome_enabled=True).count() == 2
