"""The cockpit's campaign figures against their drill-downs: every total (targeted, suppressed, sent,
delivered, held out, clicked, ordered, attributed orders and revenue) and every campaign's row opens
the member list of exactly the members it counts, a member in two campaigns listed once; a store
manager's lists stay in their store; a campaign condition the list cannot read lists no one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from campaigns.models import Delivery
from campaigns.services import figures
from insights.cockpit import services
from members.models import Member
from tests.campaigns.conftest import everyone, make_campaign, policy  # noqa: F401 - the campaigns' fixtures
from tests.insights.test_cockpit import _ago, _walk, shop  # noqa: F401 - the same hand-built shop
from tests.insights.test_cockpit_activity import world  # noqa: F401 - the brand campaign on top of it

# Figures of the section that count no members (campaigns, a difference of rates).
NO_MEMBERS = {"campaigns_started", "campaign_uplift"}


@pytest.fixture
def two_campaigns(world, store_a, make_campaign):  # noqa: F811
    """Beside the brand's "Autumn run" (a1, a2, b1 delivered, a3 held out, a1 clicked): store A's
    own campaign started 2.6 days ago, delivered to a1 and a2 and suppressed for a3 and a4; its
    message is a2's last touch before their POS order 2 days ago, so that order is its."""
    campaign = make_campaign(name="Store A run")
    started = _ago(2.6)
    type(campaign).objects.filter(pk=campaign.pk).update(started_at=started, store=store_a)
    rows = Delivery.objects.filter(campaign=campaign)
    rows.exclude(member__home_store=store_a).delete()  # a store's campaign reaches its own members
    rows.update(state="suppressed", reason="no_consent")
    rows.filter(member__in=[world["a1"], world["a2"]]).update(state="sent", reason="",
                                                             sent_at=started + timedelta(hours=1))
    services.refresh(full=True)
    # The brand's campaign was summed with the world; a2's order has moved to the new campaign since.
    figures.refresh(campaign=world["campaign"])
    return {**world, "store_campaign": campaign}


def _section(client, user, **params):
    client.force_login(user)
    response = client.get(reverse("insights-cockpit"), params)
    assert response.status_code == 200
    data = next(data for _s, data in response.context["sections"] if data.key == "campaigns")
    return {f.key: f for f in data.all_figures()}


def _listed(client, url) -> set:
    response = client.get(url)
    assert response.status_code == 200
    return {m.name for m in response.context["object_list"]}


def test_every_campaign_figure_opens_its_members(client, alice, bob, store_a, two_campaigns):
    brand, mine = two_campaigns["campaign"].pk, two_campaigns["store_campaign"].pk
    f = _section(client, alice)
    # Totals sum each campaign's recipients; their lists name each member once.
    expected = {
        "campaign_targeted": (6 + 4, {"a1", "a2", "a3", "a4", "b1", "b2"}),
        "campaign_suppressed": (2 + 2, {"a3", "a4", "b2"}),
        "campaign_sent": (3 + 2, {"a1", "a2", "b1"}),
        "campaign_delivered": (3 + 2, {"a1", "a2", "b1"}),
        "campaign_held_out": (1, {"a3"}),
        "campaign_clicked": (1, {"a1"}),
        "campaign_converted": (2, {"a2", "b1"}),  # a2's order is the store campaign's, b1's the brand's
        "campaign_orders": (2, {"a2", "b1"}),
    }
    for key, (value, names) in expected.items():
        assert f[key].value == value, key
        assert _listed(client, f[key].url) == names, key
        assert f[key].members == len(names), key
    assert f[f"c_converted_{brand}"].value == 1 and _listed(client, f[f"c_converted_{brand}"].url) == {"b1"}
    assert f[f"c_converted_{mine}"].value == 1 and _listed(client, f[f"c_converted_{mine}"].url) == {"a2"}
    assert _listed(client, f[f"c_suppressed_{mine}"].url) == {"a3", "a4"}
    assert _listed(client, f[f"c_targeted_{mine}"].url) == {"a1", "a2", "a3", "a4"}
    # Every figure of the section but the two that count no members opens a list, and so does the
    # period before's value of every total.
    for figure in f.values():
        key = figure.key.rsplit("_", 1)[0] if figure.key.startswith("c_") else figure.key
        if key in NO_MEMBERS or key == "c_uplift":
            assert figure.url is None, figure.key
            continue
        assert figure.url is not None, figure.key
        if not figure.key.startswith("c_"):
            assert figure.previous_url is not None, figure.key
            assert _listed(client, figure.previous_url) == set(), figure.key  # no campaign the month before
    assert _walk(client, alice, {}) > 80


def test_a_store_managers_campaign_lists_stay_in_their_store(client, alice, bob, store_a, two_campaigns):
    brand, mine = two_campaigns["campaign"].pk, two_campaigns["store_campaign"].pk
    f = _section(client, bob)
    # Their store's own campaign only (the brand's is not theirs to read, as on its results page).
    assert f"c_delivered_{brand}" not in f
    assert (f["campaign_delivered"].value, f["campaign_targeted"].value) == (2, 4)
    assert _listed(client, f["campaign_delivered"].url) == {"a1", "a2"}
    assert _listed(client, f["campaign_converted"].url) == {"a2"}
    assert _walk(client, bob, {}) > 60
    # The brand's drill-down opened by the store manager lists their store's members only.
    brand_delivered = _section(client, alice)["campaign_delivered"].url
    client.force_login(bob)
    assert _listed(client, brand_delivered) == {"a1", "a2"}
    # An operator cut to store A: the brand's campaigns and the store's, store A's members.
    cut = _section(client, alice, store=store_a.pk)
    assert (cut["campaign_delivered"].value, cut["campaign_delivered"].members) == (2 + 2, 2)
    assert _listed(client, cut["campaign_held_out"].url) == {"a3"}
    assert _listed(client, cut[f"c_delivered_{mine}"].url) == {"a1", "a2"}
    assert _walk(client, alice, {"store": store_a.pk}) > 60


@pytest.mark.parametrize("value", [
    ["2026-01-01", "2026-01-31", "opened", "all"],
    ["2026-01-01", "2026-01-31", "sent", "store:x"],
    ["2026-01-01", "2026-01-31", "sent", "everyone"],
    ["2026-02-01", "2026-01-31", "sent", "all"],
])
def test_a_campaign_condition_the_list_cannot_read_lists_no_one(client, alice, shop, value):  # noqa: F811
    query = [("r.match", "all"), ("r.0.filter", "campaigns_part"), ("r.0.op", "in")]
    query += [("r.0.value", v) for v in value]
    client.force_login(alice)
    response = client.get(reverse("member-list"), query)
    assert response.status_code == 200
    assert response.context["audience_incomplete"] is True
    assert list(response.context["object_list"]) == [] and Member.live.count() == 6


@pytest.mark.parametrize(("value", "where"), [
    (["2026-01-01", "2026-01-31", "opened", "all"], "$.all[0].value[2]"),
    (["2026-01-01", "2026-01-31", "sent", "brand+0"], "$.all[0].value[3]"),
    (["2026-01-01", "2026-01-31", "sent", 7], "$.all[0].value[3]"),
    (["2026-01-01", "2026-13-31", "sent", "all"], "$.all[0].value[1]"),
])
def test_the_campaigns_condition_names_bad_values(db, value, where):
    from members.segments.definition import DefinitionError, parse

    with pytest.raises(DefinitionError) as refused:
        parse({"all": [{"field": "campaigns_part", "op": "in", "value": value}]})
    assert [e["path"] for e in refused.value.errors] == [where]
