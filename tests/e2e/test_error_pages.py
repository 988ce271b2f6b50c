"""The product's own 404, 403 and 500 pages (DEBUG off, as served): branded, translated, with a way
home; the 404 and 403 in the dashboard's shell for a signed-in user, the 500 without touching the
database or the session."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import get_resolver
from django.utils import translation

pytestmark = pytest.mark.django_db


def test_404_is_branded_with_a_way_home(client, settings, alice):
    assert settings.DEBUG is False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    body = response.content.decode()
    assert 'data-testid="error-page"' in body and 'data-status="404"' in body
    assert 'href="/" data-testid="error-home"' in body
    assert 'class="brand-mark"' in body
    client.force_login(alice)
    body = client.get("/members/999999/").content.decode()
    assert 'data-status="404"' in body and 'data-testid="sidebar"' in body  # inside the dashboard's shell


def test_403_is_branded_and_in_the_shell(client, carol):
    client.force_login(carol)
    response = client.get("/api-keys/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "403.html" in [t.name for t in response.templates]
    assert 'data-status="403"' in body and 'data-testid="sidebar"' in body and 'data-testid="error-home"' in body


def test_403_page_speaks_the_users_language(client, carol):
    client.force_login(carol)
    client.cookies["django_language"] = "zh-hans"
    body = client.get("/api-keys/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'lang="zh-hans"' in body
    with translation.override("zh-hans"):
        assert translation.gettext("Not allowed") in body


def test_500_renders_without_the_database_or_a_session(django_assert_num_queries):
    request = RequestFactory().get("/boom/")
    handler = get_resolver().resolve_error_handler(500)
    with django_assert_num_queries(0):
        response = handler(request)
    assert response.status_code == 500
    body = response.content.decode()
    assert 'data-status="500"' in body and 'href="/" data-testid="error-home"' in body
    assert 'class="brand-mark"' in body and "siyu.css" in body


def test_csrf_failure_explains_and_leads_home(client, alice):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    response = strict.post("/points/policy/", {})
    assert response.status_code == 403
    body = response.content.decode()
    assert 'data-status="403"' in body and 'data-testid="error-home"' in body
