"""The campaign members summary: for every preset period, the distinct members it keeps for each
part of the campaigns the cockpit sums are exactly the members the figure's list opens (brand-wide,
for an operator cut to a store and for a store manager), a member in two campaigns counted once; the
campaign totals read it at any size and say how fresh it is; other periods count live while small
and say so past that."""

from __future__ import annotations

import pytest
from django.db.models import Min
from django.utils import timezone

from campaigns.models import CampaignFiguresRun, Delivery
from insights.cockpit import base, engagement, services
from insights.models import CampaignSet, PeriodCampaignMembers, SummaryRun
from members.segments.audience import Audience
from tests.campaigns.conftest import everyone, make_campaign, policy  # noqa: F401 - the campaigns' fixtures
from tests.insights.test_cockpit import shop  # noqa: F401 - the same hand-built shop
from tests.insights.test_cockpit_activity import world  # noqa: F401 - the brand campaign on top of it
from tests.insights.test_cockpit_campaigns import two_campaigns  # noqa: F401 - and store A's own campaign

# Figure key: the part of the campaigns its list opens.
PARTS = {"campaign_targeted": "targeted", "campaign_suppressed": "suppressed", "campaign_sent": "sent",
         "campaign_delivered": "delivered", "campaign_held_out": "held_out", "campaign_clicked": "clicked",
         "campaign_converted": "converted", "campaign_orders": "converted", "campaign_revenue": "converted"}


def _campaigns(actor, period, store=None) -> dict:
    board = base.open_cockpit(actor, period=period, store_id=store)
    data = engagement.campaigns_section(board)
    return {f.key: f for f in data.figures}, data.notes


def _listed(actor, figure) -> int:
    return Audience(figure.definition, actor=actor).count


@pytest.mark.parametrize("days", base.PRESETS)
def test_the_summary_counts_the_members_each_total_opens(alice, bob, store_a, store_b, two_campaigns,  # noqa: F811
                                                         days):
    period = base.preset_period(days)
    run = SummaryRun.objects.get(name="campaign_members")
    for actor, store in ((alice, None), (alice, store_a.pk), (alice, store_b.pk), (bob, None)):
        figures, notes = _campaigns(actor, period, store)
        for key in PARTS:
            figure = figures[key]
            assert figure.members == _listed(actor, figure), (actor.username, store, key)
            assert figure.as_of is not None and figure.as_of <= run.refreshed_at, key
            assert figure.as_dict()["live"] is False
        assert any("campaign members summary" in note for note in notes)
    # Brand-wide: a1 and a2 got both campaigns, in each total and once among the members.
    brand, _notes = _campaigns(alice, period)
    assert (brand["campaign_targeted"].value, brand["campaign_targeted"].members) == (10, 6)
    assert (brand["campaign_delivered"].value, brand["campaign_delivered"].members) == (5, 3)
    assert (brand["campaign_held_out"].value, brand["campaign_held_out"].members) == (1, 1)  # a3
    assert (brand["campaign_converted"].members, brand["campaign_clicked"].members) == (2, 1)  # a2, b1; a1
    # The store manager: store A's own campaign, their members (a3 suppressed there, held out by the brand's).
    mine, _notes = _campaigns(bob, period)
    assert (mine["campaign_targeted"].members, mine["campaign_held_out"].members) == (4, 0)
    assert mine["campaign_converted"].members == 1  # a2
    # An operator cut to store A: the brand's and the store's campaigns, store A's members.
    cut, _notes = _campaigns(alice, period, store_a.pk)
    assert (cut["campaign_targeted"].members, cut["campaign_held_out"].members) == (4, 1)


def test_the_summary_rows_per_store_and_set(store_a, store_b, two_campaigns):  # noqa: F811
    today = timezone.localdate()
    period = base.preset_period(30, today=today)
    rows = {(r.whole_brand, r.store_id, r.campaigns): r
            for r in PeriodCampaignMembers.objects.filter(start=period.start, end=period.end)}
    assert set(rows) == {(True, None, CampaignSet.ALL), (False, store_a.pk, CampaignSet.BRAND_AND_STORE),
                         (False, store_a.pk, CampaignSet.STORE), (False, store_b.pk, CampaignSet.BRAND_AND_STORE),
                         (False, store_b.pk, CampaignSet.STORE)}
    assert (rows[(False, store_b.pk, CampaignSet.STORE)].targeted,
            rows[(False, store_b.pk, CampaignSet.BRAND_AND_STORE)].targeted) == (0, 2)  # b1, b2: the brand's
    # Only today's presets are kept: a refresh drops another day's rows.
    PeriodCampaignMembers.objects.filter(start=period.start).update(start=period.start.replace(year=2000))
    services.refresh_campaign_members(presets=(30,))
    assert not PeriodCampaignMembers.objects.filter(start__year=2000).exists()
    assert {(r.start, r.end) for r in PeriodCampaignMembers.objects.all()} == {
        (p.start, p.end) for p in (base.preset_period(d, today=today) for d in base.PRESETS)}


def test_the_totals_read_the_summary_until_it_is_refreshed(alice, two_campaigns):  # noqa: F811
    period = base.preset_period(7)
    Delivery.objects.filter(member=two_campaigns["a4"]).delete()  # suppressed in both campaigns
    figures, _notes = _campaigns(alice, period)
    targeted = figures["campaign_targeted"]
    assert (targeted.members, _listed(alice, targeted)) == (6, 5)  # as of the last refresh
    services.refresh_campaign_members(presets=(7,))
    figures, _notes = _campaigns(alice, period)
    assert figures["campaign_targeted"].members == 5
    # The figure is as old as the older of its two summaries: the campaigns' sums and their members.
    counted_at = PeriodCampaignMembers.objects.filter(start=period.start, whole_brand=True).get().computed_at
    summed_at = CampaignFiguresRun.objects.aggregate(oldest=Min("computed_at"))["oldest"]
    assert figures["campaign_targeted"].as_of == min(counted_at, summed_at)


def test_other_periods_count_live_while_small_and_say_so_past_that(alice, bob, two_campaigns,  # noqa: F811
                                                                   monkeypatch):
    today = timezone.localdate()
    custom = base.Period(today - timezone.timedelta(days=9), today)
    figures, notes = _campaigns(alice, custom)
    for key in PARTS:
        assert figures[key].members == _listed(alice, figures[key]), key
    assert not any("campaign members summary" in note for note in notes)
    monkeypatch.setattr(engagement, "LISTED_MAX_DELIVERIES", 3)  # store A's campaign's 4 recipients are too many
    figures, notes = _campaigns(bob, custom)
    assert all(figures[key].members is None for key in PARTS)
    assert any("preset periods" in note for note in notes)
    # A preset whose summary is not built yet says so too; once built it counts at any size.
    PeriodCampaignMembers.objects.all().delete()
    figures, notes = _campaigns(alice, base.preset_period(30))
    assert figures["campaign_targeted"].members is None
    assert any("next scheduled refresh" in note for note in notes)
    services.refresh_campaign_members()
    figures, _notes = _campaigns(alice, base.preset_period(30))
    assert figures["campaign_targeted"].members == 6
