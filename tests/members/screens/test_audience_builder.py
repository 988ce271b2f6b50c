"""The audience builder on the member list: a boolean tree (all / any, nested groups, NOT) over every
filter of the segments registry, written in the API's definition format, counted from the segment
engine, scoped, saved as a segment and opened again unchanged."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members.models import AttributeDefinition, Member, MemberTag, Tag, TagGroup
from members.segments import queries
from members.segments.forms import AudienceForm
from members.segments.models import Segment
from members.segments.registry import Value, register_filter, unregister_filter

pytestmark = pytest.mark.django_db


def _tag(members):
    (a0, a1, a2), (b0, b1) = members
    dark = Tag.objects.create(group=TagGroup.objects.create(name="口味偏好"), name="黑巧")
    for m in (a0, a1, b0):
        MemberTag.objects.create(member=m, tag=dark)
    return dark


@pytest.fixture
def milk(db):
    return AttributeDefinition.objects.create(code="milk_brand", label="奶粉", type="choice", choices=["A2", "B"])


def names(response):
    return {m.name for m in response.context["object_list"]}


def test_flat_builder_fields_count_and_list(client, alice, members):
    dark = _tag(members)
    client.force_login(alice)
    response = client.get(reverse("member-list"), {"r.match": "all", "r.0.filter": "tags", "r.0.op": "any",
                                                   "r.0.value": [dark.pk]})
    assert response.context["audience"].definition() == {"all": [{"tags": {"any": [dark.pk]}}]}
    assert response.context["audience_count"] == 3
    assert names(response) == {"张0", "张1", "李0"}
    none = client.get(reverse("member-list"), {"r.match": "all", "r.0.filter": "tags", "r.0.op": "none",
                                               "r.0.value": [dark.pk]})
    assert names(none) == {"张2", "李1"} and none.context["paginator"].count == 2


def test_nested_groups_not_and_attributes(client, alice, members, milk, store_a):
    (a0, a1, a2), (b0, b1) = members
    dark = _tag(members)
    Member.objects.filter(pk__in=[a2.pk, b1.pk]).update(attributes={"milk_brand": "A2"})
    client.force_login(alice)
    # ANY of: (tag dark AND NOT store A) | attribute milk_brand = A2
    params = {
        "r.match": "any",
        "r.0.match": "all",
        "r.0.0.filter": "tags", "r.0.0.op": "any", "r.0.0.value": [dark.pk],
        "r.0.1.filter": "home_store", "r.0.1.op": "in", "r.0.1.value": [store_a.pk], "r.0.1.not": "on",
        "r.1.filter": "attribute", "r.1.arg": "milk_brand", "r.1.op": "eq", "r.1.value": "A2",
    }
    response = client.get(reverse("member-list"), params)
    expected = {"any": [
        {"all": [{"tags": {"any": [dark.pk]}}, {"not": {"field": "home_store", "op": "in", "value": [store_a.pk]}}]},
        {"attribute": "milk_brand", "op": "eq", "value": "A2"},
    ]}
    assert response.context["audience"].definition() == expected
    assert names(response) == {"李0", "张2", "李1"}
    assert response.context["audience_count"] == queries.count(expected, alice) == 3


def test_definition_round_trips_through_the_builder(alice, tags_and_attrs):
    dark, milk = tags_and_attrs
    definition = {"any": [
        {"all": [{"tags": {"all": [dark.pk]}}, {"not": {"any": [{"field": "stage", "op": "in", "value": ["act"]},
                                                                {"field": "birthday_month", "op": "not_in",
                                                                 "value": [1, 2]}]}}]},
        {"attribute": "milk_brand", "op": "in", "value": ["A2", "B"]},
        {"field": "joined", "op": "between", "value": ["2024-01-01", "2024-12-31"]},
        {"field": "joined", "op": "within_days", "value": 30},
        {"not": {"tags": {"none": [dark.pk]}}},
        {"field": "owner", "op": "is_null", "value": True},
    ]}
    queries.validate_definition(definition)
    form = AudienceForm(user=alice, definition=definition)
    assert form.definition() == definition and form.is_valid()
    # ... and through the flat fields the page posts
    from django.http import QueryDict

    data = QueryDict(mutable=True)
    _flatten(form.root, data)
    again = AudienceForm(data, user=alice)
    assert again.definition() == definition and again.is_valid()


@pytest.fixture
def tags_and_attrs(db):
    dark = Tag.objects.create(group=TagGroup.objects.create(name="口味偏好"), name="黑巧")
    milk = AttributeDefinition.objects.create(code="milk_brand", label="奶粉", type="choice", choices=["A2", "B"])
    return dark, milk


def _flatten(node, data):
    if node.is_group:
        data[f"{node.path}.match"] = node.match
        for child in node.children:
            _flatten(child, data)
    else:
        data[f"{node.path}.filter"] = node.filter
        data[f"{node.path}.op"] = node.op
        if node.arg:
            data[f"{node.path}.arg"] = node.arg
        data.setlist(f"{node.path}.value", node.values)
    if node.negate:
        data[f"{node.path}.not"] = "on"


def test_rows_are_added_and_removed_over_htmx(client, alice, members):
    client.force_login(alice)
    url = reverse("audience-builder")
    added = client.get(url, {"r.match": "all", "action": "add:r"}, HTTP_HX_REQUEST="true")
    html = added.content.decode()
    assert 'name="r.0.filter"' in html and 'hx-swap-oob="true"' in html
    grouped = client.get(url, {"r.match": "all", "r.0.filter": "stage", "r.0.op": "in", "r.0.value": "act",
                               "action": "group:r"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'name="r.1.match"' in grouped and 'name="r.1.0.filter"' in grouped
    removed = client.get(url, {"r.match": "all", "r.0.filter": "stage", "r.0.op": "in", "r.0.value": "act",
                               "r.1.filter": "gender", "r.1.op": "in", "r.1.value": "f",
                               "action": "remove:r.0"}, HTTP_HX_REQUEST="true")
    form = removed.context["audience"]
    assert form.definition() == {"all": [{"field": "gender", "op": "in", "value": ["f"]}]}
    assert 'name="r.1.filter"' not in removed.content.decode()


def test_live_preview_counts_and_samples(client, bob, members):
    dark = _tag(members)
    client.force_login(bob)
    response = client.get(reverse("audience-builder"), {"r.match": "all", "r.0.filter": "tags", "r.0.op": "any",
                                                        "r.0.value": [dark.pk]}, HTTP_HX_REQUEST="true")
    assert response.context["preview"]["count"] == 2  # store A only
    assert {m.name for m in response.context["preview"]["sample"]} == {"张0", "张1"}
    assert 'data-testid="preview-count"' in response.content.decode()


def test_every_registered_filter_is_offered(client, alice, members):
    register_filter("test_club_level", "Club level", group="Loyalty", value_schema={"in": Value("integer", many=True)},
                    compile_sql=lambda leaf, m: (f"mod({m}.id, 2) = ANY(%s)", [leaf.value]))
    try:
        client.force_login(alice)
        page = client.get(reverse("member-list"), {"r.match": "all", "r.0.filter": "test_club_level", "r.0.op": "in",
                                                   "r.0.value": "0, 1"})
        html = page.content.decode()
        assert '<option value="test_club_level" selected>Club level</option>' in html
        expected = {"all": [{"field": "test_club_level", "op": "in", "value": [0, 1]}]}
        assert page.context["audience"].definition() == expected
        offered = {key for _group, items in page.context["filter_choices"] for key, _label in items}
        assert offered == {f["key"] for f in queries.describe_filters()}
    finally:
        unregister_filter("test_club_level")


def test_clerk_audience_stays_in_their_store(client, carol, members):
    dark = _tag(members)
    client.force_login(carol)
    response = client.get(reverse("member-list"), {"r.0.filter": "tags", "r.0.op": "any", "r.0.value": [dark.pk]})
    assert response.context["audience_count"] == 2
    assert names(response) == {"张0", "张1"}


def test_search_within_an_audience(client, alice, members):
    dark = _tag(members)
    client.force_login(alice)
    response = client.get(reverse("member-list"), {"r.0.filter": "tags", "r.0.op": "any", "r.0.value": [dark.pk],
                                                   "q": "李"})
    assert names(response) == {"李0"} and response.context["paginator"].count == 1


def test_save_nested_segment_reopen_and_update(client, bob, members, store_a):
    dark = _tag(members)
    client.force_login(bob)
    fields = {"r.match": "any", "r.0.match": "all", "r.0.not": "on", "r.0.0.filter": "tags", "r.0.0.op": "any",
              "r.0.0.value": [dark.pk], "r.1.filter": "stage", "r.1.op": "in", "r.1.value": ["act"]}
    response = client.post(reverse("segment-save"), {**fields, "name": "不爱黑巧"})
    segment = Segment.objects.get(name="不爱黑巧")
    assert response.url.endswith(f"?segment={segment.pk}")
    assert segment.store_id == bob.store_id
    assert segment.definition == {"any": [{"not": {"all": [{"tags": {"any": [dark.pk]}}]}},
                                          {"field": "stage", "op": "in", "value": ["act"]}]}
    page = client.get(reverse("member-list"), {"segment": segment.pk})
    assert page.context["audience"].definition() == segment.definition  # opens in the builder unchanged
    assert page.context["audience_count"] == 1 and names(page) == {"张2"}
    assert page.context["can_update"]
    client.post(reverse("segment-save"), {**fields, "r.match": "all", "segment": segment.pk, "update": "1",
                                          "name": "改了"})
    segment.refresh_from_db()
    assert segment.name == "改了" and next(iter(segment.definition)) == "all"
    assert Segment.objects.count() == 1
    client.post(reverse("segment-action", args=[segment.pk, "snapshot"]))
    assert segment.snapshots.get().member_count == queries.count(segment.definition, bob)


def test_clerk_cannot_save_segments(client, carol, members):
    dark = _tag(members)
    client.force_login(carol)
    response = client.post(reverse("segment-save"), {"r.0.filter": "tags", "r.0.op": "any", "r.0.value": [dark.pk],
                                                     "name": "x"})
    assert response.status_code == 403 and not Segment.objects.exists()


def test_bad_builder_input_is_reported_on_its_row(client, alice, members):
    client.force_login(alice)
    response = client.get(reverse("member-list"), {"r.0.filter": "tags", "r.0.op": "any", "r.0.value": "abc",
                                                   "r.1.filter": "joined", "r.1.op": "within_days", "r.1.value": "-3"})
    assert response.status_code == 200
    tree = response.context["tree"]
    assert tree.children[0].errors and tree.children[1].errors
    assert "at least 1" in " ".join(tree.children[1].errors)
    assert 'role="alert"' in response.content.decode()
    assert response.context["audience_count"] is None  # the list is not narrowed by a broken audience


def test_member_list_queries_are_bounded(client, alice, members, milk):
    dark = _tag(members)
    client.force_login(alice)
    params = {"r.match": "any", "r.0.filter": "tags", "r.0.op": "any", "r.0.value": [dark.pk],
              "r.1.filter": "attribute", "r.1.arg": "milk_brand", "r.1.op": "eq", "r.1.value": "A2",
              "r.2.filter": "home_store", "r.2.op": "in", "r.2.value": []}
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("member-list"), params)
    for i in range(30):
        Member.objects.create(name=f"王{i}", home_store=members[0][0].home_store)
        MemberTag.objects.create(member=Member.objects.latest("id"), tag=dark)
    with CaptureQueriesContext(connection) as large:
        client.get(reverse("member-list"), params)
    assert len(large.captured_queries) == len(small.captured_queries) <= 30, [
        q["sql"][:90] for q in large.captured_queries]
