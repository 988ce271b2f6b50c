"""Seasons with their own caps: a season matches its month-days every year (wrapping the year end,
29 February), its caps replace the policy's from its first day in the brand's time zone
(Asia/Shanghai, not UTC), two seasons may not share a day (refused, naming the other), and the API
at /api/v1/send-policy/seasons/ and the screens beside the send policy let operators write them and
every store read them."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Delivery, Season
from campaigns.services import respect, sending
from campaigns.services import seasons as service
from scrm.errors import Forbidden, InvalidInput

pytestmark = pytest.mark.django_db

URL = "/api/v1/send-policy/seasons/"
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def season(name="Valentine", start=(2, 1), end=(2, 14), caps=(2, 5, 10)) -> Season:
    return Season(name=name, start_month=start[0], start_day=start[1], end_month=end[0], end_day=end[1],
                  daily_cap=caps[0], weekly_cap=caps[1], monthly_cap=caps[2])


def values(name="Valentine", start=(2, 1), end=(2, 14), caps=(2, 5, 10)) -> dict:
    return {"name": name, "start_month": start[0], "start_day": start[1], "end_month": end[0], "end_day": end[1],
            "daily_cap": caps[0], "weekly_cap": caps[1], "monthly_cap": caps[2]}


# --- matching --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "inside"), [
    (dt.date(2027, 1, 31), False), (dt.date(2027, 2, 1), True), (dt.date(2027, 2, 14), True),
    (dt.date(2027, 2, 15), False), (dt.date(2031, 2, 7), True),
])
def test_a_season_matches_its_days_every_year_both_ends_included(day, inside):
    assert season().contains(day) is inside


@pytest.mark.parametrize(("day", "inside"), [
    (dt.date(2026, 12, 14), False), (dt.date(2026, 12, 15), True), (dt.date(2026, 12, 31), True),
    (dt.date(2027, 1, 1), True), (dt.date(2027, 1, 6), True), (dt.date(2027, 1, 7), False),
    (dt.date(2027, 6, 1), False),
])
def test_a_season_ending_before_it_starts_wraps_the_year_end(day, inside):
    assert season("Christmas", (12, 15), (1, 6)).contains(day) is inside


def test_29_february_counts_in_leap_years_and_the_season_starts_on_1_march_in_others():
    late = season("Leap", (2, 29), (3, 3))
    assert late.contains(dt.date(2028, 2, 29)) and not late.contains(dt.date(2027, 2, 28))
    assert late.contains(dt.date(2027, 3, 1))
    assert service.season_on(dt.date(2027, 3, 1), [season(), late]) is late
    assert service.season_on(dt.date(2027, 5, 1), [season(), late]) is None


def test_the_caps_are_the_seasons_on_its_days_and_the_policys_outside(policy):
    policy.daily_cap, policy.weekly_cap, policy.monthly_cap = 1, 3, 8
    policy.save()
    service.save_season(actor=_operator(), values=values("Christmas", (12, 15), (1, 6), (3, 0, 20)))
    pol = respect.policy()
    assert respect.caps_on(pol, dt.date(2026, 12, 14)) == (1, 3, 8)
    assert respect.caps_on(pol, dt.date(2026, 12, 25)) == (3, 0, 20)  # 0: no weekly cap in the season
    assert respect.caps_on(pol, dt.date(2027, 1, 6)) == (3, 0, 20)
    assert respect.caps_on(pol, dt.date(2027, 1, 7)) == (1, 3, 8)


def _operator():
    from scrm.models import User

    return User.objects.get_or_create(username="season-op", defaults={"role": "operator"})[0]


# --- the engine: the first day of a season, in Asia/Shanghai -------------------------------------


def _at(year, month, day, hour, minute):
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def test_caps_switch_to_the_seasons_at_local_midnight_of_its_first_day(settings, audience, make_campaign, policy):
    assert settings.TIME_ZONE == "Asia/Shanghai"
    policy.daily_cap, policy.weekly_cap, policy.monthly_cap = 1, 0, 0
    policy.save()
    service.save_season(actor=_operator(), values=values("Valentine", (2, 10), (2, 14), (2, 0, 0)))

    def sent_at(when, name):
        campaign = make_campaign(name=name)
        sending.tick(now_fn=lambda: when)
        rows = Delivery.objects.filter(campaign=campaign)
        return rows.filter(state="sent").count(), set(rows.exclude(state="sent").values_list("reason", flat=True))

    members = 5
    # 9 February, 23:30 in Shanghai: the policy's cap of one a day.
    assert sent_at(_at(2027, 2, 9, 23, 30), "eve 1") == (members, set())
    assert sent_at(_at(2027, 2, 9, 23, 50), "eve 2") == (0, {"cap_reached"})
    # 00:10 on 10 February in Shanghai is still 9 February in UTC: the season's day has begun.
    first_day = _at(2027, 2, 10, 0, 10)
    assert first_day.astimezone(dt.UTC).date() == dt.date(2027, 2, 9)
    assert sent_at(first_day, "season 1") == (members, set())
    assert sent_at(_at(2027, 2, 10, 9, 0), "season 2") == (members, set())
    assert sent_at(_at(2027, 2, 10, 12, 0), "season 3") == (0, {"cap_reached"})
    # The day after the season the policy's cap holds again.
    assert sent_at(_at(2027, 2, 15, 9, 0), "after 1") == (members, set())
    assert sent_at(_at(2027, 2, 15, 10, 0), "after 2") == (0, {"cap_reached"})


# --- writing seasons -------------------------------------------------------------------------------


def test_an_overlapping_season_is_refused_naming_the_other_and_nothing_is_written(alice):
    service.save_season(actor=alice, values=values("Christmas", (12, 15), (1, 6)))
    for start, end in [((1, 1), (1, 10)), ((12, 1), (12, 15)), ((11, 1), (2, 1)), ((12, 20), (12, 24))]:
        with pytest.raises(InvalidInput) as refused:
            service.save_season(actor=alice, values=values("New year", start, end))
        message = refused.value.details["non_field_errors"][0]
        assert "Christmas" in message and "December" in message and "January" in message, message
    assert list(Season.objects.values_list("name", flat=True)) == ["Christmas"]
    # Next to it is fine: 7 January to 14 February, then 15 February (adjacent on both sides).
    service.save_season(actor=alice, values=values("Spring", (1, 7), (2, 14)))
    service.save_season(actor=alice, values=values("Late", (2, 15), (12, 14)))
    assert Season.objects.count() == 3


def test_a_season_may_be_changed_within_its_own_days_but_not_into_anothers(alice):
    christmas = service.save_season(actor=alice, values=values("Christmas", (12, 15), (1, 6)))
    valentine = service.save_season(actor=alice, values=values("Valentine", (2, 1), (2, 14)))
    service.save_season(actor=alice, values={"end_day": 10}, season=christmas)  # overlaps only itself
    with pytest.raises(InvalidInput) as refused:
        service.save_season(actor=alice, values={"end_month": 2, "end_day": 1}, season=christmas)
    assert "Valentine" in refused.value.details["non_field_errors"][0]
    christmas.refresh_from_db()
    assert (christmas.end_month, christmas.end_day) == (1, 10)
    assert valentine.contains(dt.date(2027, 2, 1))


@pytest.mark.parametrize(("change", "field"), [
    ({"start_day": 30, "start_month": 2}, "start_day"),
    ({"end_month": 4, "end_day": 31}, "end_day"),
    ({"end_month": 13}, "end_month"),
    ({"daily_cap": 5, "weekly_cap": 3}, "daily_cap"),
    ({"monthly_cap": -1}, "monthly_cap"),
    ({"name": "  "}, "name"),
    ({"colour": "red"}, "colour"),
])
def test_bad_values_are_refused_at_their_field(alice, change, field):
    with pytest.raises(InvalidInput) as refused:
        service.save_season(actor=alice, values={**values(), **change})
    assert field in refused.value.details
    assert not Season.objects.exists()


def test_names_are_unique_whatever_the_case(alice):
    service.save_season(actor=alice, values=values("Christmas", (12, 15), (1, 6)))
    with pytest.raises(InvalidInput) as refused:
        service.save_season(actor=alice, values=values("CHRISTMAS", (3, 1), (3, 5)))
    assert "name" in refused.value.details


def test_only_brand_wide_actors_write_seasons(bob, carol):
    for who in (bob, carol):
        with pytest.raises(Forbidden):
            service.save_season(actor=who, values=values())
    assert not Season.objects.exists()


# --- API -------------------------------------------------------------------------------------------


def test_an_operator_creates_changes_and_deletes_a_season_through_the_api(api_client, alice):
    api_client.force_authenticate(alice)
    created = api_client.post(URL, values("Christmas", (12, 15), (1, 6), (2, 6, 12)), format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["name"] == "Christmas" and body["monthly_cap"] == 12
    assert body["active_today"] is Season.objects.get().contains(timezone.localdate())
    detail = f"{URL}{body['id']}/"
    changed = api_client.patch(detail, {"daily_cap": 3}, format="json")
    assert changed.status_code == 200 and changed.json()["daily_cap"] == 3
    assert [row["name"] for row in api_client.get(URL).json()["results"]] == ["Christmas"]
    assert api_client.delete(detail).status_code == 204
    assert not Season.objects.exists()


def test_an_overlap_is_a_400_naming_the_other_season(api_client, alice):
    api_client.force_authenticate(alice)
    assert api_client.post(URL, values("Christmas", (12, 15), (1, 6)), format="json").status_code == 201
    answer = api_client.post(URL, values("Winter sale", (1, 2), (1, 20)), format="json")
    assert answer.status_code == 400
    assert "Christmas" in answer.json()["error"]["details"]["non_field_errors"][0]
    assert Season.objects.count() == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"colour": "red"}, "colour"),
    ({"start_month": "2"}, "start_month"),
    ({"start_day": 0}, "start_day"),
    ({"end_day": 31, "end_month": 11}, "end_day"),
    ({"name": None}, "name"),
])
def test_the_body_is_strict(api_client, alice, body, field):
    api_client.force_authenticate(alice)
    answer = api_client.post(URL, {**values(), **body}, format="json")
    assert answer.status_code == 400, answer.json()
    assert field in answer.json()["error"]["details"]
    assert not Season.objects.exists()


def test_a_retried_post_with_its_idempotency_key_creates_one_season(api_client, alice):
    api_client.force_authenticate(alice)
    key = str(uuid.uuid4())
    first = api_client.post(URL, values(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = api_client.post(URL, values(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert Season.objects.count() == 1


def test_store_accounts_read_seasons_but_do_not_write_them(api_client, alice, bob, carol, key_client, store_a):
    christmas = service.save_season(actor=alice, values=values("Christmas", (12, 15), (1, 6)))
    detail = f"{URL}{christmas.pk}/"
    for who in (bob, carol):
        api_client.force_authenticate(who)
        assert [row["name"] for row in api_client.get(URL).json()["results"]] == ["Christmas"]
        assert api_client.get(detail).status_code == 200
        assert api_client.post(URL, values(), format="json").status_code == 403
        assert api_client.patch(detail, {"daily_cap": 9}, format="json").status_code == 403
        assert api_client.delete(detail).status_code == 403
    api_client.force_authenticate(None)
    client = key_client(scopes=("send_policy:read",), store=store_a)
    assert client.get(URL).status_code == 200
    assert client.post(URL, values(), format="json").status_code == 403
    christmas.refresh_from_db()
    assert christmas.daily_cap == 2 and Season.objects.count() == 1
    # A brand-wide key with the write scope may.
    client = key_client(scopes=("send_policy:read", "send_policy:write"))
    assert client.post(URL, values(), format="json").status_code == 201


def test_the_policy_api_sets_the_wecom_limit_mode(api_client, alice, bob, policy):
    api_client.force_authenticate(alice)
    misspelt = api_client.patch("/api/v1/send-policy/current/", {"wecom_limits": "day_1"}, format="json")
    assert misspelt.status_code == 400 and "wecom_limits" in misspelt.json()["error"]["details"]
    answer = api_client.patch("/api/v1/send-policy/current/", {"wecom_limit": "day_1"}, format="json")
    assert answer.status_code == 200 and answer.json()["wecom_limit"] == "day_1"
    assert api_client.patch("/api/v1/send-policy/current/", {"wecom_limit": "twice"},
                            format="json").status_code == 400
    api_client.force_authenticate(bob)
    assert api_client.patch("/api/v1/send-policy/current/", {"wecom_limit": "off"}, format="json").status_code == 403
    assert respect.policy().wecom_limit == "day_1"


# --- screens ---------------------------------------------------------------------------------------


def test_an_operator_lists_creates_edits_and_deletes_seasons_on_screen(client, alice, policy):
    client.force_login(alice)
    assert 'href="/campaigns/policy/seasons/"' in client.get(reverse("campaign-policy")).content.decode()
    form = {"name": "Christmas", "start_month": 12, "start_day": 15, "end_month": 1, "end_day": 6,
            "daily_cap": 2, "weekly_cap": 6, "monthly_cap": 12}
    assert client.post(reverse("campaign-season-create"), form).status_code == 302
    christmas = Season.objects.get()
    page = client.get(reverse("campaign-seasons")).content.decode()
    assert f'data-testid="season-{christmas.pk}"' in page and "December 15" in page and "January 6" in page
    edit = reverse("campaign-season-edit", args=[christmas.pk])
    assert 'value="Christmas"' in client.get(edit).content.decode()
    assert client.post(edit, {**form, "daily_cap": 3}).status_code == 302
    christmas.refresh_from_db()
    assert christmas.daily_cap == 3
    assert client.post(reverse("campaign-season-delete", args=[christmas.pk])).status_code == 302
    assert not Season.objects.exists()


def test_the_screen_shows_an_overlap_and_a_bad_day_and_saves_nothing(client, alice, policy):
    client.force_login(alice)
    service.save_season(actor=alice, values=values("Christmas", (12, 15), (1, 6)))
    form = {"name": "Winter", "start_month": 1, "start_day": 2, "end_month": 2, "end_day": 30,
            "daily_cap": 1, "weekly_cap": 2, "monthly_cap": 3}
    answer = client.post(reverse("campaign-season-create"), form)
    assert answer.status_code == 400
    assert "has no day 30" in answer.content.decode().split('data-testid="field-end_day"')[1].split("</label>")[0]
    answer = client.post(reverse("campaign-season-create"), {**form, "end_day": 3})
    assert answer.status_code == 400
    errors = answer.content.decode().split('data-testid="season-errors"')[1].split("</p>")[0]
    assert "Christmas" in errors and "overlap" in errors
    assert Season.objects.count() == 1


def test_store_managers_read_the_seasons_and_today_caps_but_cannot_change_them(client, alice, bob, policy):
    christmas = service.save_season(actor=alice, values=values("Christmas", (12, 15), (1, 6)))
    client.force_login(bob)
    page = client.get(reverse("campaign-seasons"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Christmas" in text and 'data-testid="caps-today"' in text
    assert 'data-testid="new-season"' not in text and "delete-season" not in text
    assert 'href="/campaigns/policy/seasons/"' in text  # in the sidebar
    assert client.get(reverse("campaign-season-create")).status_code == 403
    assert client.get(reverse("campaign-season-edit", args=[christmas.pk])).status_code == 403
    assert client.post(reverse("campaign-season-delete", args=[christmas.pk])).status_code == 403
    assert Season.objects.filter(pk=christmas.pk).exists()


def test_the_page_says_which_caps_hold_today(client, alice, policy):
    today = timezone.localdate()
    policy.daily_cap = 1
    policy.save()
    service.save_season(actor=alice, values=values("Now", (today.month, today.day), (today.month, today.day),
                                                   (4, 9, 20)))
    client.force_login(alice)
    text = client.get(reverse("campaign-seasons")).content.decode()
    caps = text.split('data-testid="caps-today"')[1].split("</section>")[0]
    assert "In season: Now" in caps and "4 a day, 9 a week, 20 a month" in caps
    assert 'data-testid="active-season"' in text


def test_the_policy_page_sets_the_wecom_limit_and_keeps_it_when_not_sent(client, alice, policy):
    client.force_login(alice)
    base = {"daily_cap": 1, "weekly_cap": 2, "monthly_cap": 3, "max_attempts": 4}
    assert client.post(reverse("campaign-policy"), {**base, "wecom_limit": "week_7"}).status_code == 302
    assert respect.policy().wecom_limit == "week_7"
    assert client.post(reverse("campaign-policy"), base).status_code == 302
    assert respect.policy().wecom_limit == "week_7"
