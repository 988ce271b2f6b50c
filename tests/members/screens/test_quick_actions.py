"""A clerk tags a member and writes a note from the member page, in one tap each."""

from __future__ import annotations

from django.urls import reverse

from members.models import MemberTag, ServiceNote, Tag, TagGroup


def _tags():
    taste = TagGroup.objects.create(name="口味偏好", multiple=True)
    price = TagGroup.objects.create(name="价格敏感度", multiple=False)
    return {
        "dark": Tag.objects.create(group=taste, name="黑巧"),
        "milk": Tag.objects.create(group=taste, name="牛奶巧"),
        "high": Tag.objects.create(group=price, name="高"),
        "low": Tag.objects.create(group=price, name="低"),
        "rule": Tag.objects.create(group=taste, name="高消费", rule={"all": []}),
    }


def test_tap_adds_then_removes_a_tag(client, carol, members):
    tags, member = _tags(), members[0][0]
    client.force_login(carol)
    url = reverse("member-toggle-tag", args=[member.pk])
    response = client.post(url, {"tag": tags["dark"].pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'class="chip on"' in response.content.decode()
    added = MemberTag.objects.get(member=member, tag=tags["dark"])
    assert added.added_by == carol
    client.post(url, {"tag": tags["dark"].pk}, HTTP_HX_REQUEST="true")
    assert not MemberTag.objects.filter(member=member, tag=tags["dark"]).exists()


def test_single_choice_group_keeps_one_tag(client, carol, members):
    tags, member = _tags(), members[0][0]
    client.force_login(carol)
    url = reverse("member-toggle-tag", args=[member.pk])
    client.post(url, {"tag": tags["high"].pk}, HTTP_HX_REQUEST="true")
    client.post(url, {"tag": tags["low"].pk}, HTTP_HX_REQUEST="true")
    assert set(MemberTag.objects.filter(member=member).values_list("tag__name", flat=True)) == {"低"}


def test_rule_tag_cannot_be_tapped(client, carol, members):
    tags, member = _tags(), members[0][0]
    client.force_login(carol)
    response = client.post(
        reverse("member-toggle-tag", args=[member.pk]), {"tag": tags["rule"].pk}, HTTP_HX_REQUEST="true"
    )
    assert 'role="alert"' in response.content.decode()
    assert not MemberTag.objects.filter(member=member).exists()


def test_other_store_member_cannot_be_tagged_or_noted(client, carol, members):
    tags, other = _tags(), members[1][0]
    client.force_login(carol)
    assert client.post(reverse("member-toggle-tag", args=[other.pk]), {"tag": tags["dark"].pk}).status_code == 404
    assert client.post(reverse("member-add-note", args=[other.pk]), {"body": "x"}).status_code == 404
    assert not MemberTag.objects.exists() and not ServiceNote.objects.exists()


def test_note_is_added_and_shown(client, carol, members):
    member = members[0][0]
    client.force_login(carol)
    response = client.post(
        reverse("member-add-note", args=[member.pk]),
        {"body": "对坚果过敏", "kind": "visit", "from": "mobile"},
        HTTP_HX_REQUEST="true",
    )
    assert "对坚果过敏" in response.content.decode()
    note = ServiceNote.objects.get(member=member)
    assert note.author == carol and note.kind == "visit" and note.store_id == carol.store_id


def test_empty_note_is_refused_with_a_message(client, carol, members):
    member = members[0][0]
    client.force_login(carol)
    response = client.post(reverse("member-add-note", args=[member.pk]), {"body": "  "}, HTTP_HX_REQUEST="true")
    assert 'role="alert"' in response.content.decode()
    assert not ServiceNote.objects.exists()


def test_without_javascript_the_forms_redirect_back(client, carol, members):
    tags, member = _tags(), members[0][0]
    client.force_login(carol)
    response = client.post(reverse("member-toggle-tag", args=[member.pk]), {"tag": tags["milk"].pk, "from": "mobile"})
    assert response.status_code == 302
    assert response.url == reverse("mobile-member-detail", args=[member.pk])
