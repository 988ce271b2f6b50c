"""The cockpit against hand-built data: exact figures for the operator and a store manager, the
period before, refusals, the summaries against the live counts, every figure against its
drill-down's member list, exports and the API."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from insights.cockpit import base, services
from insights.models import PeriodBuyers
from loyalty.orders.models import Order
from members.models import Member, MemberEvent, StaffRelation


def _ago(days: float):
    return timezone.now() - timedelta(days=days)


@pytest.fixture
def shop(store_a, store_b, carol):
    """Store A: a1 (joined 5 days ago by a channel code, moved to "act"), a2 (two POS orders, a
    fully refunded Tmall one), a3 (bought 35 days ago and again 3 days ago), a4 (long ago); store B:
    b1 (a Tmall order), b2 (joined 45 days ago). Other buyers: a pending Tmall buyer with two
    orders in store A, a walk-in with no identity in store B."""
    n = {"i": 0}

    def member(name, store, days, source="other", stage="aware"):
        return Member.objects.create(name=name, home_store=store, created_at=_ago(days), source=source, stage=stage)

    def order(member, channel, days, total, refunded="0", store=None, currency="CNY", buyer=""):
        n["i"] += 1
        return Order.objects.create(
            channel=channel, external_id=f"C{n['i']:05d}", member=member, store=store or member.home_store,
            total_amount=Decimal(total), refunded_amount=Decimal(refunded), currency=currency,
            placed_at=_ago(days), buyer_channel="tmall" if buyer else "", buyer_external_id=buyer)

    a1 = member("a1", store_a, 5, source="store_qr", stage="act")
    a2 = member("a2", store_a, 10, source="ad")
    a3 = member("a3", store_a, 40, source="store_qr")
    a4 = member("a4", store_a, 400, source="import")
    b1 = member("b1", store_b, 2, source="ad")
    b2 = member("b2", store_b, 45, stage="appeal")
    StaffRelation.objects.create(member=a1, staff=carol, store=store_a, state="st_a")
    MemberEvent.objects.create(member=a1, kind="updated", data={"changes": {"stage": ["aware", "act"]}},
                               created_at=_ago(3))
    order(a1, "pos", 1, "999", currency="USD")
    order(a2, "pos", 2, "100")
    order(a2, "pos", 4, "300", refunded="50")
    order(a2, "tmall", 6, "200", refunded="200")
    order(a3, "pos", 35, "60")
    order(a3, "tmall", 3, "80")
    order(b1, "tmall", 1, "500")
    order(None, "tmall", 5, "120", store=store_a, buyer="tb1")
    order(None, "tmall", 6, "40", store=store_a, buyer="tb1")
    order(None, "pos", 2, "70", store=store_b)
    services.refresh(full=True)
    return {"a1": a1, "a2": a2, "a3": a3, "a4": a4, "b1": b1, "b2": b2}


def _read(actor, **params):
    period = base.parse_period(params)
    board = base.open_cockpit(actor, period=period, store_id=params.get("store"))
    return {data.key: data for _s, data in base.read(board)}


def _figures(sections) -> dict:
    return {f.key: f for data in sections.values() for f in data.all_figures()}


def test_operator_figures(alice, shop):
    f = _figures(_read(alice))
    assert (f["pool"].value, f["pool"].previous) == (6, 3)
    assert (f["new_members"].value, f["new_members"].previous, f["new_members"].change) == (3, 2, 1)
    assert f["members_by_source_ad"].value == 2 and f["members_by_source_store_qr"].value == 1
    assert f["members_by_source_store_qr"].previous == 1 and f["members_by_source_other"].previous == 1
    assert f["members_by_channel_code_st_a"].value == 1
    assert (f["stage_aware"].value, f["stage_appeal"].value, f["stage_act"].value) == (4, 1, 1)
    assert (f["moved_act"].value, f["moved_act"].previous) == (1, 0)
    assert (f["buyers"].value, f["buyers"].previous) == (4, 1)
    assert f["buyers_in_pool"].value == round(4 / 6, 4)
    assert (f["buyers_pos"].value, f["buyers_tmall"].value) == (2, 2)
    assert (f["others_pos"].value, f["others_tmall"].value) == (1, 1)
    assert (f["repeat_buyers"].value, f["repurchase_rate"].value) == (1, 0.25)
    assert (f["returning_buyers"].value, f["returning_rate"].value) == (1, 1.0)
    assert f["gmv"].value == Decimal("1160.00") and f["gmv"].previous == Decimal("60.00")
    assert f["aov_members"].value == Decimal("232.50") and f["aov_others"].value == Decimal("76.67")
    assert f["member_gmv_share"].value == round(930 / 1160, 4)
    assert f["member_gmv_tmall"].value == Decimal("580.00") and f["other_gmv_tmall"].value == Decimal("160.00")


def test_store_manager_sees_their_store(bob, alice, store_a, shop):
    f = _figures(_read(bob))
    assert (f["pool"].value, f["pool"].previous, f["new_members"].value, f["new_members"].previous) == (4, 2, 2, 1)
    assert (f["buyers"].value, f["buyers_pos"].value, f["buyers_tmall"].value, f["others_tmall"].value) == (3, 2, 1, 1)
    assert f["others_pos"].value == 0  # the walk-in bought in store B
    assert f["buyers_in_pool"].value == 0.75
    assert f["gmv"].value == Decimal("590.00") and f["aov_members"].value == Decimal("143.33")
    assert f["aov_others"].value == Decimal("80.00")
    assert [k for k in f if k.startswith("store_new_")] == [f"store_new_{store_a.pk}"]
    # The operator cut to store A reads the same figures.
    cut = _figures(_read(alice, store=str(store_a.pk)))
    assert {k: v.value for k, v in cut.items()} == {k: v.value for k, v in f.items()}


def test_previous_period_of_a_custom_range(alice, shop):
    today = timezone.localdate()
    f = _figures(_read(alice, start=(today - timedelta(days=9)).isoformat(), end=today.isoformat()))
    # 10 days: a1 and b1 joined, a2 on the 10th day back; the 10 days before hold a2 only if it fell there.
    assert f["new_members"].value + f["new_members"].previous == 3
    assert f["buyers"].value == 4 and f["repeat_buyers"].value == 1
    assert f["buyers"].as_of is None  # no summary of this period: counted live


def test_refused_and_other_stores(client, api_client, carol, dave, bob, store_b, shop):
    for user in (carol, dave):
        client.force_login(user)
        assert client.get(reverse("insights-cockpit")).status_code == 403
        api_client.force_authenticate(user)
        assert api_client.get("/api/v1/insights/cockpit/").status_code == 403
    client.force_login(bob)
    assert client.get(reverse("insights-cockpit"), {"store": store_b.pk}).status_code == 404
    body = client.get(reverse("insights-cockpit")).content.decode()
    assert "北京三里屯店" not in body


@pytest.mark.parametrize("params", [
    {"days": "14"}, {"start": "2020-01-01"}, {"start": "x", "end": "2020-01-01"},
    {"start": "2030-01-01", "end": "2030-01-02"}, {"start": "2020-01-05", "end": "2020-01-01"},
    {"start": "2019-01-01", "end": "2023-01-01"}, {"end": ""}, {"days": ""}, {"start": "", "end": ""},
])
def test_bad_periods_are_named(api_client, alice, params):
    api_client.force_authenticate(alice)
    response = api_client.get("/api/v1/insights/cockpit/", params)
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) & {"days", "start", "end"}


def test_summary_equals_the_live_count(alice, bob, shop):
    for user in (alice, bob):
        stored = _figures(_read(user))
        assert stored["buyers"].as_of is not None
        PeriodBuyers.objects.all().delete()
        live = _figures(_read(user))
        assert live["buyers"].as_of is None
        assert {k: v.value for k, v in live.items()} == {k: v.value for k, v in stored.items()}
        services.refresh_buyers()


def test_quick_refresh_adds_new_stage_moves(alice, shop):
    MemberEvent.objects.create(member=shop["b2"], kind="updated", data={"changes": {"stage": ["appeal", "act"]}},
                               created_at=_ago(1))
    assert _figures(_read(alice))["moved_act"].value == 1
    took = services.refresh(full=False)
    assert "buyers_ms" not in took  # the buyers of the presets are refreshed on their own, hourly
    assert _figures(_read(alice))["moved_act"].value == 2


def _walk(client, user, params, url_name="insights-cockpit") -> int:
    client.force_login(user)
    response = client.get(reverse(url_name), params)
    assert response.status_code == 200
    checked, counted = 0, {}
    for _section, data in response.context["sections"]:
        for figure in data.all_figures():
            if figure.definition is None:
                continue
            if figure.url not in counted:  # figures sharing a definition share its list
                listed = client.get(figure.url)
                assert listed.status_code == 200
                counted[figure.url] = listed.context["audience_count"]
            assert counted[figure.url] == figure.members, (user.username, figure.key, figure.definition)
            if figure.kind == "members":
                assert figure.value == figure.members
            checked += 1
            # The period before: a count of members lists exactly its previous value too.
            if figure.kind == "members" and figure.previous_definition is not None and figure.previous is not None:
                if figure.previous_url not in counted:
                    listed = client.get(figure.previous_url)
                    assert listed.status_code == 200
                    counted[figure.previous_url] = listed.context["audience_count"]
                assert counted[figure.previous_url] == figure.previous, (user.username, figure.key, "before")
                checked += 1
    return checked


def test_every_figure_equals_its_drill_down(client, alice, bob, shop):
    assert _walk(client, alice, {}) > 60
    assert _walk(client, bob, {"days": "90"}) > 60


def test_exports(client, alice, shop):
    client.force_login(alice)
    url = reverse("insights-cockpit-export")
    response = client.get(url, {"table": "buyers_by_channel", "format": "csv"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Channel", "Pool members who bought", "Pool members who bought, period before",
                           "Pool members who bought, change"]
    assert rows[1][:4] == ["Store POS", "2", "1", "1"]
    from openpyxl import load_workbook

    response = client.get(url, {"table": "sales", "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert values["GMV (net)"] == 1160.0
    page = client.get(reverse("insights-cockpit")).context
    keys = [t.key for _s, data in page["sections"] for t in data.tables] + ["pool", "sales"]
    for key in keys:
        assert client.get(url, {"table": key, "format": "csv"}).status_code == 200
    assert client.get(url, {"table": "nope"}).status_code == 400
    assert client.get(url, {"table": "sales", "format": "pdf"}).status_code == 400


def test_api_answers_the_same_figures(api_client, key_client, alice, store_a, shop):
    api_client.force_authenticate(alice)
    body = api_client.get("/api/v1/insights/cockpit/", {"days": 30}).json()
    figures = {f["key"]: f for s in body["sections"] for f in s["figures"]}
    assert figures["buyers"]["value"] == 4 and figures["gmv"]["value"] == "1160.00"
    assert figures["buyers"]["definition"]["all"][0]["field"] == "bought"
    api_client.force_authenticate(None)
    client = key_client(scopes=["insights:read"], store=store_a)
    body = client.get("/api/v1/insights/cockpit/", {"section": "pool"}).json()
    assert [s["key"] for s in body["sections"]] == ["pool"]
    assert {f["key"]: f["value"] for f in body["sections"][0]["figures"]}["pool"] == 4
    assert client.get("/api/v1/insights/cockpit/", {"section": "nope"}).status_code == 400


def test_a_store_key_reads_its_store_only(key_client, store_a, store_b, shop):
    client = key_client(scopes=["insights:read"], store=store_a)
    assert client.get("/api/v1/insights/cockpit/", {"store": store_b.pk}).status_code == 404
    body = client.get("/api/v1/insights/cockpit/", {"store": store_a.pk, "section": "sales"}).json()
    assert {f["key"]: f["value"] for f in body["sections"][0]["figures"]}["buyers"] == 3
