"""The Django admin pages of the member centre render, and keep member data read-only."""

from __future__ import annotations

import pytest

from members.models import AttributeDefinition, Identity, MemberEvent, Tag, TagGroup


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
