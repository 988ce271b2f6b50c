"""The API's filter backend: a list never ignores a query parameter it does not understand (a
misspelt filter would otherwise answer every row). Unknown parameters are a 400 naming each one."""

from __future__ import annotations

import pytest
from django.conf import settings
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def alice_client(alice):
    client = APIClient()
    client.force_login(alice)
    return client


def test_the_strict_backend_is_the_default():
    assert settings.REST_FRAMEWORK["DEFAULT_FILTER_BACKENDS"] == ["scrm.api.filters.StrictFilterBackend"]


def test_an_unknown_parameter_on_a_list_is_a_validation_error(alice_client, stores):
    response = alice_client.get("/api/v1/tags/?grup=1&q=黑")
    assert response.status_code == 400, response.content
    body = response.json()["error"]
    assert body["code"] == "validation_error"
    assert list(body["details"]) == ["grup"]
    assert "Unknown filter" in body["details"]["grup"][0] and "group" in body["details"]["grup"][0]


def test_known_filters_paging_and_format_pass(alice_client, stores):
    for query in ("group=1&q=黑&is_rule=false", "page_size=5", "format=json", ""):
        response = alice_client.get(f"/api/v1/members/?{query}" if "group" not in query else f"/api/v1/tags/?{query}")
        assert response.status_code == 200, (query, response.content)


def test_a_list_without_a_filterset_refuses_filters_too(alice_client, stores):
    response = alice_client.get("/api/v1/tag-groups/?name=x")
    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["details"]) == ["name"]


def test_a_view_may_declare_extra_query_params(rf, alice):
    from rest_framework import viewsets
    from rest_framework.response import Response

    from members.models import Tag

    class View(viewsets.GenericViewSet):
        queryset = Tag.objects.all()
        extra_query_params = {"since"}
        authentication_classes = []
        permission_classes = []

        def list(self, request):
            self.filter_queryset(self.get_queryset())
            return Response({"ok": True})

    view = View.as_view({"get": "list"})
    assert view(rf.get("/x/?since=1")).status_code == 200
    assert view(rf.get("/x/?since=1&until=2")).status_code == 400


def test_search_or_ordering_on_a_list_that_has_neither_is_refused(alice_client, stores):
    # A `q` the list cannot search by would answer every row; an `ordering` it cannot sort by would
    # silently come back in another order.
    for query, param in (("q=13800138000", "q"), ("ordering=-id", "ordering")):
        response = alice_client.get(f"/api/v1/tag-groups/?{query}")
        assert response.status_code == 400, (query, response.content)
        assert list(response.json()["error"]["details"]) == [param]
