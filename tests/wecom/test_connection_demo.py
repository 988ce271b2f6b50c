"""The demo's WeCom part: against the local WeCom server it links the store staff and starts one
full contact sync, and a rerun adds nothing; without one it does nothing."""

from __future__ import annotations

import pytest

from wecom import demo
from wecom.models import SyncRun, WecomStaff

pytestmark = pytest.mark.django_db


def test_seed_links_the_staff_and_starts_one_sync(make_corp, bob, carol, dave):
    make_corp(staff=[bob.username, carol.username, dave.username, "nobody_here"], contacts_per_staff=3)
    summary = demo.seed()
    assert summary.startswith("wecom: 4 staff") and "3 newly linked" in summary, summary
    linked = dict(WecomStaff.objects.exclude(user=None).values_list("userid", "store_id"))
    assert linked == {bob.username: bob.store_id, carol.username: carol.store_id, dave.username: dave.store_id}
    assert SyncRun.objects.count() == 1
    again = demo.seed()
    assert "0 newly linked" in again, again
    assert WecomStaff.objects.count() == 4 and SyncRun.objects.count() == 1


def test_seed_without_a_local_server_does_nothing(no_wecom, bob):
    assert "nothing seeded" in demo.seed()
    assert not WecomStaff.objects.exists() and not SyncRun.objects.exists()


def test_seed_with_the_server_down_says_so(make_corp, bob):
    make_corp().stop()
    assert "did not answer" in demo.seed()
    assert not SyncRun.objects.exists()
