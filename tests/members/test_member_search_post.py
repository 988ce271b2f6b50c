"""The dashboard's member search goes by POST: the session keeps the text, URLs carry only its id;
pagination, sorting, bulk actions and exports keep the search; an unknown id lists no one; a phone
in ?q= is moved out of the URL."""

from __future__ import annotations

import pytest
from django.http import QueryDict
from django.test import Client

from members.models import Member
from members.views import matching_members
from scrm.models import AuditLog

PHONE = "13800130001"


@pytest.fixture
def bob_client(bob, members):
    client = Client()
    client.force_login(bob)
    return client


def test_search_posts_and_the_url_names_only_an_id(bob_client, members):
    posted = bob_client.post("/members/", {"q": PHONE, "owner": ""})
    assert posted.status_code == 302
    url = posted["Location"]
    assert PHONE not in url and "0130001" not in url and "search=" in url
    page = bob_client.get(url).content.decode()
    assert members[0][1].name in page and members[0][0].name not in page
    assert f'value="{PHONE}"' in page  # the box still shows what was searched


def test_htmx_search_answers_rows_and_the_url_to_push(bob_client, members):
    response = bob_client.post("/members/", {"q": PHONE}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert PHONE not in response["HX-Push-Url"] and "search=" in response["HX-Push-Url"]
    assert members[0][1].name in response.content.decode()
    mobile = bob_client.post("/m/members/", {"q": PHONE, "all": "1"}, HTTP_HX_REQUEST="true")
    assert mobile["HX-Push-Url"].startswith("/m/members/?") and PHONE not in mobile["HX-Push-Url"]
    assert "all=1" in mobile["HX-Push-Url"] and members[0][1].name in mobile.content.decode()


def test_a_phone_in_the_query_string_is_moved_out(bob_client, members):
    response = bob_client.get("/members/", {"q": PHONE, "sort": "name"})
    assert response.status_code == 302 and PHONE not in response["Location"]
    assert "sort=name" in response["Location"]
    assert members[0][1].name in bob_client.get(response["Location"]).content.decode()
    named = bob_client.get("/members/", {"q": members[0][2].name})
    assert named.status_code == 200  # names still work in the URL


def test_an_unknown_search_id_lists_no_one(bob_client, members):
    response = bob_client.get("/members/?search=nope")
    assert response.status_code == 400
    assert members[0][0].name not in response.content.decode()


def test_pages_keep_the_search(bob, store_a, members):
    for i in range(60):
        Member.objects.create(name=f"王{i}", phone=f"+86139{i:08d}", home_store=store_a)
    client = Client()
    client.force_login(bob)
    url = client.post("/members/", {"q": "王"})["Location"]
    second = client.get(f"{url}&page=2").content.decode()
    assert second.count('href="/members/') >= 10 and "张" not in second  # still the search's members


def test_export_and_bulk_keep_the_search_and_never_widen(bob_client, members):
    url = bob_client.post("/members/", {"q": PHONE})["Location"]
    token = url.split("search=")[1].split("&")[0]
    form = bob_client.get(f"/members/export/?search={token}")
    assert form.status_code == 200, form.content
    assert form.context["count"] == 1
    exported = bob_client.post(f"/members/export/?search={token}", {"search": token, "format": "csv",
                                                                    "columns": ["id", "name"]})
    assert exported.status_code == 200, exported.content
    body = b"".join(exported.streaming_content).decode("utf-8-sig")
    assert members[0][1].name in body and members[0][0].name not in body
    entry = AuditLog.objects.get(action="members.export")
    assert PHONE not in str(entry.detail)

    request = bob_client.get(url).wsgi_request
    assert list(matching_members(request, QueryDict(f"search={token}")).values_list("pk", flat=True)) == [
        members[0][1].pk]
