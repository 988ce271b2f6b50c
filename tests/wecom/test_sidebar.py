"""The WeCom chat-sidebar card: the member behind a customer's external_userid, per role and store
(another store's member or an unknown customer is a friendly 404 page with none of their data), the
same card as the staff phone view with its tag and note actions, and the JS-SDK agentConfig
signature (WeCom's documented example, path/90506)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from members.models import MemberTag, ServiceNote, Tag, TagGroup
from wecom.models import WecomContact
from wecom.services import sidebar

pytestmark = pytest.mark.django_db


@pytest.fixture
def contacts(members):
    a, b = members
    return (
        WecomContact.objects.create(external_userid="wmA0001", member=a[0]),
        WecomContact.objects.create(external_userid="wmB0001", member=b[0]),
        WecomContact.objects.create(external_userid="wmNoMember"),
    )


@pytest.fixture
def tag(db):
    group = TagGroup.objects.create(name="口味")
    return Tag.objects.create(group=group, name="黑巧")


def card(client, user, external_userid):
    client.force_login(user)
    return client.get(reverse("wecom-sidebar"), {"external_userid": external_userid})


def test_official_signature_example():
    # The example of WeCom's "JS-SDK使用权限签名算法" page (developer.work.weixin.qq.com path/90506).
    assert sidebar.signature(
        ticket="sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
        noncestr="Wm3WZYTPz0wzccnW", timestamp=1414587457, url="http://mp.weixin.qq.com?params=value",
    ) == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    # The fragment is not signed.
    assert sidebar.signature(ticket="t", noncestr="n", timestamp=1, url="https://x.test/p?a=1#frag") == \
        sidebar.signature(ticket="t", noncestr="n", timestamp=1, url="https://x.test/p?a=1")


def test_clerk_sees_her_stores_member_with_tier_points_tags_and_notes(client, carol, contacts, members):
    response = card(client, carol, "wmA0001")
    assert response.status_code == 200
    html = response.content.decode()
    assert members[0][0].name in html
    assert 'data-testid="sidebar-card"' in html
    assert 'data-testid="quick-tags"' in html and 'id="notes-box"' in html
    assert "mobile.html" in [t.name for t in response.templates]
    assert "members/_member_card.html" in [t.name for t in response.templates]
    assert "no-store" in response["Cache-Control"]
    # The full phone is not on the clerk's card (masked per the disclosure rule).
    assert members[0][0].phone not in html


@pytest.mark.parametrize("external_userid", ["wmB0001", "wmNoMember", "wmNeverSynced"])
def test_another_stores_or_unknown_customer_is_a_friendly_404(client, carol, contacts, members, external_userid):
    response = card(client, carol, external_userid)
    assert response.status_code == 404
    html = response.content.decode()
    assert 'data-testid="sidebar-unknown"' in html
    for member in members[1]:
        assert member.name not in html


def test_clerk_of_store_b_sees_b_not_a(client, dave, contacts, members):
    assert card(client, dave, "wmB0001").status_code == 200
    response = card(client, dave, "wmA0001")
    assert response.status_code == 404
    assert members[0][0].name not in response.content.decode()


def test_operator_sees_every_store(client, alice, contacts):
    assert card(client, alice, "wmA0001").status_code == 200
    assert card(client, alice, "wmB0001").status_code == 200


def test_signed_out_is_sent_to_login(client, contacts):
    response = client.get(reverse("wecom-sidebar"), {"external_userid": "wmA0001"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_without_a_customer_the_page_asks_wecom_with_vendored_scripts(client, carol, settings):
    settings.WECOM_AGENT_ID = ""
    client.force_login(carol)
    response = client.get(reverse("wecom-sidebar"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="sidebar-identify"' in html and 'data-demo="true"' in html
    assert "vendor/wecom-jssdk-2.4.4.min.js" in html and "siyu/wecom_sidebar.js" in html
    assert "<script>" not in html  # no inline script (CSP)


def test_tag_and_note_from_the_card(client, carol, contacts, members, tag):
    member = members[0][0]
    html = card(client, carol, "wmA0001").content.decode()
    toggle = reverse("member-toggle-tag", args=[member.pk])
    note = reverse("member-add-note", args=[member.pk])
    assert f'hx-post="{toggle}"' in html and f'hx-post="{note}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    response = client.post(toggle, {"tag": tag.pk, "from": "mobile"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert MemberTag.objects.filter(member=member, tag=tag).exists()
    response = client.post(toggle, {"tag": tag.pk, "from": "mobile"}, HTTP_HX_REQUEST="true")
    assert not MemberTag.objects.filter(member=member, tag=tag).exists()
    response = client.post(note, {"body": "喜欢黑巧", "kind": "note", "from": "mobile"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert ServiceNote.objects.filter(member=member, body="喜欢黑巧", author=carol).exists()
    assert "喜欢黑巧" in card(client, carol, "wmA0001").content.decode()


def test_card_actions_keep_the_csrf_check(contacts, members, carol, tag):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(carol)
    response = strict.post(reverse("member-toggle-tag", args=[members[0][0].pk]), {"tag": tag.pk})
    assert response.status_code == 403
    assert not MemberTag.objects.filter(member=members[0][0], tag=tag).exists()


def test_config_in_demo_mode_asks_no_ticket(client, carol, settings):
    settings.WECOM_AGENT_ID = ""
    client.force_login(carol)
    response = client.get(reverse("wecom-sidebar-config"), {"url": "http://testserver/wecom/sidebar/"})
    assert response.status_code == 200
    assert response.json() == {"mode": "demo"}


def test_config_signs_the_page_with_the_apps_ticket(client, carol, settings):
    from django.core.cache import cache

    settings.WECOM_AGENT_ID = "1000002"
    settings.WECOM_CORP_ID = "ww-test-corp"
    cache.set(sidebar._ticket_key(), "TICKET-abc", 600)  # a ticket WeCom handed out earlier
    client.force_login(carol)
    page = "http://testserver/wecom/sidebar/?x=1"
    data = client.get(reverse("wecom-sidebar-config"), {"url": page + "#top"}).json()
    assert data["mode"] == "wecom" and data["corpid"] == "ww-test-corp" and data["agentid"] == "1000002"
    assert data["jsApiList"] == ["getCurExternalContact"]
    assert data["signature"] == sidebar.signature(ticket="TICKET-abc", noncestr=data["nonceStr"],
                                                  timestamp=data["timestamp"], url=page)
    # Another site's URL is not signed: the sidebar page's own is.
    other = client.get(reverse("wecom-sidebar-config"), {"url": "https://evil.example/x"}).json()
    assert other["signature"] == sidebar.signature(ticket="TICKET-abc", noncestr=other["nonceStr"],
                                                   timestamp=other["timestamp"],
                                                   url="http://testserver/wecom/sidebar/")


def test_blocks_registered_by_other_apps_show_on_the_card(client, carol, contacts, monkeypatch):
    from scrm.sections import SectionRegistry

    registry = SectionRegistry()
    registry.register("tasks", template="wecom/sidebar_unknown.html", context=lambda member, user: {})
    monkeypatch.setattr(sidebar, "_BLOCKS", registry)
    assert card(client, carol, "wmA0001").content.decode().count('data-testid="sidebar-unknown"') == 1
    monkeypatch.setattr(sidebar, "_BLOCKS", SectionRegistry())
    assert 'data-testid="sidebar-unknown"' not in card(client, carol, "wmA0001").content.decode()


def test_phone_card_is_the_same_card(client, carol, contacts, members):
    client.force_login(carol)
    response = client.get(reverse("mobile-member-detail", args=[members[0][0].pk]))
    assert response.status_code == 200
    assert "members/_member_card.html" in [t.name for t in response.templates]


def test_demo_link_names_a_synced_member(contacts):
    assert sidebar.demo_link() == "/wecom/sidebar/?external_userid=wmA0001"
    WecomContact.objects.all().delete()
    assert sidebar.demo_link() is None


def test_config_fetches_the_apps_ticket_from_wecom_once_and_signs_with_it(client, carol, corp, settings):
    from django.core.cache import cache

    settings.WECOM_AGENT_ID = "1000002"
    cache.delete(sidebar._ticket_key())
    client.force_login(carol)
    page = "http://testserver/wecom/sidebar/"
    first = client.get(reverse("wecom-sidebar-config"), {"url": page}).json()
    assert first["mode"] == "wecom"
    ticket = cache.get(sidebar._ticket_key())
    assert ticket and ticket == corp.corp.agent_ticket("agent_config")["ticket"]  # the server's own
    assert first["signature"] == sidebar.signature(ticket=ticket, noncestr=first["nonceStr"],
                                                   timestamp=first["timestamp"], url=page)
    corp.corp._agent_ticket = ("ROTATED", corp.corp.now() + 7200)  # WeCom hands out a new one
    second = client.get(reverse("wecom-sidebar-config"), {"url": page}).json()  # cached: not asked again
    assert second["signature"] == sidebar.signature(ticket=ticket, noncestr=second["nonceStr"],
                                                    timestamp=second["timestamp"], url=page)
    cache.delete(sidebar._ticket_key())
    third = client.get(reverse("wecom-sidebar-config"), {"url": page}).json()
    assert third["signature"] == sidebar.signature(ticket="ROTATED", noncestr=third["nonceStr"],
                                                   timestamp=third["timestamp"], url=page)
    settings.WECOM_API_BASE = "http://127.0.0.1:9"  # WeCom unreachable and nothing cached for it
    assert client.get(reverse("wecom-sidebar-config"), {"url": page}).json() == {"mode": "unavailable"}
