"""The same-phone duplicate finder: shared phones read from the phone index, live and scoped
members only, and a check limited to the phones just touched."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members.models import Member
from members.services import merge

pytestmark = pytest.mark.django_db

PHONE = "+8613800138000"


@pytest.fixture
def phones(store_a, store_b):
    first = Member.objects.create(name="一", phone=PHONE, home_store=store_a)
    second = Member.objects.create(name="二", phone=PHONE, home_store=store_a)
    other = Member.objects.create(name="三", phone=PHONE, home_store=store_b)
    merged = Member.objects.create(name="四", phone="+8613900139000", home_store=store_a)
    Member.objects.create(name="五", phone="+8613900139000", home_store=store_a, merged_into=first)
    erased = Member.objects.create(name="六", phone="+8613700137000", home_store=store_b)
    Member.objects.create(name="七", phone="+8613700137000", home_store=store_b, erased_at=timezone.now())
    Member.objects.create(name="无", phone="", home_store=store_a)
    Member.objects.create(name="无二", phone="", home_store=store_a)
    return first, second, other, merged, erased


def pairs(found):
    return {(c.survivor_id, c.duplicate_ids) for c in found}


def test_only_live_members_sharing_a_phone_within_reach(phones, alice, bob, dave):
    first, second, other, _merged, _erased = phones
    assert pairs(merge.duplicate_candidates(actor=alice, rule="same_phone")) == {(first.pk, (second.pk, other.pk))}
    assert pairs(merge.duplicate_candidates(actor=bob, rule="same_phone")) == {(first.pk, (second.pk,))}
    assert merge.duplicate_candidates(actor=dave, rule="same_phone") == []


def test_brand_wide_search_reads_shared_phones_from_the_index(phones, alice):
    with CaptureQueriesContext(connection) as ctx:
        merge.duplicate_candidates(actor=alice, rule="same_phone")
    [sql] = [q["sql"] for q in ctx.captured_queries]
    assert "= ANY(ARRAY(SELECT phone FROM members_member" in sql and "HAVING count(*) > 1" in sql


def test_only_the_phones_touched(phones, alice):
    first, second, other, _merged, _erased = phones
    assert merge.duplicate_candidates(actor=alice, rule="same_phone", phones=["+8613900139000"]) == []
    found = merge.duplicate_candidates(actor=alice, rule="same_phone", phones=[PHONE, ""])
    assert pairs(found) == {(first.pk, (second.pk, other.pk))}
    assert found[0].key != PHONE and "****" in found[0].key
