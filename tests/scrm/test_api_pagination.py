"""Every API list pages the same way (one cursor paginator, one envelope), and paging input is
refused rather than guessed: a bad page_size or cursor is a 400 naming what is wrong."""

from __future__ import annotations

import base64

import pytest

from members.models import AttributeDefinition, TagGroup
from scrm.models import Region

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_alice(api_client, alice):
    api_client.force_authenticate(alice)
    return api_client


def _pages(client, url):
    """Every row of a list, one row per page, following `next` links."""
    rows, pages = [], 0
    while url:
        body = client.get(url).json()
        assert set(body) == {"next", "previous", "results"}, body
        rows += body["results"]
        url, pages = body["next"], pages + 1
    return rows, pages


@pytest.mark.parametrize("value", ["0", "-1", "abc", "501", "1.5", " 5", ""])
@pytest.mark.parametrize("url", ["/api/v1/members/", "/api/v1/regions/", "/api/v1/tag-groups/"])
def test_a_bad_page_size_is_refused_naming_the_limit(as_alice, members, url, value):
    response = as_alice.get(url, {"page_size": value})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "1 to 500" in error["details"]["page_size"][0]


def test_the_largest_page_size_is_accepted(as_alice, members):
    body = as_alice.get("/api/v1/members/", {"page_size": "500"}).json()
    assert len(body["results"]) == 5


@pytest.mark.parametrize(
    "cursor",
    ["not-a-cursor", base64.b64encode(b"p=abc").decode(), base64.b64encode(b"o=-3").decode(), "%%%"],
)
def test_an_invalid_cursor_is_a_400_not_a_404(as_alice, members, cursor):
    response = as_alice.get("/api/v1/members/", {"cursor": cursor})
    assert response.status_code == 400, response.content
    assert "cursor" in response.json()["error"]["details"]


def test_reference_lists_page_like_every_other_list(as_alice, stores, alice):
    from members.services import attributes, tags

    for name in ("Skin", "Diet", "Sport"):
        tags.create_group(actor=alice, name=name)
    for code in ("milk_brand", "shoe_size"):
        attributes.create_definition(actor=alice, code=code, label=code, type="text")
    regions, pages = _pages(as_alice, "/api/v1/regions/?page_size=1")
    assert [r["code"] for r in regions] == list(Region.objects.order_by("code").values_list("code", flat=True))
    assert pages == 2
    groups, pages = _pages(as_alice, "/api/v1/tag-groups/?page_size=2")
    assert sorted(g["name"] for g in groups) == sorted(TagGroup.objects.values_list("name", flat=True))
    assert pages == 2
    definitions, _pages_count = _pages(as_alice, "/api/v1/attributes/?page_size=1")
    assert [d["code"] for d in definitions] == list(
        AttributeDefinition.objects.order_by("sort_order", "code").values_list("code", flat=True)
    )


def test_a_members_own_lists_page_too(as_alice, members, alice):
    from members.services import notes

    member = members[0][0]
    for n in range(3):
        notes.add_note(member=member, body=f"note {n}", kind="note", pinned=n == 0, actor=alice)
    rows, pages = _pages(as_alice, f"/api/v1/members/{member.pk}/notes/?page_size=2")
    assert pages == 2 and len(rows) == 3 and rows[0]["pinned"] is True
    for part in ("identities", "tags", "relations", "consents"):
        body = as_alice.get(f"/api/v1/members/{member.pk}/{part}/").json()
        assert set(body) == {"next", "previous", "results"}, part
