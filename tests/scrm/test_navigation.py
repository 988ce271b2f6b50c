"""The sidebar shows each role what it may open, and lights the page the user is on."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def sidebar(client, user, path="/"):
    client.force_login(user)
    html = client.get(path).content.decode()
    nav = html.split('class="sidebar"', 1)[1].split("</nav>", 1)[0]
    links = re.findall(r'<a href="([^"]+)"( class="active")?', nav)
    return {href for href, _ in links}, [href for href, active in links if active]


def test_operator_sees_every_section_and_settings(client, alice):
    links, _ = sidebar(client, alice)
    for name in (
        "order-list",
        "insights-figures",
        "tier-ladder",
        "reward-list",
        "redemption-list",
        "commission-list",
        "points-policy",
        "commission-rule-list",
        "order-attribution",
        "api-key-list",
    ):
        assert reverse(name) in links, name


def test_store_roles_see_only_their_links(client, bob, carol):
    manager, _ = sidebar(client, bob)
    assert {reverse("order-list"), reverse("insights-figures"), reverse("redemption-list")} <= manager
    assert reverse("commission-list") in manager
    assert not {reverse("points-policy"), reverse("commission-rule-list"), reverse("api-key-list")} & manager

    clerk, _ = sidebar(client, carol, "/members/")
    assert {reverse("member-list"), reverse("order-list"), reverse("reward-list"), reverse("tier-ladder")} <= clerk
    assert not {reverse("insights-figures"), reverse("segment-list"), reverse("member-import")} & clerk


@pytest.mark.parametrize(
    ("path", "lit"),
    [("/", "home"), ("/members/", "member-list"), ("/members/import/", "member-import"), ("/orders/", "order-list")],
)
def test_the_current_page_is_lit_and_only_it(client, alice, path, lit):
    _, active = sidebar(client, alice, path)
    assert active == [reverse(lit)]


def test_a_detail_page_lights_its_list(client, alice, members):
    member = members[0][0]
    _, active = sidebar(client, alice, reverse("member-detail", args=[member.pk]))
    assert active == [reverse("member-list")]
