"""Dashboard and staff phone views, as each role sees them."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse


def _figures(response) -> dict:
    """What a home page shows: its own figures and those of every section the apps registered."""
    figures = dict(response.context.get("figures") or {})
    for section in [*(response.context.get("cards") or []), *response.context["sections"]]:
        figures.update(section["context"])
    return figures


def test_login_page_and_redirects_by_role(client, alice, carol):
    assert client.get("/").status_code == 302
    response = client.post(reverse("login"), {"username": "carol", "password": "pw-carol"})
    assert response.status_code == 302
    assert client.get("/").url == reverse("mobile-home")
    client.logout()
    client.post(reverse("login"), {"username": "alice", "password": "pw-alice"})
    assert client.get("/").status_code == 200


def test_wrong_password_is_refused(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert not response.wsgi_request.user.is_authenticated


def test_operator_home_counts_every_store(client, alice, members):
    client.force_login(alice)
    figures = _figures(client.get("/"))
    assert figures["members_total"] == 5
    assert figures["stores_active"] == 2
    assert {s["code"]: s["member_count"] for s in figures["top_stores"]} == {"SH01": 3, "BJ01": 2}


def test_manager_home_counts_only_their_store(client, bob, members):
    client.force_login(bob)
    figures = _figures(client.get("/"))
    assert figures["members_total"] == 3
    assert figures["stores_active"] == 1
    assert [s["code"] for s in figures["top_stores"]] == ["SH01"]


def test_staff_phone_home_shows_own_members(client, carol, members):
    client.force_login(carol)
    response = client.get(reverse("mobile-home"))
    assert _figures(response)["my_members"] == 3
    assert _figures(response)["store_members"] == 3
    assert "张0" in response.content.decode()


def test_home_pages_show_the_sections_apps_register_in_their_order(client, alice, carol, members):
    """scrm's pages know no app built on it: members' figures and insights' sales come from the
    overview registry, members' cards first in the row the organisation's own close."""
    client.force_login(alice)
    response = client.get("/")
    assert [s["key"] for s in response.context["cards"]] == ["members"]
    keys = [s["key"] for s in response.context["sections"]]
    assert keys.index("sales") < keys.index("members")
    html = response.content.decode()
    order = ["fig-members", "fig-stores", "overview-sales", "top-stores"]
    assert sorted(order, key=lambda testid: html.index(f'data-testid="{testid}"')) == order

    client.force_login(carol)
    response = client.get(reverse("mobile-home"))
    keys = [s["key"] for s in response.context["sections"]]
    assert keys.index("my_members") < keys.index("my_sales") < keys.index("newest_members")
    html = response.content.decode()
    assert html.index('data-testid="fig-my-members"') < html.index('data-testid="my-sales"') < html.index("张0")


def test_member_list_is_scoped_to_the_store(client, carol, members):
    client.force_login(carol)
    body = client.get(reverse("member-list")).content.decode()
    assert "张1" in body
    assert "李1" not in body
    # Asking for the other store by filter still shows nothing of it.
    _a, (b0, _b1) = members
    body = client.get(reverse("member-list"), {"store": b0.home_store_id}).content.decode()
    assert "李" not in body


def test_mobile_members_mine_and_whole_store(client, carol, members, store_a):
    from members.models import Member

    Member.objects.create(name="王店员外", phone="+8613700000001", home_store=store_a, owner=None)
    client.force_login(carol)
    mine = client.get(reverse("mobile-member-list")).content.decode()
    assert "张2" in mine and "王店员外" not in mine
    whole = client.get(reverse("mobile-member-list"), {"all": "1"}).content.decode()
    assert "王店员外" in whole
    # A phone search goes in the request body; the list it lands on carries no phone in its URL.
    response = client.post(reverse("mobile-member-list"), {"q": "138 0013 0001"}, follow=True)
    assert "0013" not in response.redirect_chain[-1][0]
    found = response.content.decode()
    assert "张1" in found and "张2" not in found


def test_htmx_request_gets_only_the_rows(client, alice, members):
    client.force_login(alice)
    response = client.get(reverse("member-list"), {"q": "张"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'data-testid="member-table"' in body
    assert "<html" not in body


def test_store_staff_cannot_open_store_and_staff_admin_lists(client, carol):
    client.force_login(carol)
    assert client.get(reverse("store-list")).status_code == 403
    assert client.get(reverse("staff-list")).status_code == 403


def test_member_list_query_count_does_not_grow(client, alice, store_a, carol, django_assert_max_num_queries):
    from members.models import Member

    Member.objects.bulk_create(
        [Member(name=f"会员{i}", phone=f"+86137{i:08d}", home_store=store_a, owner=carol) for i in range(60)]
    )
    client.force_login(alice)
    # One query per audience-builder filter with options (tags, attributes, tier levels, channel codes),
    # whatever the number of rows.
    with django_assert_max_num_queries(9):
        response = client.get(reverse("member-list"))
    assert len(response.context["object_list"]) == 50


@pytest.mark.parametrize("path", ["/", "/members/", "/stores/", "/staff/", "/m/", "/m/members/"])
def test_pages_render_in_both_languages(client, alice, members, path):
    client.force_login(alice)
    zh = client.get(path, HTTP_ACCEPT_LANGUAGE="zh-hans")
    en = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
    assert zh.status_code == en.status_code == 200
    assert '<html lang="zh-hans">' in zh.content.decode()
    assert '<html lang="en">' in en.content.decode()


def test_language_switch_sets_cookie(client, alice):
    client.force_login(alice)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert client.get("/").content.decode().count('<html lang="en">') == 1


def test_healthz_names_the_unreachable_broker(client, db):
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert len(body["problems"]) == 1 and body["problems"][0].startswith("broker:")


def test_healthz_names_the_unreachable_database(client, db, monkeypatch):
    import psycopg2

    from scrm.services import health

    class Unreachable:
        def cursor(self):
            raise psycopg2.OperationalError("connection refused")

    monkeypatch.setattr(health, "connection", Unreachable())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["problems"][0].startswith("database:")
