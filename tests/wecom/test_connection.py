"""The connection page and API: operators only, settings shown as set or missing (never their
values), health with the errcode in words, the callback URL, and the test-connection button against
the local WeCom server."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from wecom.models import ConnectionState
from wecom.services import connection

pytestmark = pytest.mark.django_db


def _as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_operator_sees_the_page_with_settings_present_but_never_their_values(corp, alice, settings):
    response = _as(alice).get(reverse("wecom-home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Local WeCom server" in body
    assert settings.WECOM_CORP_ID in body
    for secret in (settings.WECOM_SECRET, settings.WECOM_TOKEN, settings.WECOM_AES_KEY):
        assert secret not in body
    assert "http://testserver/wecom/callback/" in body
    present = response.context["state"]["settings"]
    assert present == {
        "WECOM_CORP_ID": True,
        "WECOM_SECRET": True,
        "WECOM_TOKEN": True,
        "WECOM_AES_KEY": True,
        "WECOM_AGENT_ID": bool(settings.WECOM_AGENT_ID),
    }


def test_nothing_configured_shows_missing(no_wecom, alice):
    response = _as(alice).get(reverse("wecom-home"))
    assert response.status_code == 200
    assert response.context["state"]["mode"] == ""
    assert "Not configured" in response.content.decode()
    assert not any(response.context["state"]["settings"][name] for name in connection.CREDENTIAL_NAMES)


@pytest.mark.parametrize("who", ["bob", "carol", "dave"])
def test_store_roles_are_refused(request, who, no_wecom):
    user = request.getfixturevalue(who)
    assert _as(user).get(reverse("wecom-home")).status_code == 403
    assert _as(user).post(reverse("wecom-home")).status_code == 403


def test_anonymous_is_sent_to_login(no_wecom):
    response = Client().get(reverse("wecom-home"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_sidebar_links_operators_to_the_page(alice, bob, no_wecom):
    assert 'href="/wecom/"' in _as(alice).get("/").content.decode()
    assert 'href="/wecom/"' not in _as(bob).get("/").content.decode()


def test_test_connection_fetches_a_fresh_token_and_lists_the_staff(corp, alice):
    response = _as(alice).post(reverse("wecom-home"))
    assert response.status_code == 200
    result = response.context["test_result"]
    assert result["ok"] is True, result
    assert result["staff"] == len(corp.corp.staff) > 0
    assert "Connected" in response.content.decode()
    state = ConnectionState.objects.get()
    assert state.token_fetched_at is not None and state.last_ok_at is not None
    assert state.mode == "local"
    # The page now shows the health the test left.
    health = _as(alice).get(reverse("wecom-home")).context["state"]
    assert health["token_fetched_at"] == state.token_fetched_at


def test_test_connection_with_a_wrong_secret_says_so(corp, alice, settings):
    settings.WECOM_SECRET = "not-the-secret"
    response = _as(alice).post(reverse("wecom-home"))
    result = response.context["test_result"]
    assert result["ok"] is False
    assert result["errcode"] == 40001
    assert "The secret is wrong" in response.content.decode()
    state = ConnectionState.objects.get()
    assert state.last_errcode == 40001 and state.last_error_path == "gettoken"
    page = _as(alice).get(reverse("wecom-home")).content.decode()
    assert "errcode 40001" in page and "The secret is wrong" in page


def test_test_connection_when_nothing_is_configured(no_wecom, alice):
    result = _as(alice).post(reverse("wecom-home")).context["test_result"]
    assert result["ok"] is False and "not configured" in result["message"]


def test_test_connection_when_the_server_is_down(make_corp, alice):
    server = make_corp()
    server.stop()
    result = _as(alice).post(reverse("wecom-home")).context["test_result"]
    assert result["ok"] is False and result["errcode"] is None and result["message"]


# --- API ------------------------------------------------------------------------------------


def test_api_shows_the_same_health(corp, alice, api_client):
    connection.test_connection(actor=alice)
    api_client.force_authenticate(alice)
    response = api_client.get("/api/v1/wecom/connection/")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["mode"] == "local"
    assert data["settings"]["WECOM_SECRET"] is True
    assert data["callback_url"] == "http://testserver/wecom/callback/"
    assert data["token_fetched_at"] and data["last_ok_at"]
    assert data["last_errcode"] is None and data["last_error_meaning"] == ""
    assert set(data) >= {"rate_limited_until", "last_callback_at", "last_error_path", "corp_id"}


def test_api_needs_the_wecom_scope(corp, key_client, bob, api_client, store_a):
    assert key_client(scopes=["wecom:read"]).get("/api/v1/wecom/connection/").status_code == 200
    assert key_client(scopes=["members:read"]).get("/api/v1/wecom/connection/").status_code == 403
    api_client.force_authenticate(bob)
    assert api_client.get("/api/v1/wecom/connection/").status_code in (403, 404)


def test_api_test_connection(corp, key_client):
    response = key_client(scopes=["wecom:read", "wecom:write"]).post("/api/v1/wecom/connection/test/")
    assert response.status_code == 200, response.content
    assert response.json()["ok"] is True


def test_a_store_bound_key_is_refused_even_with_the_scope(no_wecom, key_client, store_a):
    client = key_client(scopes=["wecom:read", "wecom:write"], store=store_a)
    assert client.get("/api/v1/wecom/connection/").status_code == 403
    assert client.post("/api/v1/wecom/connection/test/").status_code == 403
