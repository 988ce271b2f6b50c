"""Operators and store managers manage staff accounts from the dashboard, within their scope."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from scrm.models import User


def _issued_password(client) -> str:
    page = client.get(reverse("staff-list")).content.decode()
    return page.split('<pre class="secret">')[1].split("</pre>")[0]


def test_manager_adds_a_clerk_to_their_store_who_can_log_in(client, bob, store_a):
    client.force_login(bob)
    response = client.post(
        reverse("staff-list"), {"username": "lin", "display_name": "林晓", "role": "store_staff", "store": store_a.pk}
    )
    assert response.status_code == 302
    password = _issued_password(client)
    lin = User.objects.get(username="lin")
    assert lin.role == "store_staff" and lin.store == store_a
    assert Client().login(username="lin", password=password)


def test_manager_cannot_create_managers_or_other_store_accounts(client, bob, store_b):
    client.force_login(bob)
    for data in (
        {"username": "x1", "role": "store_manager", "store": bob.store_id},
        {"username": "x2", "role": "store_staff", "store": store_b.pk},
        {"username": "x3", "role": "operator"},
    ):
        response = client.post(reverse("staff-list"), data)
        assert response.status_code == 200
        assert response.context["form"].errors
    assert not User.objects.filter(username__in=["x1", "x2", "x3"]).exists()


def test_store_role_without_store_and_taken_username_are_refused(client, alice, carol):
    client.force_login(alice)
    response = client.post(reverse("staff-list"), {"username": "carol", "role": "store_staff"})
    errors = response.context["form"].errors
    assert "username" in errors and "store" in errors


def test_reset_password_and_deactivate(client, bob, carol):
    client.force_login(bob)
    client.post(reverse("staff-reset-password", args=[carol.pk]))
    password = _issued_password(client)
    assert Client().login(username="carol", password=password)
    client.post(reverse("staff-toggle-active", args=[carol.pk]))
    carol.refresh_from_db()
    assert not carol.is_active
    assert not Client().login(username="carol", password=password)


def test_manager_cannot_touch_other_store_or_peers(client, bob, dave, alice):
    client.force_login(bob)
    assert client.post(reverse("staff-reset-password", args=[dave.pk])).status_code == 404
    assert client.post(reverse("staff-toggle-active", args=[alice.pk])).status_code == 404
    assert client.post(reverse("staff-reset-password", args=[bob.pk])).status_code == 403


def test_clerk_cannot_manage_staff(client, carol, dave):
    client.force_login(carol)
    assert client.post(reverse("staff-reset-password", args=[carol.pk])).status_code == 403
