"""The member 360 page on the dashboard and on the phone, as each role sees it."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members.models import (
    AttributeDefinition,
    Consent,
    Identity,
    MemberTag,
    ServiceNote,
    StaffRelation,
    Tag,
    TagGroup,
)


def _rich_member(member, staff):
    group = TagGroup.objects.create(name="奶粉品牌", multiple=False)
    tag = Tag.objects.create(group=group, name="A2")
    MemberTag.objects.create(member=member, tag=tag, added_by=staff)
    Identity.objects.create(member=member, channel="wecom", external_id="wmABC123")
    AttributeDefinition.objects.create(code="dialect", label="方言", type="choice", choices=["粤语", "普通话"])
    AttributeDefinition.objects.create(code="allergy", label="过敏", type="text", sensitive=True)
    member.attributes = {"dialect": "粤语", "allergy": "坚果"}
    member.save()
    Consent.objects.create(member=member, purpose="marketing", channel="wecom", granted=True)
    StaffRelation.objects.create(member=member, staff=staff, store=member.home_store, is_owner=True, state="SH01-QR")
    ServiceNote.objects.create(member=member, author=staff, store=member.home_store, body="喜欢黑巧，周末来店")


def test_operator_sees_the_whole_profile(client, alice, members, carol):
    member = members[0][0]
    _rich_member(member, carol)
    client.force_login(alice)
    response = client.get(reverse("member-detail", args=[member.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<dd>坚果</dd>" in body
    for text in ("A2", "wmABC123", "粤语", "喜欢黑巧", "SH01-QR", "+86 138 0013 0000"):
        assert text in body, text


def test_store_staff_sees_own_store_member_without_sensitive_values(client, carol, members):
    member = members[0][0]
    _rich_member(member, carol)
    client.force_login(carol)
    body = client.get(reverse("mobile-member-detail", args=[member.pk])).content.decode()
    assert "粤语" in body
    assert "<dd>坚果</dd>" not in body


def test_other_store_member_is_not_found(client, carol, members):
    other = members[1][0]
    client.force_login(carol)
    assert client.get(reverse("member-detail", args=[other.pk])).status_code == 404
    assert client.get(reverse("mobile-member-detail", args=[other.pk])).status_code == 404


def test_merged_member_is_not_shown(client, alice, members):
    survivor, duplicate = members[0][0], members[0][1]
    duplicate.merged_into = survivor
    duplicate.save()
    client.force_login(alice)
    assert client.get(reverse("member-detail", args=[duplicate.pk])).status_code == 404
    assert duplicate.name not in client.get(reverse("member-list")).content.decode()


def test_profile_page_query_count_is_bounded(client, alice, members, carol, django_assert_max_num_queries):
    member = members[0][0]
    _rich_member(member, carol)
    for i in range(20):
        ServiceNote.objects.create(member=member, author=carol, body=f"note {i}")
    client.force_login(alice)
    # ~12 for the member's own sections, a fixed handful per panel (tier, points, orders, referrals, open tasks,
    # KOC, appointments: upcoming, past, counts) and one per timeline source (campaign clicks, the
    # communities' memberships, invitations, sign-ups, check-ins and ratings, the KOC programme's
    # joining, levels and posts, journey runs, tasks, visits and SMS replies among them); none grows
    # with the member's notes, tags or history.
    with CaptureQueriesContext(connection) as first:
        client.get(reverse("member-detail", args=[member.pk]))
    for i in range(20, 60):
        ServiceNote.objects.create(member=member, author=carol, body=f"note {i}")
    with django_assert_max_num_queries(70):
        client.get(reverse("member-detail", args=[member.pk]))
    with CaptureQueriesContext(connection) as second:
        client.get(reverse("member-detail", args=[member.pk]))
    assert len(second.captured_queries) == len(first.captured_queries)
