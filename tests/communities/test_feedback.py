"""After an event: photos as validated http(s) links with captions, and an attendee's rating 1–5 with
an optional comment (once, changeable for some days after the end), given through the member's
signed link or by staff on the phone; its average and count on the event and in the community's
figures; part of the member's export, erasure and timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from communities import queries
from communities.models import CheckIn, Event, EventFeedback
from communities.services import feedback
from members import timeline
from members.privacy_registry import ErasureSubject
from scrm.errors import Conflict, InvalidInput

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(make_event, members):
    """An event that ended an hour ago, with a[0] and a[1] checked in."""
    a, _b = members
    event = make_event(capacity=5)
    now = timezone.now()
    Event.objects.filter(pk=event.pk).update(starts_at=now - dt.timedelta(hours=3), ends_at=now - dt.timedelta(hours=1))
    event.refresh_from_db()
    for m in a[:2]:
        CheckIn.objects.create(event=event, member=m, store=event.store, source="list")
    return event


def test_photos_are_validated_links_and_shown(client, held, make_event, bob, carol):
    with pytest.raises(InvalidInput) as caught:
        feedback.set_photos(event=held, actor=bob, photos=[{"url": "https://photos.example.com/1.jpg", "caption": "Go"},
                                                           {"url": "javascript:alert(1)", "caption": "x"},
                                                           {"url": "ftp://photos.example.com/2.jpg"}])
    assert len(caught.value.details["photos"]) == 2 and "Photo 2" in caught.value.details["photos"][0]
    assert Event.objects.get(pk=held.pk).photos == []  # nothing half-written
    upcoming = make_event()
    with pytest.raises(Conflict):
        feedback.set_photos(event=upcoming, actor=bob, photos=[{"url": "https://photos.example.com/1.jpg"}])
    feedback.set_photos(event=held, actor=bob, photos=[{"url": "https://photos.example.com/1.jpg", "caption": "Start"}])
    assert Event.objects.get(pk=held.pk).photos == [{"url": "https://photos.example.com/1.jpg", "caption": "Start"}]
    client.force_login(bob)
    page = client.get(f"/events/{held.pk}/").content.decode()
    assert 'href="https://photos.example.com/1.jpg"' in page and ">Start<" in page
    assert client.post(f"/events/{held.pk}/photos/", {"photos": "https://photos.example.com/2.jpg Finish\nnot-a-link"})
    assert Event.objects.get(pk=held.pk).photos[0]["caption"] == "Start"  # the bad line refused the whole list
    client.post(f"/events/{held.pk}/photos/", {"photos": "https://photos.example.com/2.jpg Finish line"})
    assert Event.objects.get(pk=held.pk).photos == [
        {"url": "https://photos.example.com/2.jpg", "caption": "Finish line"}]
    client.force_login(carol)
    phone = client.get(f"/m/events/{held.pk}/feedback/").content.decode()
    assert 'href="https://photos.example.com/2.jpg"' in phone


def test_an_attendee_rates_once_and_may_change_it_for_some_days(held, members):
    a, _b = members
    with pytest.raises(Conflict) as caught:
        feedback.give(event=held, member_id=a[2].pk, rating=5)  # not checked in
    assert caught.value.code == "not_attended"
    for bad in (0, 6, "5", None, True):
        with pytest.raises(InvalidInput) as caught:
            feedback.give(event=held, member_id=a[0].pk, rating=bad)
        assert "rating" in caught.value.details
    first = feedback.give(event=held, member_id=a[0].pk, rating=4, comment="Great pace")
    assert first.created and first.feedback.source == "member"
    again = feedback.give(event=held, member_id=a[0].pk, rating=5)
    assert not again.created and again.feedback.pk == first.feedback.pk
    assert EventFeedback.objects.get().rating == 5
    late = held.ends_at + dt.timedelta(days=feedback.CHANGE_DAYS, minutes=1)
    with pytest.raises(Conflict) as caught:
        feedback.give(event=held, member_id=a[0].pk, rating=1, now=late)
    assert caught.value.code == "feedback_closed" and EventFeedback.objects.get().rating == 5


def test_the_members_link_rates_without_a_login(client, held, members):
    a, _b = members
    token = feedback.token_for(held.pk, a[0].pk)
    page = client.get(f"/feedback/{token}/")
    assert page.status_code == 200 and b'data-testid="rating-5"' in page.content
    saved = client.post(f"/feedback/{token}/", {"rating": "4", "comment": "Lovely"})
    assert b'data-testid="feedback-saved"' in saved.content
    assert EventFeedback.objects.get().comment == "Lovely"
    assert client.get(f"/feedback/{token[:-2]}xx/").status_code == 404
    outsider = feedback.token_for(held.pk, a[2].pk)
    assert b'data-testid="feedback-error"' in client.post(f"/feedback/{outsider}/", {"rating": "5"}).content


def test_staff_enter_it_on_the_phone_and_the_figures_count_it(client, club, held, members, carol, bob):
    a, _b = members
    client.force_login(carol)
    assert client.post(f"/m/events/{held.pk}/feedback/", {"member": a[0].pk, "rating": "2"}).status_code == 302
    client.post(f"/m/events/{held.pk}/feedback/", {"member": a[1].pk, "rating": "5", "comment": "More please"})
    rows = {f.member_id: (f.rating, f.source, f.staff_id) for f in EventFeedback.objects.all()}
    assert rows == {a[0].pk: (2, "staff", carol.pk), a[1].pk: (5, "staff", carol.pk)}
    assert queries.event_ratings([held.pk])[held.pk] == {"count": 2, "average": pytest.approx(3.5)}
    figures = queries.community_figures([club.pk])[club.pk]
    assert (figures["ratings"], str(figures["rating_average"])) == (2, "3.5")
    client.force_login(bob)
    page = client.get(f"/events/{held.pk}/").content.decode()
    assert "3.5 ★ from 2 ratings" in page and "More please" in page
    api = APIClient()
    api.force_authenticate(bob)
    listed = api.get(f"/api/v1/events/{held.pk}/feedback/")
    assert listed.status_code == 200 and len(listed.json()["results"]) == 2
    changed = api.post(f"/api/v1/events/{held.pk}/feedback/", {"member": a[0].pk, "rating": 3}, format="json")
    assert changed.status_code == 200 and changed.json()["rating"] == 3
    assert api.post(f"/api/v1/events/{held.pk}/feedback/", {"member": a[0].pk, "rating": 9},
                    format="json").status_code == 400
    assert api.get(f"/api/v1/communities/{club.pk}/figures/").json()["ratings"] == 2
    photos = api.post(f"/api/v1/events/{held.pk}/photos/", {"photos": [
        {"url": "https://photos.example.com/a.jpg", "caption": "Warm-up"}]}, format="json")
    assert photos.status_code == 200 and photos.json()["photos"] == [
        {"url": "https://photos.example.com/a.jpg", "caption": "Warm-up"}]
    refused = api.post(f"/api/v1/events/{held.pk}/photos/", {"photos": [{"url": "file:///etc/passwd"}]}, format="json")
    assert refused.status_code == 400 and "photos" in refused.json()["error"]["details"]


def test_feedback_in_the_export_erasure_and_timeline(client, held, members, alice):
    from communities import privacy

    a, _b = members
    feedback.give(event=held, member_id=a[0].pk, rating=4, comment="Call me on 138...")
    exported = privacy.export_communities(a[0], alice)
    assert [(f["rating"], f["comment"]) for f in exported["feedback"]] == [(4, "Call me on 138...")]
    texts = [e.text for e in timeline.page(a[0], alice, kinds=["communities"]).entries]
    assert "Rated Night run 4 of 5" in texts
    done = privacy.erase(ErasureSubject(member_ids=[a[0].pk]))
    assert done["feedback_comments_blanked"] == 1
    assert EventFeedback.objects.get().comment == "" and EventFeedback.objects.get().rating == 4
