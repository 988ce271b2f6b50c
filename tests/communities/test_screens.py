"""The communities screens through Django's client: lists, a community's and an event's page, the
phone views and the door's check-in form (without scripts: it redirects with the answer)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from communities.models import CheckIn
from communities.services import communities as community_services
from communities.services import signups

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_lists_and_pages(club, make_event, bob, dave, members):
    a, _b = members
    event = make_event()
    signups.sign_up(event=event, member_id=a[0].pk, actor=bob)
    community_services.join(community=club, member_id=a[1].pk, actor=bob)
    manager = client_for(bob)
    assert "Night runners" in manager.get("/communities/").content.decode()
    page = manager.get(f"/communities/{club.pk}/").content.decode()
    assert "Night run" in page and a[1].name in page
    assert "Night run" in manager.get("/events/?status=open").content.decode()
    detail = manager.get(f"/events/{event.pk}/").content.decode()
    assert a[0].name in detail and 'data-state="confirmed"' in detail
    other = client_for(dave)
    assert other.get(f"/communities/{club.pk}/").status_code == 404
    assert other.get(f"/events/{event.pk}/").status_code == 404
    assert other.get(f"/m/events/{event.pk}/check-in/").status_code == 404
    assert "Night runners" not in other.get("/communities/").content.decode()


def test_the_phone_views_and_the_door(club, make_event, carol, bob, members):
    a, _b = members
    now = timezone.now()
    midnight = timezone.make_aware(dt.datetime.combine(timezone.localdate() + dt.timedelta(days=1), dt.time.min))
    soon = min(now + dt.timedelta(minutes=5), now + (midnight - now) / 2)  # in five minutes, but today
    event = make_event(starts_at=soon, ends_at=soon + dt.timedelta(hours=1))
    ticket = signups.sign_up(event=event, member_id=a[0].pk, actor=bob).signup
    phone = client_for(carol)
    assert "Night runners" in phone.get("/m/communities/").content.decode()
    today = phone.get("/m/events/").content.decode()
    assert f"/m/events/{event.pk}/check-in/" in today
    door = phone.get(f"/m/events/{event.pk}/check-in/").content.decode()
    assert f'data-testid="tick-{a[0].pk}"' in door
    first = phone.post(f"/m/events/{event.pk}/check-in/", {"code": ticket.code, "source": "typed"}, follow=True)
    assert "Checked in at" in first.content.decode()
    again = phone.post(f"/m/events/{event.pk}/check-in/", {"member": a[0].pk, "source": "list"}, follow=True)
    assert "Already checked in" in again.content.decode()
    htmx = phone.post(f"/m/events/{event.pk}/check-in/", {"code": "WRONG", "source": "typed"}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and 'data-outcome="refused"' in htmx.content.decode()
    assert CheckIn.objects.filter(event=event).count() == 1
