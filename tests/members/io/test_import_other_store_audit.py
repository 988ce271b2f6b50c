"""A store manager's import (a dry run as much as an import) whose rows name identities of another
store's members is audited: how many rows, never which rows, phones or member ids."""

from __future__ import annotations

import json

from members.io.models import ImportStatus
from members.models import Identity, Member
from scrm.models import AuditLog
from tests.members.io.conftest import run_import

ACTION = "members.import.other_store"


def _elsewhere(store_b):
    north = [Member.objects.create(name=f"北京{i}", home_store=store_b, phone=f"+86139001390{i:02d}")
             for i in range(2)]
    for member in north:
        Identity.objects.create(member=member, channel="phone", external_id=member.phone)
    Identity.objects.create(member=north[0], channel="wecom", external_id="wm-north")
    return north


def test_a_dry_run_hitting_another_stores_members_is_audited_with_counts(bob, store_a, store_b):
    north = _elsewhere(store_b)
    content = ("name,phone,wecom\n"
               "a,13800138001,\n"
               "b,13900139000,\n"      # a phone of a member of BJ01
               "c,,wm-north\n"         # a WeCom id of that member
               "d,13900139001,\n")     # the other one's phone
    job = run_import(bob, content, mode="dry_run")
    assert job.status == ImportStatus.DONE and job.rows_invalid == 3
    entry = AuditLog.objects.get(action=ACTION)
    assert (entry.user, entry.store_id, entry.object_type, entry.object_id) == (
        bob, store_a.pk, "member_io.importjob", str(job.pk))
    assert entry.detail == {"mode": "dry_run", "rows": 3, "file_rows": 4}
    text = json.dumps(entry.detail)
    for member in north:
        assert member.phone not in text and str(member.phone)[3:] not in text
    assert not Member.objects.filter(home_store=store_a).exists()  # a dry run wrote nothing


def test_an_import_that_writes_is_audited_for_it_too(bob, store_a, store_b):
    _elsewhere(store_b)
    job = run_import(bob, "name,phone\na,13800138001\nb,13900139000\n", mode="valid_rows")
    assert job.status == ImportStatus.DONE
    assert AuditLog.objects.get(action=ACTION).detail == {"mode": "valid_rows", "rows": 1, "file_rows": 2}
    assert AuditLog.objects.filter(action="members.import").count() == 1


def test_no_entry_when_no_row_belongs_elsewhere(bob, alice, store_a, store_b):
    _elsewhere(store_b)
    run_import(bob, "name,phone\na,13800138001\n", mode="dry_run")
    # An operator's import sees every store: a member elsewhere is simply updated, nothing to note.
    run_import(alice, "name,phone\nb,13900139000\n", mode="dry_run")
    assert not AuditLog.objects.filter(action=ACTION).exists()
