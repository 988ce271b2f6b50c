"""The content calendar's screens per role: the month calendar and its phone list, the form (errors
beside their fields, nothing written), a post's page with each sender's completion and the share,
cancelling, and the phone's posts of today (also on the Today page)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from journeys.calendar import services
from journeys.calendar.models import PlannedPost, PostStaff

pytestmark = pytest.mark.django_db


def test_the_month_shows_the_stores_and_brand_posts_to_its_manager(linked, plan, client, alice, bob, store_b):
    ours, theirs = plan(bob), plan(alice, store=store_b)
    brand = plan(alice, audience="all", store=None, title="全品牌")
    client.force_login(bob)
    response = client.get(reverse("calendar-month"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-testid="post-{ours.pk}"' in html and f'data-testid="post-{brand.pk}"' in html
    assert f'data-testid="post-{theirs.pk}"' not in html
    assert f'data-testid="list-post-{ours.pk}"' in html  # the list the phone-sized screen shows
    next_month = (timezone.localdate().replace(day=1) + dt.timedelta(days=32)).strftime("%Y-%m")
    assert f'data-testid="post-{ours.pk}"' not in client.get(reverse("calendar-month"), {"month": next_month}) \
        .content.decode()


def test_a_clerk_has_no_calendar_but_her_phone_page(linked, client, carol):
    client.force_login(carol)
    assert client.get(reverse("calendar-month")).status_code == 403
    assert client.get(reverse("calendar-new")).status_code == 403
    assert client.get(reverse("calendar-phone")).status_code == 200


def test_the_form_plans_a_post_and_shows_errors_beside_fields(linked, client, bob, carol):
    client.force_login(bob)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    form = {"title": "门店活动", "kind": "moment", "date": tomorrow.isoformat(), "time": "10:30",
            "text": "明天上午十点半，门店试饮。", "audience": "staff", "staff": [carol.pk], "action": "schedule"}
    response = client.post(reverse("calendar-new"), form)
    post = PlannedPost.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("calendar-post", args=[post.pk])
    assert timezone.localtime(post.publish_at).strftime("%Y-%m-%d %H:%M") == f"{tomorrow.isoformat()} 10:30"
    assert post.state == "scheduled" and post.staff_ids == [carol.pk] and post.store.code == "SH01"
    bad = client.post(reverse("calendar-new"), {**form, "text": "", "date": "2020-01-01"})
    assert bad.status_code == 200 and PlannedPost.objects.count() == 1
    errors = bad.context["form"].errors
    assert "text" in errors and "date" in errors


def test_the_post_page_shows_each_senders_completion_and_the_share(corp, linked, plan, client, bob, carol):
    post = plan(bob)
    services.tick()
    services.tick(now=timezone.now() + dt.timedelta(seconds=10))
    post.refresh_from_db()
    corp.corp.moments.publish(post.moment_id, "carol")
    services.tick(now=timezone.now() + dt.timedelta(seconds=services.publish_poll_seconds() + 30))
    client.force_login(bob)
    response = client.get(reverse("calendar-post", args=[post.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["completion"]["share"] == 50
    assert 'data-testid="sender-carol"' in html and "Posted" in html and "Not yet" in html
    # Carol's phone: today's post, posted.
    client.force_login(carol)
    phone = client.get(reverse("calendar-phone")).content.decode()
    assert f'data-testid="phone-post-{post.pk}"' in phone and "新品上市" in phone
    today = client.get(reverse("mobile-home")).content.decode()
    assert 'data-testid="today-posts"' in today


def test_cancel_from_the_post_page(linked, plan, client, bob):
    post = plan(bob, publish_at=timezone.now() + dt.timedelta(hours=3))
    client.force_login(bob)
    response = client.post(reverse("calendar-cancel", args=[post.pk]))
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.state == "cancelled"
    assert not PostStaff.objects.exists()
