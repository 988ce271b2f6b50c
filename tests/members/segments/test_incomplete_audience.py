"""An audience the builder cannot fully understand never widens to everyone: the member list shows
the builder open with the errors on their rows, no members and a message; the export from the list
carries the builder's definition and exports no more than the list shows."""

from __future__ import annotations

import pytest
from django.urls import reverse

from members.models import MemberTag, Tag, TagGroup

pytestmark = pytest.mark.django_db


@pytest.fixture
def dark(members):
    (a0, a1, _a2), (b0, _b1) = members
    tag = Tag.objects.create(group=TagGroup.objects.create(name="口味偏好"), name="黑巧")
    for m in (a0, a1, b0):
        MemberTag.objects.create(member=m, tag=tag)
    return tag


def incomplete(dark):
    """标签 = 黑巧, then 会员等级 added with no value."""
    return {"r.match": "all", "r.0.filter": "tags", "r.0.op": "any", "r.0.value": [dark.pk],
            "r.1.filter": "tier", "r.1.op": "in", "r.1.value": ""}


def test_an_incomplete_audience_lists_no_one_and_says_so(client, alice, dark):
    client.force_login(alice)
    response = client.get(reverse("member-list"), incomplete(dark))
    assert response.status_code == 200
    assert list(response.context["object_list"]) == []
    assert response.context["paginator"].count == 0
    assert response.context["audience_incomplete"] is True
    assert response.context["audience_count"] is None
    assert response.context["tree"].children[1].errors  # the error sits on the row at fault
    html = response.content.decode()
    assert 'data-testid="audience-incomplete"' in html
    assert '<details class="panel builder" open' in html  # the builder stays open, errors visible
    assert "张2" not in html and "李1" not in html


def test_an_incomplete_audience_narrows_the_htmx_rows_too(client, alice, dark):
    client.force_login(alice)
    response = client.get(reverse("member-list"), {**incomplete(dark), "q": "张"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert list(response.context["object_list"]) == []


def test_a_complete_audience_still_narrows_and_no_audience_lists_everyone(client, alice, dark):
    client.force_login(alice)
    response = client.get(reverse("member-list"), {"r.match": "all", "r.0.filter": "tags", "r.0.op": "any",
                                                   "r.0.value": [dark.pk]})
    assert {m.name for m in response.context["object_list"]} == {"张0", "张1", "李0"}
    assert not response.context["audience_incomplete"]
    everyone = client.get(reverse("member-list"))
    assert everyone.context["paginator"].count == 5 and not everyone.context["audience_incomplete"]
    assert 'data-testid="audience-incomplete"' not in everyone.content.decode()
