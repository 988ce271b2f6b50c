"""The member centre's everyday tools on the dashboard: the member list's columns, sorting, total and
bulk tag actions (confirmed by count, safe to retry, scoped, never wider than the list), the tag
vocabulary screens, and the profile edit (services' rules, per-field errors, no lost update)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from loyalty.orders.models import Order
from loyalty.points.models import MemberPoints
from members.models import (
    AttributeDefinition,
    Consent,
    Member,
    MemberEvent,
    MemberTag,
    Tag,
    TagGroup,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def dark(members):
    (a0, a1, _a2), (b0, _b1) = members
    tag = Tag.objects.create(group=TagGroup.objects.create(name="口味偏好"), name="黑巧")
    for m in (a0, a1, b0):
        MemberTag.objects.create(member=m, tag=tag)
    return tag


@pytest.fixture
def vip(db):
    return Tag.objects.create(group=TagGroup.objects.create(name="身份"), name="VIP")


def _order(member, amount, days_ago=1, number=None):
    return Order.objects.create(
        member=member,
        store=member.home_store,
        channel="pos",
        external_id=number or f"N{member.pk}-{amount}",
        total_amount=amount,
        placed_at=timezone.now() - timedelta(days=days_ago),
    )


# --- the list ---------------------------------------------------------------------------------------


def test_the_page_and_its_columns_are_one_query(client, alice, members, dark):
    (a0, a1, a2), (b0, b1) = members
    _order(a0, 300)
    _order(a1, 120)
    MemberPoints.objects.create(member=a2, balance=800)
    client.force_login(alice)
    client.get(reverse("member-list"))  # warm the session and caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("member-list"), {"sort": "-spend"})
    selects = [
        q["sql"] for q in queries.captured_queries if "members_member" in q["sql"] and "members_membertag" in q["sql"]
    ]
    assert len(selects) == 1  # rows, tier, points, spend, last order and tag chips in one SELECT
    rows = response.context["object_list"]
    assert [m.pk for m in rows][:2] == [a0.pk, a1.pk]
    html = response.content.decode()
    assert ">黑巧</span>" in html and ">800</td>" in html
    assert 'data-testid="member-total">5 members match' in html
    for key in ("name", "joined", "last_order", "spend", "points"):
        assert f'data-testid="sort-{key}"' in html


def test_sorting_by_points_and_name(client, alice, members):
    (a0, a1, a2), _b = members
    MemberPoints.objects.create(member=a1, balance=50)
    MemberPoints.objects.create(member=a2, balance=900)
    client.force_login(alice)
    by_points = client.get(reverse("member-list"), {"sort": "-points"}).context["object_list"]
    assert [m.pk for m in by_points][:2] == [a2.pk, a1.pk]
    by_name = client.get(reverse("member-list"), {"sort": "name"}).context["object_list"]
    assert [m.name for m in by_name] == sorted(m.name for m in by_name)


def test_an_unknown_sort_is_refused_not_ignored(client, alice, members):
    client.force_login(alice)
    response = client.get(reverse("member-list"), {"sort": "phone"})
    assert response.status_code == 400
    assert "cannot be sorted by “phone”" in response.content.decode()


def test_store_accounts_see_their_store_and_its_total(client, carol, members):
    client.force_login(carol)
    response = client.get(reverse("member-list"))
    assert response.context["paginator"].count == 3
    assert {m.home_store.code for m in response.context["object_list"]} == {"SH01"}


# --- bulk actions --------------------------------------------------------------------------------


def _bulk(client, **data):
    return client.post(reverse("member-bulk"), {"action": "add_tag", **data})


def _confirm_fields(html: str) -> dict:
    fields = dict(re.findall(r'<input type="hidden" name="(expected|token)" value="([^"]*)"', html))
    return fields


def test_add_a_tag_to_all_matching_after_confirming_the_count(client, alice, members, dark, vip):
    client.force_login(alice)
    query = f"tag={dark.pk}"
    review = _bulk(client, tag=vip.pk, target="all", query=query)
    html = review.content.decode()
    assert review.status_code == 200 and "to 3 members?" in html
    assert not MemberTag.objects.filter(tag=vip).exists()  # nothing before the confirmation
    fields = _confirm_fields(html)
    assert fields["expected"] == "3"
    done = _bulk(client, tag=vip.pk, target="all", query=query, **fields)
    assert done.status_code == 302
    carriers = set(MemberTag.objects.filter(tag=vip).values_list("member_id", flat=True))
    assert carriers == set(MemberTag.objects.filter(tag=dark).values_list("member_id", flat=True))
    # the same confirmation again (a double click, a retry): answered, nothing changes
    MemberTag.objects.filter(tag=vip).delete()
    again = _bulk(client, tag=vip.pk, target="all", query=query, **fields)
    assert again.status_code == 302 and not MemberTag.objects.filter(tag=vip).exists()


def test_a_changed_set_is_reviewed_again(client, alice, members, dark, vip):
    (_a, (_b0, b1)) = members
    client.force_login(alice)
    fields = _confirm_fields(_bulk(client, tag=vip.pk, target="all", query=f"tag={dark.pk}").content.decode())
    MemberTag.objects.create(member=b1, tag=dark)  # a fourth member matches meanwhile
    response = _bulk(client, tag=vip.pk, target="all", query=f"tag={dark.pk}", **fields)
    assert response.status_code == 409 and "now has 4 members, not the 3" in response.content.decode()
    assert not MemberTag.objects.filter(tag=vip).exists()


def test_all_matching_is_cut_to_the_users_store(client, carol, members, vip):
    client.force_login(carol)
    html = _bulk(client, tag=vip.pk, target="all", query="").content.decode()
    assert "to 3 members?" in html
    _bulk(client, tag=vip.pk, target="all", query="", **_confirm_fields(html))
    assert set(MemberTag.objects.filter(tag=vip).values_list("member__home_store__code", flat=True)) == {"SH01"}


def test_selected_rows_outside_the_users_store_change_nothing(client, carol, members, vip):
    (a0, _a1, _a2), (b0, _b1) = members
    client.force_login(carol)
    review = _bulk(client, tag=vip.pk, target="selected", member=[a0.pk, b0.pk])
    fields = _confirm_fields(review.content.decode())
    response = _bulk(client, tag=vip.pk, target="selected", member=[a0.pk, b0.pk], **fields)
    assert response.status_code in (404, 409)
    assert not MemberTag.objects.filter(tag=vip).exists()


@pytest.mark.parametrize(
    "query",
    [
        "tags=1",  # a misspelt filter would otherwise mean everyone
        "r.match=all&r.0.filter=tier&r.0.op=in&r.0.value=",  # an incomplete audience
        "r.match=all&r.0.filter=shoe_size&r.0.op=eq&r.0.value=38",  # an unknown condition
        "joined_after=yesterday",  # a filter the list refuses
    ],
)
def test_a_matching_set_the_list_would_not_understand_is_an_error(client, alice, members, vip, query):
    client.force_login(alice)
    response = _bulk(client, tag=vip.pk, target="all", query=query)
    assert response.status_code == 400
    assert "members?" not in response.content.decode()


def test_bulk_remove_a_tag_from_selected_rows(client, alice, members, dark):
    (a0, a1, _a2), _b = members
    client.force_login(alice)
    review = client.post(
        reverse("member-bulk"), {"action": "remove_tag", "tag": dark.pk, "target": "selected", "member": [a0.pk, a1.pk]}
    )
    assert "from 2 members?" in review.content.decode()
    client.post(
        reverse("member-bulk"),
        {
            "action": "remove_tag",
            "tag": dark.pk,
            "target": "selected",
            "member": [a0.pk, a1.pk],
            **_confirm_fields(review.content.decode()),
        },
    )
    assert MemberTag.objects.filter(tag=dark).count() == 1


# --- the tag vocabulary --------------------------------------------------------------------------


def test_operator_manages_groups_and_tags(client, alice, members, dark, vip):
    client.force_login(alice)
    page = client.get(reverse("tag-list")).content.decode()
    assert f'data-testid="tag-count-{dark.pk}">3<' in page
    client.post(reverse("tag-group-create"), {"name": "方言", "description": "", "multiple": "", "sort_order": 1})
    dialect = TagGroup.objects.get(name="方言")
    assert dialect.multiple is False  # an exclusive group
    client.post(reverse("tag-create"), {"name": "粤语", "group": dialect.pk})
    cantonese = Tag.objects.get(name="粤语")
    client.post(reverse("tag-edit", args=[cantonese.pk]), {"save": "1", "name": "广东话", "group": dialect.pk})
    cantonese.refresh_from_db()
    assert cantonese.name == "广东话"
    client.post(
        reverse("tag-group-edit", args=[dialect.pk]),
        {"name": "方言", "description": "说什么话", "multiple": "on", "sort_order": 2},
    )
    dialect.refresh_from_db()
    assert dialect.description == "说什么话" and dialect.multiple
    duplicate = client.post(reverse("tag-create"), {"name": "广东话", "group": dialect.pk})
    assert duplicate.status_code == 400 and "already has a tag with this name" in duplicate.content.decode()


def test_merge_two_tags(client, alice, members, dark, vip):
    (a0, _a1, a2), _b = members
    MemberTag.objects.create(member=a0, tag=vip)
    MemberTag.objects.create(member=a2, tag=vip)
    client.force_login(alice)
    client.post(reverse("tag-edit", args=[vip.pk]), {"merge": "1", "target": dark.pk})
    assert not Tag.objects.filter(pk=vip.pk).exists()
    assert MemberTag.objects.filter(tag=dark).count() == 4  # a0 had both; a2 gained it


def test_delete_names_the_members_affected_and_needs_that_count(client, alice, members, dark):
    client.force_login(alice)
    page = client.get(reverse("tag-edit", args=[dark.pk])).content.decode()
    assert "3 members carry this tag" in page
    stale = client.post(reverse("tag-edit", args=[dark.pk]), {"delete": "1", "confirmed": "2"})
    assert stale.status_code == 400 and Tag.objects.filter(pk=dark.pk).exists()
    client.post(reverse("tag-edit", args=[dark.pk]), {"delete": "1", "confirmed": "3"})
    assert not Tag.objects.filter(pk=dark.pk).exists()


def test_store_accounts_read_the_vocabulary_but_cannot_change_it(client, bob, members, dark):
    client.force_login(bob)
    page = client.get(reverse("tag-list")).content.decode()
    assert "黑巧" in page and f'data-testid="edit-tag-{dark.pk}"' not in page
    response = client.post(reverse("tag-create"), {"name": "新", "group": dark.group_id})
    assert response.status_code == 403 and not Tag.objects.filter(name="新").exists()
    response = client.post(reverse("tag-edit", args=[dark.pk]), {"delete": "1", "confirmed": "3"})
    assert response.status_code == 403 and Tag.objects.filter(pk=dark.pk).exists()


# --- profile edit --------------------------------------------------------------------------------


@pytest.fixture
def attributes(db):
    return (
        AttributeDefinition.objects.create(code="milk_brand", label="奶粉", type="choice", choices=["A2", "B"]),
        AttributeDefinition.objects.create(code="kids", label="孩子数", type="number"),
        AttributeDefinition.objects.create(code="allergy", label="过敏", type="text", sensitive=True),
    )


def _profile_post(client, member, **changes):
    page = client.get(reverse("member-edit", args=[member.pk]))
    form = page.context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items() if v is not False}
    data.update(changes)
    return client.post(reverse("member-edit", args=[member.pk]), data)


def test_edit_a_profile_through_the_services(client, bob, members, attributes):
    (a0, *_rest), _b = members
    client.force_login(bob)
    response = _profile_post(
        client, a0, name="张三丰", birthday="1990-03-08", attr_milk_brand="A2", attr_kids="2", consent_marketing="on"
    )
    assert response.status_code == 302
    a0.refresh_from_db()
    assert a0.name == "张三丰" and str(a0.birthday) == "1990-03-08"
    assert a0.attributes == {"milk_brand": "A2", "kids": 2}
    assert Consent.objects.get(member=a0, purpose="marketing").granted
    trace = MemberEvent.objects.filter(member=a0, kind=MemberEvent.Kind.UPDATED).get()
    assert trace.actor == bob and trace.data["changes"]["name"] == ["张0", "张三丰"]


def test_field_errors_sit_beside_their_fields(client, alice, members, attributes):
    (a0, *_rest), _b = members
    client.force_login(alice)
    response = _profile_post(client, a0, birthday="2999-01-01", attr_allergy="peanuts")
    assert response.status_code == 400
    form = response.context["form"]
    assert "between 1900 and today" in " ".join(form.errors["birthday"])
    a0.refresh_from_db()
    assert a0.birthday is None and "allergy" not in a0.attributes
    # a sensitive value needs the member's consent: granted in the same save, it is kept
    response = _profile_post(client, a0, attr_allergy="peanuts")
    assert "consent" in " ".join(response.context["form"].errors["attr_allergy"])
    response = _profile_post(client, a0, attr_allergy="peanuts", consent_sensitive_data="on")
    a0.refresh_from_db()
    assert response.status_code == 302 and a0.attributes["allergy"] == "peanuts"


def test_clerks_do_not_see_or_touch_sensitive_attributes(client, carol, members, attributes):
    (a0, *_rest), _b = members
    Member.objects.filter(pk=a0.pk).update(attributes={"allergy": "peanuts"})
    client.force_login(carol)
    page = client.get(reverse("member-edit", args=[a0.pk]))
    assert "attr_allergy" not in page.context["form"].fields and "peanuts" not in page.content.decode()
    _profile_post(client, a0, attr_milk_brand="B")
    a0.refresh_from_db()
    assert a0.attributes == {"allergy": "peanuts", "milk_brand": "B"}


def test_a_change_made_meanwhile_is_not_overwritten(client, alice, members):
    (a0, *_rest), _b = members
    client.force_login(alice)
    page = client.get(reverse("member-edit", args=[a0.pk]))
    data = {
        "name": "我改的",
        "gender": "u",
        "birthday": "",
        "home_store": "SH01",
        "version": page.context["form"]["version"].value(),
    }
    Member.objects.get(pk=a0.pk).save()  # someone else saves the member
    response = client.post(reverse("member-edit", args=[a0.pk]), data)
    assert response.status_code == 409 and "Someone changed this member" in response.content.decode()
    a0.refresh_from_db()
    assert a0.name == "张0"


def test_another_stores_member_cannot_be_edited(client, carol, members):
    _a, (b0, _b1) = members
    client.force_login(carol)
    assert client.get(reverse("member-edit", args=[b0.pk])).status_code == 404
