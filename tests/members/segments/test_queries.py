"""Counting, sampling and listing segments: exact, scoped to the actor's store, same answers whether
a definition is answered from bitmaps, from SQL or from both."""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.utils import timezone

from members.models import AttributeDefinition, Member
from members.segments import compiler, queries
from members.segments.definition import All
from tests.members.segments.conftest import random_tag_expression

pytestmark = pytest.mark.django_db


def sql_count(definition, store=None):
    where, params = compiler.rows_sql(queries.validate_definition(definition), store, "m")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM members_member m WHERE {where}", params)
        return cursor.fetchone()[0]


def test_store_roles_count_their_store_only(population, tags, alice, bob, dave, store_a, store_b, make_key):
    from scrm.api.auth import ApiPrincipal
    from scrm.models import ApiKey

    definition = {"tags": {"any": [tags[0].pk]}}
    total = queries.count(definition, alice)
    in_a = population.filter(home_store=store_a, member_tags__tag=tags[0]).count()
    in_b = population.filter(home_store=store_b, member_tags__tag=tags[0]).count()
    assert total == population.filter(member_tags__tag=tags[0]).count() > in_a + in_b
    assert queries.count(definition, bob) == in_a
    assert queries.count(definition, dave) == in_b
    # A store-bound API key is cut to its store too; a saved segment of store A reaches nobody for dave.
    make_key(scopes=["segments:read"], store=store_b)
    principal = ApiPrincipal(ApiKey.objects.get(store=store_b))
    assert queries.count(definition, principal) == in_b
    assert queries.count(definition, dave, store_id=store_a.pk) == 0
    assert queries.count(definition, None) == 0
    assert queries.sample(definition, dave, store_id=store_a.pk) == []
    assert not queries.member_queryset(definition, dave, store_id=store_a.pk).exists()


def test_sample_is_the_newest_matching_members(population, tags, alice, bob):
    for definition in ({"tags": {"any": [tags[3].pk]}}, {"all": [{"tags": {"any": [tags[3].pk]}},
                                                                 {"field": "gender", "op": "in", "value": ["u"]}]}):
        expected = list(population.filter(member_tags__tag=tags[3]).order_by("-id").values_list("id", flat=True))
        assert [m.id for m in queries.sample(definition, alice, 25)] == expected[:25]
        mine = list(population.filter(member_tags__tag=tags[3], home_store=bob.store).order_by("-id")
                    .values_list("id", flat=True))
        assert [m.id for m in queries.sample(definition, bob, 5)] == mine[:5]


def test_member_queryset_matches_count_both_ways(population, tags, alice, bob, monkeypatch):
    rng = random.Random(3)
    tag_ids = [t.pk for t in tags]
    for _ in range(15):
        definition = random_tag_expression(rng, tag_ids)
        for limit in (0, 10**9):  # SQL condition, then ids read from the index
            monkeypatch.setattr(queries, "ID_LIST_LIMIT", limit)
            for actor in (alice, bob):
                qs = queries.member_queryset(definition, actor)
                assert qs.count() == queries.count(definition, actor), definition
                assert qs.model is Member


def test_merged_and_erased_members_never_count(population, tags, alice):
    definition = {"tags": {"any": [tags[0].pk]}}
    before = queries.count(definition, alice)
    victims = list(population.filter(member_tags__tag=tags[0]).values_list("id", flat=True)[:10])
    Member.objects.filter(id__in=victims[:5]).update(erased_at=timezone.now())
    Member.objects.filter(id__in=victims[5:]).update(merged_into_id=victims[0])
    assert queries.count(definition, alice) == before - 10
    assert queries.count({"tags": {"none": [tags[0].pk]}}, alice) == sql_count({"tags": {"none": [tags[0].pk]}})


def test_sql_filters_agree_with_python(population, tags, alice, store_a):
    AttributeDefinition.objects.create(code="milk_brand", label="奶粉", type="choice", choices=["A2", "B"])
    AttributeDefinition.objects.create(code="kids", label="孩子", type="number")
    AttributeDefinition.objects.create(code="due", label="预产期", type="month")
    members = list(population.order_by("id"))
    for i, member in enumerate(members[:300]):
        member.attributes = {"milk_brand": "A2" if i % 3 else "B", "kids": i % 4, "due": f"2025-{1 + i % 12:02d}"}
        member.gender = "f" if i % 2 else "m"
        member.birthday = timezone.now().date().replace(month=1 + i % 12, day=1)
    Member.objects.bulk_update(members[:300], ["attributes", "gender", "birthday"])
    cases = [
        ({"attribute": "milk_brand", "op": "eq", "value": "A2"}, 200),
        ({"attribute": "milk_brand", "op": "in", "value": ["A2", "B"]}, 300),
        ({"attribute": "kids", "op": "gte", "value": 2}, 150),
        ({"attribute": "kids", "op": "between", "value": [1, 2]}, 150),
        ({"attribute": "due", "op": "lt", "value": "2025-04"}, 75),
        ({"attribute": "kids", "op": "is_set", "value": True}, 300),
        ({"all": [{"field": "gender", "op": "in", "value": ["f"]},
                  {"field": "birthday_month", "op": "in", "value": [1, 2]}]}, 25),
    ]
    for definition, expected in cases:
        assert queries.count(definition, alice) == expected, definition
    assert queries.count({"field": "joined", "op": "within_days", "value": 1}, alice) == len(members)
    assert queries.count({"not": {"field": "home_store", "op": "in", "value": [store_a.pk]}}, alice) == \
        population.exclude(home_store=store_a).count()


def test_hybrid_plan_gives_the_same_answer(population, tags, alice, bob, monkeypatch):
    definition = {"all": [{"tags": {"any": [tags[5].pk, tags[6].pk]}}, {"field": "gender", "op": "in", "value": ["u"]},
                          {"tags": {"none": [tags[0].pk]}}]}
    tree = queries.validate_definition(definition)
    assert not compiler.is_bitmap(tree)
    assert queries._plan(tree, None).kind == "hybrid"
    monkeypatch.setattr(queries, "HYBRID_RATIO", -1)
    assert queries._plan(tree, None).kind == "sql"
    for actor, store in ((alice, None), (bob, bob.store_id)):
        monkeypatch.setattr(queries, "HYBRID_RATIO", -1)
        plain = queries.count(definition, actor)
        monkeypatch.setattr(queries, "HYBRID_RATIO", 1)
        assert queries.count(definition, actor) == plain == sql_count(definition, store)


def test_empty_combinators(population, alice):
    live = population.count()
    assert queries.count({"all": []}, alice) == live
    assert queries.count({"any": []}, alice) == 0
    assert queries.count({"not": {"any": []}}, alice) == live
    assert isinstance(queries.validate_definition({"all": []}), All)


def test_preview_times_itself(population, tags, alice):
    result = queries.preview({"tags": {"any": [tags[1].pk]}}, alice, n=3)
    assert result["count"] > 3 and len(result["sample"]) == 3 and result["ms"] >= 0
