"""The dashboard forms of communities and events through Django's client: they go through the
same services as the API (one set of rules, errors on the field, nothing changed) and are scoped
like them (operators everything, a manager their store, a clerk only what they run)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from communities.models import Community, Event, EventStatus, SignUp, SignUpState
from communities.services import signups
from scrm.models import User

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def erin(store_a):
    """A clerk of store A who runs nothing."""
    return User.objects.create(username="erin", role="store_staff", store=store_a, display_name="Erin")


def event_body(**overrides) -> dict:
    start = timezone.now() + dt.timedelta(days=3)
    body = {"title": "Dawn run", "starts_at": local(start), "ends_at": local(start + dt.timedelta(hours=2)),
            "place": "Park gate", "capacity": "10", "signup_opens_at": "", "signup_closes_at": "",
            "walk_ins_allowed": "on", "points_price": "0", "description": "Five easy kilometres."}
    body.update(overrides)
    return body


def test_a_manager_starts_a_community_and_edits_it(store_a, bob, carol):
    client = client_for(bob)
    assert client.get("/communities/new/").status_code == 200
    answer = client.post("/communities/new/", {"name": "Sunday riders", "kind": "cycling", "store": store_a.pk,
                                               "owner": carol.pk, "assistants": [bob.pk], "capacity": "30",
                                               "description": "Rides on Sundays"})
    community = Community.objects.get(name="Sunday riders")
    assert answer.status_code == 302 and answer["Location"] == f"/communities/{community.pk}/"
    assert community.owner == carol and list(community.assistants.all()) == [bob] and community.capacity == 30
    page = client.get(f"/communities/{community.pk}/").content.decode()
    assert 'data-testid="edit-community"' in page and 'data-testid="new-event"' in page
    answer = client.post(f"/communities/{community.pk}/edit/", {
        "name": "Sunday riders", "kind": "cycling", "owner": carol.pk, "capacity": "", "status": "paused",
        "description": "Paused for winter"})
    assert answer.status_code == 302
    community.refresh_from_db()
    assert community.status == "paused" and community.capacity is None and not community.assistants.exists()
    assert community.store_id == store_a.pk


def test_staff_of_another_store_is_an_error_on_the_field(store_a, alice, dave):
    client = client_for(alice)
    answer = client.post("/communities/new/", {"name": "Mixed", "kind": "other", "store": store_a.pk,
                                               "owner": dave.pk, "capacity": ""})
    assert answer.status_code == 200
    errors = answer.context["form"].errors
    assert "owner must be an active staff member of the community's store" in " ".join(errors["owner"])
    assert not Community.objects.filter(name="Mixed").exists()


def test_a_manager_only_chooses_their_own_store_and_staff(store_a, store_b, bob, dave):
    client = client_for(bob)
    form = client.get("/communities/new/").context["form"]
    assert list(form.fields["store"].queryset) == [store_a]
    assert dave not in form.fields["owner"].queryset
    answer = client.post("/communities/new/", {"name": "Elsewhere", "kind": "other", "store": store_b.pk,
                                               "owner": dave.pk})
    assert answer.status_code == 200 and {"store", "owner"} <= set(answer.context["form"].errors)
    assert not Community.objects.filter(name="Elsewhere").exists()


def test_a_clerk_is_read_only_unless_they_run_the_community(club, make_event, carol, erin, dave):
    event = make_event()
    reader = client_for(erin)
    assert reader.get("/communities/new/").status_code == 403
    assert reader.get(f"/communities/{club.pk}/edit/").status_code == 403
    assert reader.get(f"/events/{event.pk}/edit/").status_code == 403
    assert reader.get("/events/new/").status_code == 403
    assert reader.post(f"/events/{event.pk}/cancel/").status_code == 403
    page = reader.get(f"/communities/{club.pk}/").content.decode()
    assert 'data-testid="edit-community"' not in page and 'data-testid="new-event"' not in page
    assert 'data-testid="cancel-event"' not in reader.get(f"/events/{event.pk}/").content.decode()
    assert Event.objects.get(pk=event.pk).status == EventStatus.OPEN
    owner = client_for(carol)  # the owner may edit and hold events, not start communities
    assert owner.get("/communities/new/").status_code == 403
    assert owner.get(f"/communities/{club.pk}/edit/").status_code == 200
    assert list(owner.get("/events/new/").context["form"].fields["community"].queryset) == [club]
    other = client_for(dave)
    assert other.get(f"/communities/{club.pk}/edit/").status_code == 404
    assert other.get(f"/events/{event.pk}/edit/").status_code == 404
    assert other.post(f"/events/{event.pk}/cancel/").status_code == 404


def test_an_owner_creates_an_event_in_their_community(club, carol):
    client = client_for(carol)
    answer = client.post("/events/new/", {"community": club.pk, **event_body()})
    event = Event.objects.get(title="Dawn run")
    assert answer.status_code == 302 and answer["Location"] == f"/events/{event.pk}/"
    assert event.community == club and event.store_id == club.store_id and event.capacity == 10
    assert event.walk_ins_allowed and event.created_by == carol


@pytest.mark.parametrize(("overrides", "field", "words"), [
    ({"ends_at": "2000-01-01T10:00"}, "ends_at", "before it starts"),
    ({"signup_closes_at": "2099-01-01T10:00"}, "signup_closes_at", "after the event starts"),
    ({"capacity": "0"}, "capacity", "greater than or equal to 1"),
    ({"place": " "}, "place", "required"),
])
def test_a_wrong_event_is_an_error_on_its_field(club, bob, overrides, field, words):
    answer = client_for(bob).post("/events/new/", {"community": club.pk, **event_body(**overrides)})
    assert answer.status_code == 200
    assert words in " ".join(answer.context["form"].errors[field])
    assert not Event.objects.exists()


def test_capacity_below_the_seats_taken_is_refused_and_nothing_changes(make_event, bob, members):
    a, _b = members
    event = make_event(capacity=3)
    for member in a[:3]:
        signups.sign_up(event=event, member_id=member.pk, actor=bob)
    body = event_body(title="Night run renamed", capacity="2", starts_at=local(event.starts_at),
                      ends_at=local(event.ends_at))
    answer = client_for(bob).post(f"/events/{event.pk}/edit/", body)
    assert answer.status_code == 200
    assert "3 seats are taken" in " ".join(answer.context["form"].errors["capacity"])
    event.refresh_from_db()
    assert event.title == "Night run" and event.capacity == 3
    answer = client_for(bob).post(f"/events/{event.pk}/edit/", {**body, "capacity": "5"})
    assert answer.status_code == 302
    event.refresh_from_db()
    assert event.title == "Night run renamed" and event.capacity == 5


def test_cancelling_an_event_on_the_dashboard(make_event, carol, members):
    a, _b = members
    event = make_event()
    signup = signups.sign_up(event=event, member_id=a[0].pk, actor=carol).signup
    client = client_for(carol)
    assert 'data-testid="cancel-event"' in client.get(f"/events/{event.pk}/").content.decode()
    assert client.get(f"/events/{event.pk}/cancel/").status_code == 302  # a GET changes nothing
    assert Event.objects.get(pk=event.pk).status == EventStatus.OPEN
    answer = client.post(f"/events/{event.pk}/cancel/")
    assert answer.status_code == 302 and answer["Location"] == f"/events/{event.pk}/"
    assert Event.objects.get(pk=event.pk).status == EventStatus.CANCELLED
    assert SignUp.objects.get(pk=signup.pk).state == SignUpState.CANCELLED
    assert client.post(f"/events/{event.pk}/edit/", event_body()).context["form"].non_field_errors()


def test_an_operator_creates_a_brand_wide_event(alice, store_b, bob, club):
    client = client_for(alice)
    assert "store" in client.get("/events/new/").context["form"].fields
    answer = client.post("/events/new/", {"community": "", "store": store_b.pk, **event_body(title="Brand day")})
    assert answer.status_code == 302
    event = Event.objects.get(title="Brand day")
    assert event.community is None and event.store == store_b
    form = client_for(bob).get("/events/new/").context["form"]  # a manager has no brand-wide choice
    assert "store" not in form.fields and form.fields["community"].required
