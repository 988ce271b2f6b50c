"""Operators issue and revoke API keys from the dashboard; the key is shown once and works."""

from __future__ import annotations

from django.urls import reverse

from scrm.models import ApiKey


def test_operator_creates_key_sees_it_once_and_it_works(client, alice, store_a, members):
    client.force_login(alice)
    response = client.post(
        reverse("api-key-list"),
        {"name": "POS 同步", "scopes": ["members:read"], "store": store_a.pk, "expires_in_days": "30"},
    )
    # The secret is in the answer to the POST, which no cache keeps, and nowhere else.
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    key = ApiKey.objects.get(name="POS 同步")
    plaintext = page.split('<pre class="secret">')[1].split("</pre>")[0]
    assert plaintext.startswith(f"sy_{key.prefix}_")
    assert plaintext not in str(dict(client.session.items()))
    assert key.store == store_a and key.scopes == ["members:read"] and key.expires_at is not None
    assert '<pre class="secret">' not in client.get(reverse("api-key-list")).content.decode()
    api = client.get("/api/v1/members/", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert api.status_code == 200
    assert {m["home_store"] for m in api.json()["results"]} == {"SH01"}


def test_invalid_form_shows_errors_and_creates_nothing(client, alice):
    client.force_login(alice)
    response = client.post(reverse("api-key-list"), {"name": "", "scopes": ["nope:read"]})
    assert response.status_code == 400
    assert response.context["form"].errors.keys() >= {"name", "scopes"}
    assert not ApiKey.objects.exists()


def test_revoke_from_dashboard(client, alice, make_key):
    plaintext = make_key(scopes=["members:read"])
    key = ApiKey.objects.get()
    client.force_login(alice)
    assert client.post(reverse("api-key-revoke", args=[key.pk])).status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert client.get("/api/v1/members/", HTTP_AUTHORIZATION=f"Bearer {plaintext}").status_code == 401


def test_store_roles_cannot_manage_keys(client, bob, make_key):
    make_key()
    key = ApiKey.objects.get()
    client.force_login(bob)
    assert client.get(reverse("api-key-list")).status_code == 403
    assert client.post(reverse("api-key-revoke", args=[key.pk])).status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None
