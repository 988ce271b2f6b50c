"""The Django admin pages of the member centre render, keep member data read-only, and edit a
member's profile through the member services (their rules, their timeline)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from members.models import AttributeDefinition, Identity, Member, MemberEvent, StaffRelation, Tag, TagGroup


@pytest.fixture
def admin_client(client, alice):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    return client


def test_admin_pages_render(admin_client, members):
    member = members[0][0]
    Identity.objects.create(member=member, channel="wecom", external_id="wm1")
    Tag.objects.create(group=TagGroup.objects.create(name="口味"), name="黑巧")
    AttributeDefinition.objects.create(code="dialect", label="方言", type="text")
    MemberEvent.objects.create(member=member, kind="created")
    for url in ("/admin/members/member/", f"/admin/members/member/{member.pk}/change/", "/admin/members/tag/",
                "/admin/members/taggroup/", "/admin/members/attributedefinition/", "/admin/members/memberevent/",
                "/admin/members/membermerge/", "/admin/members/consentrecord/"):
        assert admin_client.get(url).status_code == 200, url
    assert "wm1" in admin_client.get(f"/admin/members/member/{member.pk}/change/").content.decode()


def test_members_cannot_be_deleted_in_the_admin(admin_client, members):
    member = members[0][0]
    assert admin_client.get(f"/admin/members/member/{member.pk}/delete/").status_code == 403


# --- profile edits go through the member services ---------------------------------------------


class _Fields(HTMLParser):
    """The values a browser would submit from the admin's change form."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") not in ("checkbox", "radio") or "checked" in attrs:
                self.data[name] = attrs.get("value") or ""
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.data[self._select] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data.strip("\n")


def form_data(client, url) -> dict:
    parser = _Fields()
    parser.feed(client.get(url).content.decode())
    parser.data.pop("csrfmiddlewaretoken", None)
    return parser.data


def test_editing_store_owner_and_stage_goes_through_update_member(admin_client, alice, members, store_b, dave):
    member = members[0][0]  # store A, carol's
    StaffRelation.objects.create(member=member, staff=member.owner, store=member.home_store, is_owner=True)
    url = f"/admin/members/member/{member.pk}/change/"
    data = form_data(admin_client, url)
    data.update(home_store=str(store_b.pk), owner=str(dave.pk), stage="advocate")
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    member.refresh_from_db()
    assert (member.home_store, member.owner, member.stage) == (store_b, dave, "advocate")
    event = MemberEvent.objects.get(member=member, kind=MemberEvent.Kind.UPDATED)
    assert event.actor == alice
    assert event.data["changes"] == {"home_store": ["SH01", "BJ01"], "owner": ["carol", "dave"],
                                     "stage": ["aware", "advocate"]}
    # Member.owner and the owner relation move together, as the services keep them.
    assert set(StaffRelation.objects.filter(member=member).values_list("staff__username", "is_owner")) == {
        ("carol", False), ("dave", True)}


def test_moving_a_member_in_the_admin_drops_the_old_stores_guide(admin_client, members, store_b):
    member = members[0][0]
    url = f"/admin/members/member/{member.pk}/change/"
    data = form_data(admin_client, url)
    data.update(home_store=str(store_b.pk))
    assert admin_client.post(url, data).status_code == 302
    member.refresh_from_db()
    assert (member.home_store, member.owner) == (store_b, None)


def test_the_admin_shows_the_services_errors_and_changes_nothing(admin_client, members, dave):
    member = members[0][0]  # store A
    url = f"/admin/members/member/{member.pk}/change/"
    data = form_data(admin_client, url)
    data.update(owner=str(dave.pk), stage="act")  # dave works in store B
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "works in another store than the member" in response.content.decode()
    member.refresh_from_db()
    assert (member.owner.username, member.stage) == ("carol", "aware")
    assert not MemberEvent.objects.filter(member=member).exists()


def test_a_member_added_in_the_admin_is_created_by_the_service(admin_client, alice, store_a, carol):
    data = form_data(admin_client, "/admin/members/member/add/")
    data.update(name="新会员", home_store=str(store_a.pk), owner=str(carol.pk), stage="ask", gender="f",
                source="store_qr", attributes="{}")
    response = admin_client.post("/admin/members/member/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    member = Member.objects.get(name="新会员")
    assert (member.home_store, member.owner, member.stage, member.source) == (store_a, carol, "ask", "store_qr")
    assert MemberEvent.objects.get(member=member).kind == MemberEvent.Kind.CREATED
    assert StaffRelation.objects.get(member=member).is_owner
