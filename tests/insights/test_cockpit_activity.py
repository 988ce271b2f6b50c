"""The cockpit's sections over campaigns, staff tasks, communities, KOC output and WeCom churn, and
the store page, against hand-built data: exact figures for the operator and a store manager, every
figure against its drill-down's member list, the quick refresh, refusals, exports and the API."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.links.models import Click, ShortLink
from campaigns.models import Delivery
from communities.models import CheckIn, Community, CommunityMembership, Event, SignUp
from insights.cockpit import base, services
from journeys.models import Task
from koc.models import Creator, Post
from loyalty.orders.models import Order
from members.models import Member
from tests.campaigns.conftest import everyone, make_campaign, policy  # noqa: F401 - the campaigns' fixtures
from tests.insights.test_cockpit import _ago, _walk, shop  # noqa: F401 - the same hand-built shop
from wecom.models import WecomContact, WecomFollow, WecomStaff


@pytest.fixture
def world(shop, store_a, store_b, alice, carol, dave, make_campaign):  # noqa: F811
    """On top of the shop: a campaign started 3.5 days ago, delivered to a1, a2 and b1 (a1 clicked),
    a3 held out; a2's two POS orders credited to carol; carol's task about a1 done on time, an open
    overdue one about a2, dave's task about b1 done late; a running group in store A (a1 joined 4
    days ago, a2 40 days ago), an event 2 days ago a1 signed up for and checked in at; a3 a creator
    with a post 6 days ago (media value 120.50); b2 deleted carol on WeCom 2 days ago."""
    a1, a2, a3, b1, b2 = (shop[k] for k in ("a1", "a2", "a3", "b1", "b2"))
    campaign = make_campaign(name="Autumn run")
    started = _ago(3.5)
    type(campaign).objects.filter(pk=campaign.pk).update(started_at=started)
    rows = Delivery.objects.filter(campaign=campaign)
    rows.update(state="suppressed", reason="no_consent")
    rows.filter(member__in=[a1, a2, b1]).update(state="sent", reason="", sent_at=started + timedelta(hours=1))
    rows.filter(member=a3).update(state="held_out", reason="")
    link = ShortLink.objects.create(code="cockpit1", campaign=campaign, target_url="https://example.com/")
    at = _ago(3)
    Click.objects.create(link=link, campaign=campaign, member=a1, clicked_at=at, minute=at.replace(second=0))
    Order.objects.filter(member=a2, channel="pos").update(staff=carol)

    Task.objects.create(kind="follow_up", member=a1, assignee=carol, store=store_a, due_at=_ago(1), state="done",
                        outcome="reached", done_at=_ago(1.5), done_by=carol, created_at=_ago(2))
    Task.objects.create(kind="follow_up", member=a2, assignee=carol, store=store_a, due_at=_ago(1),
                        created_at=_ago(2))
    Task.objects.create(kind="birthday", member=b1, assignee=dave, store=store_b, due_at=_ago(3), state="done",
                        outcome="bought", done_at=_ago(1), done_by=dave, created_at=_ago(4))

    club = Community.objects.create(store=store_a, name="Morning runners", kind="running", owner=carol)
    CommunityMembership.objects.create(community=club, member=a1, joined_at=_ago(4))
    CommunityMembership.objects.create(community=club, member=a2, joined_at=_ago(40))
    event = Event.objects.create(community=club, store=store_a, title="5 km", place="Park", starts_at=_ago(2),
                                 ends_at=_ago(1.9), capacity=20)
    signup = SignUp.objects.create(event=event, member=a1, store=store_a, state="attended", code="CK0001",
                                   created_at=_ago(5))
    CheckIn.objects.create(event=event, member=a1, store=store_a, signup=signup, source="list", at=_ago(2))

    creator = Creator.objects.create(member=a3)
    Post.objects.create(creator=creator, platform="xiaohongshu", url="https://www.xiaohongshu.com/explore/1",
                        url_key="xiaohongshu.com/explore/1", published_at=_ago(6), views=1000,
                        media_value=Decimal("120.50"))

    staff = WecomStaff.objects.create(userid="carol", user=carol, store=store_a)
    contact = WecomContact.objects.create(external_userid="wm-b2", member=b2)
    WecomFollow.objects.create(contact=contact, staff=staff, deleted_at=_ago(2), deleted_by="customer")
    services.refresh(full=True)
    return {**shop, "campaign": campaign}


def _read(actor, page="cockpit", **params):
    period = base.parse_period(params)
    board = base.open_cockpit(actor, period=period, store_id=params.get("store"))
    return {f.key: f for _s, data in base.read(board, page=page) for f in data.all_figures()}


def test_operator_activity_figures(alice, world):
    f = _read(alice)
    pk = world["campaign"].pk
    assert f["campaigns_started"].value == 1 and f["campaigns_started"].previous == 0
    assert (f["campaign_sent"].value, f["campaign_delivered"].value, f["campaign_clicked"].value) == (3, 3, 1)
    # Attributed: a2's POS orders 2 and 4 days ago fall before... the one 2 days ago after the send; b1's Tmall one.
    assert f["campaign_converted"].value == 2 and f["campaign_orders"].value == 2
    assert f["campaign_revenue"].value == Decimal("600.00")
    # Uplift: the delivered bought 2 of 3 in the window, the held out (a3, an order 3 days ago) 1 of 1.
    assert f["campaign_uplift"].value == round(2 / 3 - 1, 4)
    assert (f[f"c_delivered_{pk}"].value, f[f"c_held_{pk}"].value, f[f"c_clicked_{pk}"].value) == (3, 1, 1)
    assert (f["tasks_created"].value, f["tasks_done"].value, f["tasks_on_time"].value) == (3, 2, 0.5)
    assert (f["tasks_created_done"].value, f["tasks_overdue"].value) == (round(2 / 3, 4), 1)
    assert (f["outcome_reached"].value, f["outcome_bought"].value) == (1, 1)
    assert f["members_served"].value == 2
    assert (f["communities_active"].value, f["community_joined"].value, f["community_joined"].previous) == (1, 1, 1)
    assert (f["events_run"].value, f["signed_up"].value, f["checked_in"].value) == (1, 1, 1)
    assert (f["creators_posted"].value, f["posts"].value, f["media_value"].value) == (1, 1, Decimal("120.50"))
    assert (f["deleted_staff"].value, f["deletions"].value) == (1, 1)


def test_store_manager_activity_figures(bob, alice, store_a, world):
    f = _read(bob)
    pk = world["campaign"].pk
    # A brand-wide campaign is not the store manager's to see (as on the campaign's own results page).
    assert f["campaigns_started"].value == 0 and f"c_delivered_{pk}" not in f
    assert (f["tasks_created"].value, f["tasks_done"].value, f["members_served"].value) == (2, 1, 1)
    assert f["deleted_staff"].value == 0  # b2 is store B's
    assert f["creators_posted"].value == 1 and f["checked_in"].value == 1
    cut = _read(alice, store=str(store_a.pk))
    # The operator cut to store A reads the same, and the brand's campaigns for store A's members.
    assert (cut["campaign_delivered"].value, cut[f"c_delivered_{pk}"].value, cut[f"c_held_{pk}"].value) == (2, 2, 1)
    mine = {k: v.value for k, v in f.items() if not k.startswith("campaign")}
    assert {k: v.value for k, v in cut.items() if k in mine} == mine


def test_store_page(bob, alice, store_a, store_b, carol, world):
    f = _read(bob, page="store")
    # Store A: a1..a4; bought: a1 (USD counts as a purchase), a2, a3; a4 never. The members now, beside
    # the pool at the end of the 30 days before (a3 and a4).
    assert (f["store_members"].value, f["store_converted"].value, f["store_potential"].value) == (4, 3, 1)
    assert f["store_converted_share"].value == 0.75
    # At the end of the 30 days before: a3 (joined 40 days ago, bought 35 days ago) and a4 (never).
    assert (f["store_members"].previous, f["store_converted"].previous, f["store_potential"].previous) == (2, 1, 1)
    assert (f["store_converted_share"].previous, f["store_converted"].change) == (0.5, 2)
    assert (f["store_served"].value, f["store_served_share"].value) == (1, 0.25)
    assert f[f"staff_members_added_{carol.pk}"].value == 1
    assert f[f"staff_tasks_done_{carol.pk}"].value == 1 and f[f"staff_events_run_{carol.pk}"].value == 1
    assert (f[f"staff_sales_{carol.pk}"].value, f[f"staff_sales_{carol.pk}"].previous) == (2, 0)
    assert f[f"staff_amount_{carol.pk}"].value == Decimal("350.00")  # 100 + (300 - 50 refunded)
    assert f[f"overdue_{carol.pk}"].value == 1
    assert _read(alice, page="store", store=str(store_a.pk))["store_potential"].value == 1
    with pytest.raises(Exception) as refused:
        _read(alice, page="store")
    assert "store" in refused.value.details


def test_the_store_page_before_counts_only_members_who_had_joined(client, bob, store_a, world):
    # An order imported from Tmall placed 40 days ago, linked to a member who joined 10 days ago: at
    # the end of the period before they were no member yet, neither converted nor potential.
    late = Member.objects.create(name="a5", home_store=store_a, created_at=_ago(10), source="import")
    Order.objects.create(channel="tmall", external_id="L1", member=late, store=store_a, total_amount=Decimal("50"),
                         placed_at=_ago(40))
    services.refresh(full=True)
    f = _read(bob, page="store")
    assert (f["store_members"].value, f["store_converted"].value) == (5, 4)
    assert (f["store_members"].previous, f["store_converted"].previous, f["store_potential"].previous) == (2, 1, 1)
    assert _walk(client, bob, {}, url_name="insights-store") >= 10  # six figures, four of them before too


def test_every_new_figure_equals_its_drill_down(client, alice, bob, store_a, world):
    assert _walk(client, alice, {}) > 80
    assert _walk(client, bob, {"days": "7"}) > 60
    assert _walk(client, bob, {}, url_name="insights-store") >= 6
    assert _walk(client, alice, {"store": store_a.pk}, url_name="insights-store") >= 6


def test_quick_refresh_adds_todays_activity(alice, world):
    event = Event.objects.get()
    CheckIn.objects.create(event=event, member=world["a2"], store=event.store, source="list", at=_ago(0.01))
    Order.objects.create(channel="pos", external_id="Q1", member=world["a4"], store=world["a4"].home_store,
                         total_amount=Decimal("10"), placed_at=_ago(0.01))
    assert _read(alice)["checked_in"].value == 1
    took = services.refresh(full=False)
    assert {"activity_ms", "staff_ms", "campaigns_ms"} <= set(took)
    assert _read(alice)["checked_in"].value == 2
    store = _read(alice, page="store", store=str(world["a4"].home_store_id))
    assert (store["store_converted"].value, store["store_potential"].value) == (4, 0)


def test_the_store_page_screen_and_refusals(client, alice, bob, carol, store_a, store_b, world):
    client.force_login(alice)
    page = client.get(reverse("insights-store"))
    assert page.status_code == 200 and b'data-testid="choose-store"' in page.content
    page = client.get(reverse("insights-store"), {"store": store_a.pk})
    assert b'data-testid="section-staff_leaderboard"' in page.content
    client.force_login(bob)
    assert client.get(reverse("insights-store"), {"store": store_b.pk}).status_code == 404
    assert b"section-store_resources" in client.get(reverse("insights-store")).content
    client.force_login(carol)
    assert client.get(reverse("insights-store")).status_code == 403


def test_exports_of_the_new_tables(client, alice, store_a, world):
    client.force_login(alice)
    url = reverse("insights-cockpit-export")
    response = client.get(url, {"table": "campaigns", "format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][0] == "Autumn run" and rows[1][1] == "6"  # targeted: every member of the segment
    for key in ("task_outcomes", "koc_platforms", "churn_by_store", "communities", "churn"):
        assert client.get(url, {"table": key, "format": "xlsx"}).status_code == 200
    response = client.get(url, {"table": "staff_leaderboard", "format": "csv", "page": "store", "store": store_a.pk})
    assert response.status_code == 200
    assert client.get(url, {"table": "staff_leaderboard", "page": "nope"}).status_code == 400


def test_api_sections_and_the_store_page(api_client, key_client, alice, store_a, store_b, world):
    api_client.force_authenticate(alice)
    body = api_client.get("/api/v1/insights/cockpit/", {"section": "churn"}).json()
    assert body["page"] == "cockpit" and [s["key"] for s in body["sections"]] == ["churn"]
    figure = body["sections"][0]["figures"][0]
    assert figure["value"] == 1 and figure["definition"]["all"][0]["field"] == "did"
    assert api_client.get("/api/v1/insights/cockpit/", {"page": "store"}).status_code == 400
    assert api_client.get("/api/v1/insights/cockpit/", {"page": "nope"}).status_code == 400
    body = api_client.get("/api/v1/insights/cockpit/", {"page": "store", "store": store_a.pk}).json()
    assert [s["key"] for s in body["sections"]] == ["store_resources", "staff_leaderboard", "overdue_tasks"]
    api_client.force_authenticate(None)
    client = key_client(scopes=["insights:read"], store=store_a)
    body = client.get("/api/v1/insights/cockpit/", {"page": "store", "section": "store_resources"}).json()
    assert {f["key"]: f["value"] for f in body["sections"][0]["figures"]}["store_potential"] == 1
    assert client.get("/api/v1/insights/cockpit/", {"page": "store", "store": store_b.pk}).status_code == 404


def test_export_and_erasure(alice, world):
    from insights import privacy
    from insights.models import MemberActivity
    from members.privacy_registry import ErasureSubject

    a1 = world["a1"]
    part = privacy.export(a1, alice)
    assert {r["kind"] for r in part["activity_days"]} == {"community_joined", "signed_up", "checked_in", "served",
                                                         "first_order"}
    assert [m["stage"] for m in part["stage_moves"]] == ["act"]
    assert privacy.erase(ErasureSubject(member_ids=[a1.pk]))["activity_days"] == 5
    assert not MemberActivity.objects.filter(member=a1).exists()
    assert privacy.erase(ErasureSubject(member_ids=[a1.pk]))["activity_days"] == 0


@pytest.mark.parametrize(("leaf", "where"), [
    ({"field": "did", "op": "between", "value": ["2026-01-01", "2026-01-31", "flew"]}, "$.all[0].value[2]"),
    ({"field": "did", "op": "between", "value": ["2026-02-01", "2026-01-31", "posted"]}, "$.all[0].value[1]"),
    ({"field": "did", "op": "between", "value": ["yesterday", "2026-01-31", "posted"]}, "$.all[0].value[0]"),
    ({"field": "campaign_part", "op": "in", "value": ["x", "delivered"]}, "$.all[0].value[0]"),
    ({"field": "campaign_part", "op": "in", "value": ["7", "opened"]}, "$.all[0].value[1]"),
    ({"field": "bought_by", "op": "before", "value": "2026-13-01"}, "$.all[0].value"),
])
def test_the_drill_down_conditions_name_bad_values(db, leaf, where):
    from members.segments.definition import DefinitionError, parse

    with pytest.raises(DefinitionError) as refused:
        parse({"all": [leaf]})
    assert [e["path"] for e in refused.value.errors] == [where]


def test_member_counts_of_the_preset_periods_are_read_from_their_summary(alice, bob, world):
    from insights.cockpit import activity
    from insights.models import MemberActivity, PeriodActivity, StageMove, SummaryRun

    counted = SummaryRun.objects.get(name="period_activity").refreshed_at
    before = {days: _read(alice, days=str(days)) for days in (7, 30, 365)}
    mine = _read(bob)
    # With the rows they were counted from gone, the preset periods' figures and chart points stand
    # (read from the activity per period summary, as of its refresh); a custom period counts live.
    MemberActivity.objects.all().delete()
    StageMove.objects.all().delete()
    for days, figures in before.items():
        after = _read(alice, days=str(days))
        for key in ("checked_in", "members_served", "creators_posted", "posts", "media_value", "deleted_staff",
                    "deletions", f"churn_store_{world['b2'].home_store_id}", "moved_act"):
            assert after[key].value == figures[key].value, (days, key)
            assert after[key].as_of == counted, (days, key)
        points = {k: f.value for k, f in after.items() if k.startswith(("community_trend_", "koc_trend_"))}
        assert points == {k: f.value for k, f in figures.items() if k in points} and sum(points.values()) > 0
    assert {k: f.value for k, f in _read(bob).items() if k in ("members_served", "checked_in")} == {
        k: mine[k].value for k in ("members_served", "checked_in")}
    today = base.preset_period(1).end
    custom = _read(alice, start=str(today - timedelta(days=9)), end=str(today))
    assert custom["checked_in"].value == 0
    # The next refresh counts them again; every kept window has its brand-wide row, zero or not, and
    # windows no longer kept (yesterday's) are dropped.
    stale = PeriodActivity.objects.create(start=today - timedelta(days=40), end=today - timedelta(days=11),
                                          whole_brand=True, kind="checked_in", members=9, rows=9, computed_at=counted)
    services.refresh(full=True)
    assert _read(alice)["checked_in"].value == before[30]["checked_in"].value == 1
    assert not PeriodActivity.objects.filter(pk=stale.pk).exists()
    windows = PeriodActivity.objects.filter(whole_brand=True, kind="checked_in")
    assert windows.count() == len(activity.activity_windows(today)) > 140


def test_the_pool_is_the_stores_totals_less_who_joined_after(alice, bob, store_a, world):
    from django.db.models import Sum

    from insights.models import DailyMembers

    rows = DailyMembers.objects.filter(store=store_a)
    total = rows.get(dimension="total").members
    assert total == rows.filter(dimension="source").aggregate(n=Sum("members"))["n"] == 4
    # The totals alone make the pool now: with the days before the period before gone, it stands;
    # the pool at the end of the period before is the total less who joined since.
    assert rows.filter(dimension="source", day__lt=base.preset_period(30).previous.start).delete()[0] > 0
    f = _read(bob, page="store")
    assert (f["store_members"].value, f["store_members"].previous) == (4, 2)
    assert _read(alice, store=str(store_a.pk))["pool"].value == 4


def test_the_members_summary_rewrites_only_the_rows_that_moved(store_a, world):
    from django.db import connection

    def versions():
        with connection.cursor() as cursor:
            cursor.execute("SELECT dimension, day, store_id, key, members, ctid::text FROM insights_dailymembers")
            return {tuple(r[:4]): tuple(r[4:]) for r in cursor.fetchall()}

    before = versions()
    Member.objects.create(name="a6", home_store=store_a, source="import")
    services.refresh_members()
    after = versions()
    today = base.preset_period(1).end
    moved = {k for k in after if after[k] != before.get(k)}
    assert moved == {("source", today, store_a.pk, "import"), ("total", today, store_a.pk, "")}
    assert set(before) <= set(after) and len(before) > 10
    assert after[("total", today, store_a.pk, "")][0] == before[("total", today, store_a.pk, "")][0] + 1


def test_the_first_quick_refresh_of_a_day_builds_every_window(alice, world):
    from insights.cockpit import activity
    from insights.models import PeriodActivity

    today = base.preset_period(1).end
    PeriodActivity.objects.all().delete()  # as after midnight: no window of the new day kept
    services.refresh(full=False)
    year = base.preset_period(365)
    assert PeriodActivity.objects.filter(start=year.start, end=year.end, whole_brand=True).exists()
    assert PeriodActivity.objects.filter(whole_brand=True, kind="checked_in").count() == len(
        activity.activity_windows(today))
    # Later quick refreshes rebuild only the short presets and the last days.
    PeriodActivity.objects.filter(start=year.start, end=year.end).update(members=7)
    services.refresh(full=False)
    assert set(PeriodActivity.objects.filter(start=year.start, end=year.end).values_list("members", flat=True)) == {7}
