"""Handover API and screens: scoped by store (a manager or a store key reaches its store's handovers
and staff only, 404 across stores), idempotent create, the items route, clerks refused; the list,
form, detail (counts, polling while running) and cancel screens per role."""

from __future__ import annotations

import pytest
from django.urls import reverse

from members.models import Member
from scrm.models import Role, User
from wecom.models import Handover, HandoverItem, ItemStatus, WecomContact, WecomFollow, WecomStaff

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(carol, dave, store_a, store_b):
    erin = User.objects.create(username="erin", role=Role.STORE_STAFF, store=store_a)
    frank = User.objects.create(username="frank", role=Role.STORE_STAFF, store=store_b)
    rows = {}
    for userid, user, store in (("carol", carol, store_a), ("erin", erin, store_a), ("dave", dave, store_b),
                                ("frank", frank, store_b)):
        rows[userid] = WecomStaff.objects.create(userid=userid, name=userid.title(), user=user, store=store)
    for userid, store in (("carol", store_a), ("dave", store_b)):
        for n in range(3):
            member = Member.objects.create(name=f"{userid}的客户{n}", home_store=store, owner=rows[userid].user)
            contact = WecomContact.objects.create(external_userid=f"wm-{userid}-{n}", member=member)
            WecomFollow.objects.create(contact=contact, staff=rows[userid])
    return rows


def handover(staff, leaver, receiver):
    h = Handover.objects.create(kind="on_job", from_staff=staff[leaver], to_staff=staff[receiver],
                                store=staff[leaver].store)
    for contact in WecomContact.objects.filter(follows__staff=staff[leaver]):
        HandoverItem.objects.create(handover=h, contact=contact, status=ItemStatus.WAITING)
    return h


@pytest.fixture
def key_a(key_client, store_a):
    return key_client(scopes=["wecom_handovers:read", "wecom_handovers:write"], store=store_a)


def body(staff, leaver="carol", receiver="erin", **extra):
    return {"kind": "on_job", "from_staff": staff[leaver].userid, "to_staff": staff[receiver].userid, **extra}


