"""A community's figures and its store's from known data: members and growth, active share,
events held, seats, attendance, repeat attendees, and purchases of its members against the
store's other members (net of refunds, last 90 days); on the page, the store panel and the API,
scoped like the community."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from communities import queries
from communities.models import CheckIn, CommunityMembership, Event, SignUp
from communities.services import communities as community_services
from communities.services import events as event_services
from communities.services import signups
from loyalty.orders.models import Order
from members.models import Member

pytestmark = pytest.mark.django_db


def days_ago(n: float):
    return timezone.now() - dt.timedelta(days=n)


def order(member, store, paid, refunded=0, *, when):
    Order.objects.create(channel="pos", external_id=f"o-{Order.objects.count() + 1}", member=member, store=store,
                         total_amount=Decimal(paid), refunded_amount=Decimal(refunded), placed_at=when)


def held_event(make_event, title, when):
    event = make_event(title=title, capacity=10)
    Event.objects.filter(pk=event.pk).update(starts_at=when, ends_at=when + dt.timedelta(hours=2))
    return event


def attend(event, member, *, signed, at):
    SignUp.objects.filter(event=event, member=member).update(state="attended", created_at=signed)
    CheckIn.objects.create(event=event, member=member, store=event.store, source="list", at=at)


@pytest.fixture
def known(club, make_event, bob, store_a, store_b, members):
    a, b = members
    x, y, w = (Member.objects.create(name=n, home_store=store_a) for n in ("x", "y", "w"))
    gone = Member.objects.create(name="erased", home_store=store_a, erased_at=timezone.now())
    for member, joined in ((a[0], 40), (a[1], 5), (x, 10), (y, 200), (a[2], 100)):
        community_services.join(community=club, member_id=member.pk, actor=bob)
        CommunityMembership.objects.filter(member=member).update(joined_at=days_ago(joined))
    CommunityMembership.objects.filter(member=a[2]).update(left_at=days_ago(50))  # left: one of the others now

    recent = make_event(title="Recent run", capacity=10)
    for member in (a[0], a[1]):
        signups.sign_up(event=recent, member_id=member.pk, actor=bob)
    Event.objects.filter(pk=recent.pk).update(starts_at=days_ago(10), ends_at=days_ago(10) + dt.timedelta(hours=2))
    SignUp.objects.filter(event=recent).update(created_at=days_ago(12))
    old = held_event(make_event, "Old run", days_ago(100))
    attend(recent, a[0], signed=days_ago(12), at=days_ago(10))  # a[1] signed up and did not come
    for member in (a[0], y):
        SignUp.objects.create(event=old, member=member, store=store_a, state="confirmed", code=f"OLD{member.pk}")
        attend(old, member, signed=days_ago(101), at=days_ago(100))
    upcoming = make_event(title="Next run")
    signups.sign_up(event=upcoming, member_id=x.pk, actor=bob)  # x: active by signing up now
    cancelled = held_event(make_event, "Rained off", days_ago(3))
    Event.objects.filter(pk=cancelled.pk).update(status="cancelled")

    order(a[0], store_a, 300, 100, when=days_ago(20))  # net 200
    order(a[0], store_a, 1000, when=days_ago(120))  # too old
    order(x, store_a, 100, when=days_ago(1))
    order(a[2], store_a, 500, when=days_ago(30))  # another member of the store
    order(gone, store_a, 9000, when=days_ago(2))  # erased: counted nowhere
    order(b[0], store_b, 700, when=days_ago(2))  # another store
    return {"a": a, "x": x, "y": y, "w": w}


def test_a_communitys_figures_from_known_data(club, known, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        figures = queries.community_figures([club.pk])[club.pk]
    assert figures == {
        "members": 4, "joined_30_days": 2, "active_members": 3, "active_share": Decimal("0.750"),
        "events_held": 2, "signups": 4, "attended": 3, "attendance_rate": Decimal("0.750"),
        "repeat_attendees": 1, "order_value_per_member": Decimal("75.00"),  # (200 + 100) / 4
        "other_store_members": 2, "other_order_value_per_member": Decimal("250.00"),  # a[2] 500, w 0
        "ratings": 0, "rating_average": None,
    }


def test_an_empty_community_has_no_rates(store_a, bob, carol):
    empty = community_services.create_community(actor=bob, data=community_services.CommunityInput(
        store=store_a, name="Quiet club", owner=carol))
    figures = queries.community_figures([empty.pk])[empty.pk]
    assert figures["members"] == 0 and figures["active_share"] is None and figures["attendance_rate"] is None
    assert figures["order_value_per_member"] is None


def test_the_store_panel_the_community_page_and_the_api(club, known, bob, alice, dave, store_a):
    figures = queries.store_figures(store_a.pk, bob)
    assert figures["community_members"] == 4 and figures["joined_30_days"] == 2
    assert figures["order_value_per_member"] == Decimal("75.00")
    assert figures["other_store_members"] == 2 and figures["other_order_value_per_member"] == Decimal("250.00")
    assert [c.pk for c, _f in figures["rows"]] == [club.pk]

    manager = Client()
    manager.force_login(bob)
    listing = manager.get("/communities/").content.decode()
    assert 'data-testid="store-figures"' in listing and "4 members in its communities" in listing
    page = manager.get(f"/communities/{club.pk}/").content.decode()
    assert 'data-testid="fig-active">75%' in page and 'data-testid="fig-spend">75.00' in page
    operator = Client()
    operator.force_login(alice)
    assert 'data-testid="store-figures"' not in operator.get("/communities/").content.decode()
    assert 'data-testid="store-figures"' in operator.get(f"/communities/?store={store_a.code}").content.decode()

    api = APIClient()
    api.force_authenticate(bob)
    answer = api.get(f"/api/v1/communities/{club.pk}/figures/")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["community"] == club.pk and body["members"] == 4 and body["active_share"] == "0.750"
    assert body["order_value_per_member"] == "75.00" and body["other_order_value_per_member"] == "250.00"
    api.force_authenticate(dave)
    assert api.get(f"/api/v1/communities/{club.pk}/figures/").status_code == 404


def test_cancelling_an_event_keeps_it_out_of_events_held(club, make_event, bob):
    event = make_event()
    Event.objects.filter(pk=event.pk).update(starts_at=days_ago(2), ends_at=days_ago(1.9))
    assert queries.community_figures([club.pk])[club.pk]["events_held"] == 1
    event_services.cancel_event(event=Event.objects.get(pk=event.pk), actor=bob)
    assert queries.community_figures([club.pk])[club.pk]["events_held"] == 0
