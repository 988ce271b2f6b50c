"""The audience builder on the member list: counts from the segment engine, scoped, savable."""

from __future__ import annotations

from django.urls import reverse

from members.models import MemberTag, Tag, TagGroup
from members.segments.models import Segment


def _tag(members):
    (a0, a1, a2), (b0, b1) = members
    dark = Tag.objects.create(group=TagGroup.objects.create(name="口味偏好"), name="黑巧")
    for m in (a0, a1, b0):
        MemberTag.objects.create(member=m, tag=dark)
    return dark


def test_operator_counts_and_lists_an_audience(client, alice, members):
    dark = _tag(members)
    client.force_login(alice)
    response = client.get(reverse("member-list"), {"tags_any": [dark.pk]})
    assert response.context["audience_count"] == 3
    names = {m.name for m in response.context["object_list"]}
    assert names == {"张0", "张1", "李0"}
    none = client.get(reverse("member-list"), {"tags_none": [dark.pk]})
    assert {m.name for m in none.context["object_list"]} == {"张2", "李1"}
    assert none.context["paginator"].count == 2


def test_clerk_audience_stays_in_their_store(client, carol, members):
    dark = _tag(members)
    client.force_login(carol)
    response = client.get(reverse("member-list"), {"tags_any": [dark.pk]})
    assert response.context["audience_count"] == 2
    assert {m.name for m in response.context["object_list"]} == {"张0", "张1"}


def test_search_within_an_audience(client, alice, members):
    dark = _tag(members)
    client.force_login(alice)
    response = client.get(reverse("member-list"), {"tags_any": [dark.pk], "q": "李"})
    assert {m.name for m in response.context["object_list"]} == {"李0"}
    assert response.context["paginator"].count == 1


def test_save_segment_and_reopen_it(client, bob, members):
    dark = _tag(members)
    client.force_login(bob)
    response = client.post(reverse("segment-save"), {"tags_any": [dark.pk], "name": "爱黑巧"})
    segment = Segment.objects.get(name="爱黑巧")
    assert response.url.endswith(f"?segment={segment.pk}")
    assert segment.store_id == bob.store_id  # a manager's segment belongs to their store
    page = client.get(reverse("member-list"), {"segment": segment.pk})
    assert page.context["audience_count"] == 2
    assert "爱黑巧" in client.get(reverse("segment-list")).content.decode()
    client.post(reverse("segment-action", args=[segment.pk, "snapshot"]))
    assert segment.snapshots.get().member_count == 2


def test_clerk_cannot_save_segments(client, carol, members):
    dark = _tag(members)
    client.force_login(carol)
    assert client.post(reverse("segment-save"), {"tags_any": [dark.pk], "name": "x"}).status_code == 403
    assert not Segment.objects.exists()


def test_bad_builder_input_is_reported_not_crashed(client, alice, members):
    client.force_login(alice)
    response = client.get(reverse("member-list"), {"tags_any": ["abc"], "joined_within_days": "-3"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
