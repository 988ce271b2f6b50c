"""The bitmap index stays exact on every kind of write: ORM saves, bulk statements, COPY, merges,
erasure, deletes and truncation; rebuild_index recomputes it; counts from bitmaps equal SQL counts."""

from __future__ import annotations

import io
import random

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from members.models import Member, MemberTag
from members.segments import compiler, index, queries
from members.segments.models import MemberBitmap
from tests.members.segments.conftest import random_tag_expression

pytestmark = pytest.mark.django_db


def bits_of(dimension, key):
    """Member ids in one (dimension, key) of the index."""
    ids = set()
    for row in MemberBitmap.objects.filter(dimension=dimension, key=key):
        ids.update((row.chunk << 16) + pos for pos, ch in enumerate(row.bits) if ch == "1")
    return ids


def assert_exact():
    assert index.differences() == []


def test_orm_writes_keep_index_exact(tags, store_a, store_b, carol):
    member = Member.objects.create(name="王", home_store=store_a, owner=carol, stage="ask")
    assert member.pk in bits_of("live", 0)
    assert member.pk in bits_of("store", store_a.pk)
    assert member.pk in bits_of("owner", carol.pk)
    MemberTag.objects.create(member=member, tag=tags[0])
    assert bits_of("tag", tags[0].pk) == {member.pk}
    assert_exact()

    member.home_store = store_b
    member.owner = None
    member.stage = "act"
    member.save()
    assert member.pk not in bits_of("store", store_a.pk)
    assert member.pk in bits_of("store", store_b.pk)
    assert member.pk in bits_of("owner", 0)
    assert_exact()

    MemberTag.objects.filter(member=member).delete()
    assert bits_of("tag", tags[0].pk) == set()
    member.erased_at = timezone.now()
    member.save()
    assert member.pk not in bits_of("live", 0)
    assert_exact()
    member.delete()
    assert_exact()


def test_bulk_statements_and_merges(population, tags, store_a, store_b):
    assert_exact()
    ids = list(population.values_list("id", flat=True))
    # One UPDATE moving many members between stores in both directions, and stage changes.
    Member.objects.filter(id__in=ids[::3]).update(home_store=store_b, stage="advocate")
    Member.objects.filter(id__in=ids[1::3]).update(home_store=store_a)
    assert_exact()
    # Merge some duplicates into survivors, erase others.
    survivor = ids[0]
    Member.objects.filter(id__in=ids[5:40]).update(merged_into_id=survivor)
    Member.objects.filter(id__in=ids[40:60]).update(erased_at=timezone.now())
    assert_exact()
    assert not (set(ids[5:60]) & bits_of("live", 0))
    # Unmerge (a merge undone by hand) comes back.
    Member.objects.filter(id__in=ids[5:10]).update(merged_into_id=None)
    assert set(ids[5:10]) <= bits_of("live", 0)
    # Bulk tag changes.
    MemberTag.objects.filter(tag=tags[0], member_id__in=ids[::2]).delete()
    MemberTag.objects.bulk_create([MemberTag(member_id=m, tag=tags[7]) for m in ids[100:400]],
                                  ignore_conflicts=True)
    has_six = MemberTag.objects.filter(tag=tags[6]).values("member_id")
    MemberTag.objects.filter(tag=tags[1]).exclude(member_id__in=has_six).update(tag=tags[6])
    assert_exact()
    Member.objects.filter(id__in=ids[-50:]).delete()
    assert_exact()


def test_copy_is_covered(tags, store_a):
    data = "".join(f"{i}\tc{i}\t\tu\t{store_a.pk}\tother\tact\t{{}}\t2025-01-01\t2025-01-01\n"
                   for i in range(2_000_000, 2_000_300))
    tag_rows = "".join(f"{i}\t{tags[2].pk}\timport\t2025-01-01\n" for i in range(2_000_000, 2_000_300, 2))
    with connection.cursor() as cursor:
        cursor.copy_expert("COPY members_member (id, name, phone, gender, home_store_id, source, stage, attributes, "
                           "created_at, updated_at) FROM STDIN", io.StringIO(data))
        cursor.copy_expert("COPY members_membertag (member_id, tag_id, source, added_at) FROM STDIN",
                           io.StringIO(tag_rows))
    assert len(bits_of("tag", tags[2].pk)) == 150
    assert_exact()


def test_truncate_clears_the_dimensions(population):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the fixture's deferred FK checks run first
        cursor.execute("TRUNCATE members_membertag")
    assert not MemberBitmap.objects.filter(dimension="tag").exists()
    assert_exact()


def test_rebuild_repairs_a_damaged_index(population, tags):
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {index.TABLE} SET bits = member_segments_zero() WHERE dimension = 'tag'")
        cursor.execute(f"DELETE FROM {index.TABLE} WHERE dimension = 'live'")
    assert index.differences()
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("rebuild_index", "--check", stdout=out, stderr=out)
    assert "differ" in out.getvalue()
    call_command("rebuild_index", stdout=out)
    assert_exact()
    call_command("rebuild_index", "--check", stdout=out)
    assert "exact" in out.getvalue()


def test_bitmap_counts_equal_sql_counts_for_random_expressions(population, tags, alice, bob):
    """Property-style: many random expressions, counted from bitmaps and by plain SQL."""
    rng = random.Random(11)
    tag_ids = [t.pk for t in tags]
    with connection.cursor() as cursor:
        for _ in range(150):
            raw = random_tag_expression(rng, tag_ids)
            tree = queries.validate_definition(raw)
            assert compiler.is_bitmap(tree)
            for actor, store in ((alice, None), (bob, bob.store_id)):
                where, params = compiler.rows_sql(tree, store, "m")
                cursor.execute(f"SELECT count(*) FROM members_member m WHERE {where}", params)
                expected = cursor.fetchone()[0]
                assert queries.count(raw, actor) == expected, raw


def test_apply_function_for_other_apps(population):
    ids = list(population.values_list("id", flat=True)[:20])
    with connection.cursor() as cursor:
        cursor.execute("SELECT member_segments_apply('tier', %s::bigint[], %s::bigint[], true)", [[3] * 20, ids])
        cursor.execute("SELECT member_segments_apply('tier', %s::bigint[], %s::bigint[], false)", [[3] * 5, ids[:5]])
    assert bits_of("tier", 3) == set(ids[5:])
