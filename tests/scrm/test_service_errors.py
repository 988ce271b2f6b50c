"""A ServiceError raised anywhere reaches the user in one shape, with no per-view handling: the API's
exception handler answers it with its status, code and details; the dashboard's middleware shows its
message on the page a form came from, or on an error page with its status."""

from __future__ import annotations

import pytest

from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope, ServiceError

pytestmark = pytest.mark.urls("tests.scrm.urls_service_errors")


def test_the_vocabulary_has_stable_statuses_and_codes():
    assert [(e.status, e.code) for e in (InvalidInput(), Forbidden(), NotInScope(), Conflict())] == [
        (400, "validation_error"), (403, "permission_denied"), (404, "not_found"), (409, "conflict")]
    err = Conflict("x", code="already_done", details={"a": ["b"]})
    assert isinstance(err, ServiceError) and err.code == "already_done" and err.details == {"a": ["b"]}


def test_api_answers_a_service_error_in_the_one_shape(api_client, alice):
    api_client.force_authenticate(alice)
    response = api_client.get("/api/v1/test-refusal/")
    assert response.status_code == 409
    assert response.json() == {"error": {"status": 409, "code": "already_done", "message": "Already done.",
                                         "details": {"order": ["Refunded in full."]}}}


def test_dashboard_get_shows_an_error_page_with_the_status(client, carol):
    client.force_login(carol)
    response = client.get("/test-refusal/")
    assert response.status_code == 403
    assert "errors/service_error.html" in [t.name for t in response.templates]
    assert "Only the brand&#x27;s operators may do this." in response.content.decode()


def test_dashboard_post_goes_back_with_the_message(client, carol):
    client.force_login(carol)
    response = client.post("/test-refusal/", HTTP_REFERER="http://testserver/members/")
    assert response.status_code == 302 and response["Location"] == "http://testserver/members/"
    page = client.get("/members/")
    assert "Only the brand&#x27;s operators may do this." in page.content.decode()


def test_htmx_post_is_redirected_by_htmx(client, carol):
    client.force_login(carol)
    response = client.post("/test-refusal/", HTTP_REFERER="http://testserver/members/", HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"] == "http://testserver/members/"


def test_a_foreign_referer_is_never_followed(client, carol):
    client.force_login(carol)
    response = client.post("/test-refusal/", HTTP_REFERER="https://evil.example/steal")
    assert response.status_code == 403
    assert "evil.example" not in response.get("Location", "")
