"""Audiences: one definition evaluated once per request. The builder page, the member list narrowed by
a segment, the live preview and a segment's count parse the definition once and count it once; the
Audience keeps its count, id SQL, queryset and sample, and the builder hides sensitive attributes by
the one rule of members.services.attributes."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse

from members.models import AttributeDefinition, Member, MemberTag, Tag, TagGroup
from members.segments import definition as definition_module
from members.segments import forms as segment_forms
from members.segments import queries
from members.segments import services as segment_services
from members.segments import views as segment_views
from members.segments.audience import Audience
from members.segments.definition import DefinitionError
from members.segments.forms import AudienceForm

pytestmark = pytest.mark.django_db

# The bitmap count (sum of bits), the SQL count of matches and Django's COUNT(*) of a paginator.
_COUNT_SQL = re.compile(r"sum\(bit_count\(|count\(\*\)", re.IGNORECASE)


@pytest.fixture
def dark(members):
    (a0, a1, _a2), (b0, _b1) = members
    tag = Tag.objects.create(group=TagGroup.objects.create(name="口味偏好"), name="黑巧")
    for m in (a0, a1, b0):
        MemberTag.objects.create(member=m, tag=tag)
    return tag


@pytest.fixture
def milk(members):
    (_a0, _a1, a2), (_b0, b1) = members
    AttributeDefinition.objects.create(code="milk_brand", label="奶粉", type="choice", choices=["A2", "B"])
    Member.objects.filter(pk__in=[a2.pk, b1.pk]).update(attributes={"milk_brand": "A2"})


class Calls:
    """How often one request parsed a definition and counted an audience, and its COUNT queries."""

    def __init__(self, monkeypatch):
        self.parses = self.counts = 0
        parse, count = definition_module.parse, queries.count

        def counting_parse(*args, **kwargs):
            self.parses += 1
            return parse(*args, **kwargs)

        def counting_count(*args, **kwargs):
            self.counts += 1
            return count(*args, **kwargs)

        monkeypatch.setattr(definition_module, "parse", counting_parse)
        monkeypatch.setattr(queries, "count", counting_count)
        self.captured = CaptureQueriesContext(connection)

    def __enter__(self):
        self.captured.__enter__()
        return self

    def __exit__(self, *exc):
        self.captured.__exit__(*exc)

    @property
    def count_queries(self) -> list[str]:
        return [q["sql"] for q in self.captured.captured_queries if _COUNT_SQL.search(q["sql"])]


def names(response) -> set[str]:
    return {m.name for m in response.context["object_list"]}


TAGS = {"r.match": "all", "r.0.filter": "tags", "r.0.op": "any"}
ATTRIBUTE = {"r.match": "all", "r.0.filter": "attribute", "r.0.arg": "milk_brand", "r.0.op": "eq",
             "r.0.value": "A2"}


def test_builder_page_parses_and_counts_a_bitmap_audience_once(client, alice, dark, monkeypatch):
    client.force_login(alice)
    with Calls(monkeypatch) as calls:
        response = client.get(reverse("member-list"), {**TAGS, "r.0.value": [dark.pk]})
    assert response.context["audience_count"] == 3 and response.context["preview"]["count"] == 3
    assert names(response) == {"张0", "张1", "李0"} and len(response.context["preview"]["sample"]) == 3
    assert calls.parses == 1 and calls.counts == 1
    assert len(calls.count_queries) == 1, calls.count_queries  # the list reuses it, the paginator too


def test_builder_page_parses_and_counts_an_sql_audience_once(client, alice, milk, monkeypatch):
    client.force_login(alice)
    with Calls(monkeypatch) as calls:
        response = client.get(reverse("member-list"), ATTRIBUTE)
    assert response.context["audience_count"] == 2 and names(response) == {"张2", "李1"}
    assert calls.parses == 1 and calls.counts == 1
    assert len(calls.count_queries) == 1, "\n\n".join(q[:400] for q in calls.count_queries)


def test_member_list_narrowed_by_a_segment_parses_and_counts_once(client, bob, dark, monkeypatch):
    segment = segment_services.create_segment(actor=bob, name="黑巧", definition={"tags": {"any": [dark.pk]}})
    client.force_login(bob)
    with Calls(monkeypatch) as calls:
        response = client.get(reverse("member-list"), {"segment": segment.pk})
    assert response.context["editing"] == segment
    assert response.context["audience_count"] == 2 and names(response) == {"张0", "张1"}  # store A only
    assert calls.parses == 1 and calls.counts == 1
    assert len(calls.count_queries) == 1, "\n\n".join(q[:400] for q in calls.count_queries)


def test_live_preview_and_rebuilt_rows_parse_and_count_once(client, bob, dark, monkeypatch):
    client.force_login(bob)
    url = reverse("audience-builder")
    for extra in ({}, {"tree": "1"}, {"action": "add:r"}):
        with Calls(monkeypatch) as calls:
            response = client.get(url, {**TAGS, "r.0.value": [dark.pk], **extra}, HTTP_HX_REQUEST="true")
        assert response.context["preview"]["count"] == 2, extra
        assert calls.parses == 1 and calls.counts == 1, extra
        assert len(calls.count_queries) == 1, (extra, calls.count_queries)
        monkeypatch.undo()


def test_segment_count_counts_the_readers_part_once(client, alice, bob, dark, monkeypatch):
    brand = segment_services.create_segment(actor=alice, name="全品牌黑巧", definition={"tags": {"any": [dark.pk]}})
    client.force_login(bob)
    with Calls(monkeypatch) as calls:
        response = client.get(reverse("segment-count", args=[brand.pk]))
    assert response.content.decode() == "2"  # bob's store's part of a brand-wide segment
    assert calls.parses == 1 and calls.counts == 1


def test_segment_count_of_a_broken_definition(client, alice, dark):
    segment = segment_services.create_segment(actor=alice, name="黑巧", definition={"tags": {"any": [dark.pk]}})
    dark.delete()  # the definition now names a tag that is gone
    client.force_login(alice)
    assert client.get(reverse("segment-count", args=[segment.pk])).content.decode() == "—"


def test_audience_keeps_what_it_computed(alice, dark):
    audience = Audience({"tags": {"any": [dark.pk]}}, actor=alice)
    assert audience.is_valid and audience.errors == []
    with CaptureQueriesContext(connection) as first:
        assert audience.count == 3
        ids = set(audience.queryset.values_list("id", flat=True))
        sample = audience.sample(2)
    with CaptureQueriesContext(connection) as again:
        assert audience.count == 3 and audience.sample(2) == sample
        preview = audience.preview(2)
    assert len(again) == 0, [q["sql"] for q in again.captured_queries]
    assert len([q for q in first.captured_queries if _COUNT_SQL.search(q["sql"])]) == 1
    assert preview == {"count": 3, "sample": sample, "ms": audience.ms} and len(sample) == 2
    assert [m.pk for m in sample] == sorted(ids, reverse=True)[:2]  # the newest first
    sql, params = audience.member_ids_sql
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        assert {row[0] for row in cursor.fetchall()} == ids


def test_audience_of_a_segment_keeps_to_its_store(alice, bob, dark, store_a):
    brand = segment_services.create_segment(actor=alice, name="全品牌", definition={"tags": {"any": [dark.pk]}})
    own = segment_services.create_segment(actor=alice, name="A店", definition={"tags": {"any": [dark.pk]}},
                                          store=store_a)
    assert Audience.of_segment(brand, actor=alice).count == 3
    assert Audience.of_segment(brand, actor=bob).count == 2
    assert {m.name for m in Audience.of_segment(own, actor=alice).queryset} == {"张0", "张1"}


def test_empty_audience_reads_no_sample(alice, dark):
    audience = Audience({"all": [{"tags": {"any": [dark.pk]}}, {"tags": {"none": [dark.pk]}}]}, actor=alice)
    assert audience.count == 0
    with CaptureQueriesContext(connection) as captured:
        assert audience.sample(5) == [] and audience.preview(5)["sample"] == []
    assert len(captured) == 0


def test_invalid_audience_reports_and_refuses(alice):
    audience = Audience({"all": [{"field": "stage", "op": "in", "value": ["nope"]}]}, actor=alice)
    assert not audience.is_valid
    assert [e["path"] for e in audience.errors] == ["$.all[0].value[0]"]
    for ask in (lambda: audience.count, lambda: audience.queryset, lambda: audience.member_ids_sql,
                lambda: audience.sample(3)):
        with pytest.raises(DefinitionError):
            ask()


def test_audience_describes_the_filters_it_was_given_or_the_registry(alice):
    assert [f["key"] for f in Audience({"all": []}, actor=alice).filters] == \
        [f["key"] for f in queries.describe_filters()]
    given = [{"key": "tags"}]
    assert Audience({"all": []}, actor=alice, filters=given).filters is given


def test_member_queryset_takes_a_known_count(alice, dark):
    tree = queries.validate_definition({"tags": {"any": [dark.pk]}})
    with CaptureQueriesContext(connection) as captured:
        ids = set(queries.member_queryset(tree, alice, known_count=3).values_list("id", flat=True))
    assert len(ids) == 3
    assert not [q for q in captured.captured_queries if _COUNT_SQL.search(q["sql"])]
    assert ids == set(queries.member_queryset(tree, alice).values_list("id", flat=True))


def test_builder_hides_sensitive_attributes_by_the_one_rule(alice, monkeypatch):
    AttributeDefinition.objects.create(code="favourite_cacao", label="偏好可可含量", type="text")
    AttributeDefinition.objects.create(code="allergy", label="过敏", type="text", sensitive=True)
    AttributeDefinition.objects.create(code="child_birth_month", label="孩子出生年月", type="month",
                                       requires_guardian=True)
    assert set(AudienceForm(user=alice)._attributes()) == {"favourite_cacao", "allergy", "child_birth_month"}
    asked = []

    def sees_none(actor):
        asked.append(actor)
        return False

    monkeypatch.setattr(segment_forms, "sees_sensitive_attributes", sees_none)
    assert set(AudienceForm(user=alice)._attributes()) == {"favourite_cacao"}
    assert asked == [alice]


def test_form_builds_one_audience_until_its_rows_change(alice, dark):
    form = AudienceForm({**TAGS, "r.0.value": str(dark.pk)}, user=alice)
    assert form.is_valid() and form.audience() is form.audience()
    first = form.audience()
    assert first.count == 3 and first.filters is form.catalogue()
    form.apply("add:r")
    assert form.audience() is not first and form.audience().definition == form.definition()


@pytest.mark.parametrize(("who", "allowed"), [("alice", True), ("bob", True), ("carol", False)])
def test_who_uses_segments(request, client, dark, who, allowed):
    user = request.getfixturevalue(who)
    assert segment_services.can_use_segments(user) is allowed
    segment = segment_services.create_segment(actor=request.getfixturevalue("bob"), name="黑巧",
                                              definition={"tags": {"any": [dark.pk]}})
    client.force_login(user)
    count = client.get(reverse("segment-count", args=[segment.pk]))
    recount = client.post(reverse("segment-action", args=[segment.pk, "recount"]))
    listed = client.get(reverse("segment-list"))
    if allowed:
        assert count.status_code == listed.status_code == 200 and recount.status_code == 302
    else:
        assert count.status_code == recount.status_code == listed.status_code == 403


def test_another_stores_segment_is_not_found(client, alice, bob, dark, store_b):
    other = segment_services.create_segment(actor=alice, name="B店", definition={"tags": {"any": [dark.pk]}},
                                            store=store_b)
    client.force_login(bob)
    assert client.get(reverse("segment-count", args=[other.pk])).status_code == 404
    assert client.post(reverse("segment-action", args=[other.pk, "delete"])).status_code == 404
    assert client.post(reverse("segment-action", args=[other.pk + 1000, "delete"])).status_code == 404
    assert type(other).objects.filter(pk=other.pk).exists()


def test_segment_screens_are_served_from_segments():
    for name, args in (("segment-list", []), ("segment-save", []), ("segment-count", [1]),
                       ("audience-builder", []), ("segment-action", [1, "recount"])):
        assert resolve(reverse(name, args=args)).func.__module__ == segment_views.__name__, name
    assert reverse("audience-builder") == "/members/audience/" and reverse("segment-list") == "/segments/"
