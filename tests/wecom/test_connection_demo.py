"""The demo's WeCom part: against the local WeCom server it links the store staff, gives each store
its channel code, starts one full contact sync and syncs its first pages itself, so the demo's
handover and the sidebar card have customers on a fresh start; a rerun adds nothing; without a
local server it does nothing."""

from __future__ import annotations

import pytest

from wecom import demo
from wecom.models import ChannelCode, Handover, SyncRun, WecomContact, WecomStaff

pytestmark = pytest.mark.django_db


def test_seed_links_the_staff_and_starts_one_sync(make_corp, bob, carol, dave):
    make_corp(staff=[bob.username, carol.username, dave.username, "nobody_here"], contacts_per_staff=3)
    summary = demo.seed()
    assert summary.startswith("wecom: 4 staff") and "3 newly linked" in summary, summary
    linked = dict(WecomStaff.objects.exclude(user=None).values_list("userid", "store_id"))
    assert linked == {bob.username: bob.store_id, carol.username: carol.store_id, dave.username: dave.store_id}
    assert SyncRun.objects.filter(kind="contacts").count() == 1
    assert SyncRun.objects.filter(kind="groups").count() == 1 and "customer groups sync run" in summary
    again = demo.seed()
    assert "0 newly linked" in again, again
    assert SyncRun.objects.filter(kind="groups").count() == 1
    assert WecomStaff.objects.count() == 4 and SyncRun.objects.filter(kind="contacts").count() == 1


def test_seed_on_a_fresh_corp_makes_the_handover_and_names_the_sidebar_card(make_corp, bob, carol, dave):
    # As on a fresh `up`: nothing synced yet and no worker running; the seed syncs the first pages.
    make_corp(staff=[bob.username, carol.username, dave.username], contacts_per_staff=12, shared_ratio=0)
    summary = demo.seed()
    handover = Handover.objects.get()
    assert {handover.from_staff.userid, handover.to_staff.userid} == {bob.username, carol.username}
    assert handover.items.count() == 10
    first = WecomContact.objects.filter(member__isnull=False).order_by("id")[0]
    link = f"/wecom/sidebar/?external_userid={first.external_userid}"
    assert f"sidebar card: {link}" in summary and "handovers: " in summary, summary
    assert ChannelCode.objects.count() == 2  # one per store with WeCom staff
    run = SyncRun.objects.get(kind="contacts")
    again = demo.seed()
    assert "handovers: already there" in again and f"sidebar card: {link}" in again, again
    assert Handover.objects.count() == 1 and ChannelCode.objects.count() == 2
    assert list(SyncRun.objects.filter(kind="contacts").values_list("pk", flat=True)) == [run.pk]


def test_a_rerun_after_the_first_sync_finished_starts_no_second_one(make_corp, bob, carol, dave):
    from wecom.services import sync

    make_corp(staff=[bob.username, carol.username, dave.username], contacts_per_staff=3, shared_ratio=0)
    demo.seed()
    run = SyncRun.objects.get(kind="contacts")
    while sync.run_step(run_id=run.pk) == "more":
        pass
    run.refresh_from_db()
    assert run.status == "done"
    again = demo.seed()
    assert f"contact sync run {run.pk} done" in again, again
    assert SyncRun.objects.filter(kind="contacts").count() == 1 and Handover.objects.count() == 1


def test_seed_without_a_local_server_does_nothing(no_wecom, bob):
    assert "nothing seeded" in demo.seed()
    assert not WecomStaff.objects.exists() and not SyncRun.objects.exists()


def test_seed_with_the_server_down_says_so(make_corp, bob):
    make_corp().stop()
    assert "did not answer" in demo.seed()
    assert not SyncRun.objects.exists()
