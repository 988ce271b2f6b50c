"""The send policy at /api/v1/send-policy/current/: every store reads it, operators and brand-wide
keys change it; a change is checked whole (quiet hours need both ends, a day cap is not above the
week's) and changes nothing on an error. The engine reads what was set."""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns.models import SendPolicy
from campaigns.services import respect

pytestmark = pytest.mark.django_db

URL = "/api/v1/send-policy/current/"


def test_an_operator_sets_caps_and_quiet_hours_the_engine_reads(api_client, alice):
    api_client.force_authenticate(alice)
    answer = api_client.patch(URL, {"daily_cap": 2, "weekly_cap": 4, "quiet_start": "22:00", "quiet_end": "08:00"},
                              format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["quiet_start"] == "22:00" and answer.json()["daily_cap"] == 2
    policy = respect.policy()
    assert (policy.daily_cap, policy.weekly_cap, policy.quiet_start) == (2, 4, dt.time(22, 0))
    assert api_client.get(URL).json()["weekly_cap"] == 4


def test_store_accounts_read_but_do_not_change_it(api_client, bob, key_client, store_a):
    api_client.force_authenticate(bob)
    assert api_client.get(URL).status_code == 200
    assert api_client.patch(URL, {"daily_cap": 9}, format="json").status_code == 403
    client = key_client(scopes=("send_policy:read",), store=store_a)
    assert client.get(URL).status_code == 200
    assert respect.policy().daily_cap != 9


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quiet_start": "22:00"}, "quiet_end"),
        ({"daily_cap": 5, "weekly_cap": 3}, "daily_cap"),
        ({"daily_cap": "2"}, "daily_cap"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"monthly_cap": -1}, "monthly_cap"),
        ({"quiet_start": "25:00", "quiet_end": "08:00"}, "quiet_start"),
        ({"quiet_start": "22:00:00Z", "quiet_end": "08:00"}, "quiet_start"),
    ],
)
def test_a_bad_change_is_a_400_and_changes_nothing(api_client, alice, body, field):
    before = respect.policy()
    api_client.force_authenticate(alice)
    answer = api_client.patch(URL, body, format="json")
    assert answer.status_code == 400
    assert field in answer.json()["error"]["details"]
    after = SendPolicy.objects.get(pk=1)
    assert (after.daily_cap, after.weekly_cap, after.quiet_start, after.max_attempts) == (
        before.daily_cap, before.weekly_cap, before.quiet_start, before.max_attempts)
