"""Fixtures for segments: a tag vocabulary and a population spread over several bitmap chunks."""

from __future__ import annotations

import random

import pytest
from django.db import connection

from members.models import Member, MemberTag, Tag, TagGroup


@pytest.fixture
def tags(db):
    group = TagGroup.objects.create(name="兴趣")
    return [Tag.objects.create(group=group, name=f"t{i}") for i in range(8)]


def insert_members(rows):
    """Insert members with chosen ids (to spread them over chunks) in one statement, as an import does.
    rows: (id, home_store_id, owner_id, stage)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO members_member (id, name, phone, gender, home_store_id, owner_id, source, stage, attributes, "
            "created_at, updated_at) SELECT r.id, 'm' || r.id, '', 'u', r.store, r.owner, 'other', r.stage, '{}', "
            "now(), now() FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[]) "
            "AS r(id, store, owner, stage)",
            [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]],
        )


def insert_tags(pairs, source="manual"):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO members_membertag (member_id, tag_id, source, added_at) "
            "SELECT m, t, %s, now() FROM unnest(%s::bigint[], %s::bigint[]) AS r(m, t)",
            [source, [p[0] for p in pairs], [p[1] for p in pairs]],
        )


STAGES = ["aware", "appeal", "ask", "act", "advocate"]


@pytest.fixture
def population(tags, stores, carol, dave):
    """~1,500 members with ids in three chunks (around 1.0M, 1.07M and 1.2M, clear of the id
    sequence), skewed tags, both stores, some without store or owner."""
    rng = random.Random(7)
    store_a, store_b = stores
    ids = sorted(rng.sample(range(1_000_000, 1_000_600), 500) + rng.sample(range(1_065_000, 1_066_000), 500)
                 + rng.sample(range(1_200_000, 1_230_000), 500))
    rows = []
    for member_id in ids:
        store = rng.choice([store_a.pk, store_a.pk, store_b.pk, None])
        owner = {store_a.pk: carol.pk, store_b.pk: dave.pk}.get(store) if rng.random() < 0.8 else None
        rows.append((member_id, store, owner, rng.choice(STAGES)))
    insert_members(rows)
    weights = [0.6, 0.3, 0.15, 0.08, 0.04, 0.02, 0.01, 0.005]
    pairs = [(m, tag.pk) for m in ids for tag, w in zip(tags, weights, strict=True) if rng.random() < w]
    insert_tags(pairs)
    return Member.objects.filter(id__in=ids)


def random_tag_expression(rng, tag_ids, depth=0):
    """A random definition over tags, stage, store and owner, with all / any / not nesting."""
    roll = rng.random()
    if depth < 3 and roll < 0.35:
        kind = rng.choice(["all", "any"])
        return {kind: [random_tag_expression(rng, tag_ids, depth + 1) for _ in range(rng.randint(0, 3))]}
    if depth < 3 and roll < 0.45:
        return {"not": random_tag_expression(rng, tag_ids, depth + 1)}
    if roll < 0.85:
        op = rng.choice(["any", "all", "none"])
        return {"tags": {op: rng.sample(tag_ids, rng.randint(1, 3))}}
    return {"field": "stage", "op": rng.choice(["in", "not_in"]), "value": rng.sample(STAGES, rng.randint(1, 2))}


def tagged(member_ids):
    return set(MemberTag.objects.filter(member_id__in=member_ids).values_list("member_id", "tag_id"))