def test_store_key_lists_and_reads_its_stores_handovers_only(key_a, staff):
    ours, theirs = handover(staff, "carol", "erin"), handover(staff, "dave", "frank")
    response = key_a.get("/api/v1/wecom/handovers/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["id"] for r in rows] == [ours.pk]
    assert rows[0]["counts"] == {"total": 3, "waiting": 3}
    assert rows[0]["from_staff"]["userid"] == "carol" and rows[0]["store"] == "SH01"
    assert key_a.get(f"/api/v1/wecom/handovers/{theirs.pk}/").status_code == 404
    assert key_a.get(f"/api/v1/wecom/handovers/{ours.pk}/").status_code == 200
    items = key_a.get(f"/api/v1/wecom/handovers/{ours.pk}/items/")
    assert items.status_code == 200
    assert sorted(i["external_userid"] for i in items.json()["results"]) == [f"wm-carol-{n}" for n in range(3)]
    assert key_a.get(f"/api/v1/wecom/handovers/{theirs.pk}/items/").status_code == 404
    assert key_a.get(f"/api/v1/wecom/handovers/{ours.pk}/items/", {"status": "nonsense"}).status_code == 400


def test_create_is_idempotent_and_store_scoped(key_a, staff):
    headers = {"HTTP_IDEMPOTENCY_KEY": "handover-carol-1"}
    first = key_a.post("/api/v1/wecom/handovers/", body(staff, message="您好"), format="json", **headers)
    assert first.status_code == 201, first.content
    again = key_a.post("/api/v1/wecom/handovers/", body(staff, message="您好"), format="json", **headers)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert Handover.objects.count() == 1 and HandoverItem.objects.count() == 3
    other = key_a.post("/api/v1/wecom/handovers/", body(staff, message="不同"), format="json", **headers)
    assert other.status_code == 422
    # Another store's staff member is not found (404), in the error shape.
    refused = key_a.post("/api/v1/wecom/handovers/", body(staff, "dave", "frank"), format="json")
    assert refused.status_code == 404
    assert "from_staff" in refused.json()["error"]["details"]
    bad = key_a.post("/api/v1/wecom/handovers/", body(staff, message="好" * 201), format="json")
    assert bad.status_code == 400


def test_read_only_key_cannot_create(key_client, store_a, staff):
    client = key_client(scopes=["wecom_handovers:read"], store=store_a)
    assert client.post("/api/v1/wecom/handovers/", body(staff), format="json").status_code == 403
    assert not Handover.objects.exists()


def test_manager_session_creates_for_own_store_clerk_is_refused(api_client, bob, carol, staff):
    api_client.force_authenticate(bob)
    assert api_client.post("/api/v1/wecom/handovers/", body(staff), format="json").status_code == 201
    assert api_client.post("/api/v1/wecom/handovers/", body(staff, "dave", "frank"),
                           format="json").status_code == 404
    api_client.force_authenticate(carol)
    assert api_client.get("/api/v1/wecom/handovers/").status_code == 403


def test_list_query_count_does_not_grow(key_a, staff, django_assert_max_num_queries):
    for _ in range(2):
        handover(staff, "carol", "erin")
    with django_assert_max_num_queries(12) as few:
        key_a.get("/api/v1/wecom/handovers/")
    for _ in range(6):
        handover(staff, "carol", "erin")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(key_a.get("/api/v1/wecom/handovers/").json()["results"]) == 8


# --- screens ------------------------------------------------------------------------------------


def test_list_per_role(client, alice, bob, carol, staff):
    ours, theirs = handover(staff, "carol", "erin"), handover(staff, "dave", "frank")
    client.force_login(bob)
    response = client.get(reverse("wecom-handover-list"))
    assert response.status_code == 200
    assert [h.pk for h in response.context["object_list"]] == [ours.pk]
    assert reverse("wecom-handover-create") in response.content.decode()
    client.force_login(alice)
    assert {h.pk for h in client.get(reverse("wecom-handover-list")).context["object_list"]} == {ours.pk, theirs.pk}
    client.force_login(carol)
    assert client.get(reverse("wecom-handover-list")).status_code == 403
    assert client.get(reverse("wecom-handover-create")).status_code == 403


def test_sidebar_link_for_managers_not_clerks(client, bob, carol, staff):
    client.force_login(bob)
    assert reverse("wecom-handover-list") in client.get(reverse("wecom-handover-list")).content.decode()
    client.force_login(carol)
    assert reverse("wecom-handover-list") not in client.get(reverse("home")).content.decode()


def test_detail_shows_counts_names_and_polls_while_running(client, bob, staff):
    ours, theirs = handover(staff, "carol", "erin"), handover(staff, "dave", "frank")
    client.force_login(bob)
    response = client.get(reverse("wecom-handover-detail", args=[ours.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'hx-trigger="every 3s"' in html
    assert "carol的客户0" in html
    assert {c["status"]: c["count"] for c in response.context["status_counts"]}["waiting"] == 3
    partial = client.get(reverse("wecom-handover-detail", args=[ours.pk]), HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and 'id="handover-progress"' in partial.content.decode()
    assert "<html" not in partial.content.decode()
    assert client.get(reverse("wecom-handover-detail", args=[theirs.pk])).status_code == 404
    Handover.objects.filter(pk=ours.pk).update(status="done")
    assert 'hx-trigger="every 3s"' not in client.get(reverse("wecom-handover-detail", args=[ours.pk])).content.decode()


def test_form_starts_a_handover_and_offers_only_the_managers_staff(client, bob, staff):
    client.force_login(bob)
    response = client.get(reverse("wecom-handover-create"))
    assert response.status_code == 200
    offered = {s.userid for s in response.context["form"].fields["from_staff"].queryset}
    assert offered == {"carol", "erin"}
    refused = client.post(reverse("wecom-handover-create"), {
        "kind": "on_job", "from_staff": staff["dave"].pk, "to_staff": staff["frank"].pk})
    assert refused.status_code == 400 and not Handover.objects.exists()
    same = client.post(reverse("wecom-handover-create"), {
        "kind": "on_job", "from_staff": staff["carol"].pk, "to_staff": staff["carol"].pk})
    assert same.status_code == 400 and "another person" in same.content.decode()
    done = client.post(reverse("wecom-handover-create"), {
        "kind": "on_job", "from_staff": staff["carol"].pk, "to_staff": staff["erin"].pk, "message": "你好"})
    h = Handover.objects.get()
    assert done.status_code == 302 and done["Location"] == reverse("wecom-handover-detail", args=[h.pk])
    assert h.items.count() == 3 and h.created_by == bob


def test_cancel_the_rest_from_the_page(client, bob, staff):
    h = handover(staff, "carol", "erin")
    HandoverItem.objects.filter(handover=h).update(status=ItemStatus.QUEUED)
    client.force_login(bob)
    response = client.post(reverse("wecom-handover-cancel", args=[h.pk]))
    assert response.status_code == 302
    h.refresh_from_db()
    assert h.status == "cancelled"
    assert set(h.items.values_list("status", flat=True)) == {"cancelled"}
    theirs = handover(staff, "dave", "frank")
    assert client.post(reverse("wecom-handover-cancel", args=[theirs.pk])).status_code == 404
