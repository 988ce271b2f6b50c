"""Operators and store managers manage staff accounts from the dashboard, within their scope. A new
password is shown once, in the answer to the POST that made it (never kept in the session, never
cached); resetting and deactivating ask for confirmation first; every change is audited."""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from scrm.models import AuditLog, User


def _secret(response) -> str:
    return response.content.decode().split('<pre class="secret">')[1].split("</pre>")[0]


def _no_session_holds(password: str) -> None:
    for session in Session.objects.all():
        assert password not in str(session.get_decoded()), "a password is kept in a session"


def test_manager_adds_a_clerk_to_their_store_who_can_log_in(client, bob, store_a):
    client.force_login(bob)
    response = client.post(
        reverse("staff-list"), {"username": "lin", "display_name": "林晓", "role": "store_staff", "store": store_a.pk}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    password = _secret(response)
    lin = User.objects.get(username="lin")
    assert lin.role == "store_staff" and lin.store == store_a
    assert Client().login(username="lin", password=password)
    _no_session_holds(password)
    # Shown once: the next page does not show it again.
    assert password not in client.get(reverse("staff-list")).content.decode()
    entry = AuditLog.objects.get(action="staff.created")
    assert (entry.user, entry.object_id, entry.store_id) == (bob, str(lin.pk), store_a.pk)
    assert password not in str(entry.detail)


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
    assert not AuditLog.objects.filter(action="staff.created").exists()


def test_store_role_without_store_and_taken_username_are_refused(client, alice, carol):
    client.force_login(alice)
    response = client.post(reverse("staff-list"), {"username": "carol", "role": "store_staff"})
    errors = response.context["form"].errors
    assert "username" in errors and "store" in errors


def test_reset_password_asks_first_then_shows_it_once(client, bob, carol):
    client.force_login(bob)
    old_hash = User.objects.get(pk=carol.pk).password
    confirm = client.get(reverse("staff-reset-password", args=[carol.pk]))
    assert confirm.status_code == 200 and 'data-testid="staff-confirm"' in confirm.content.decode()
    assert User.objects.get(pk=carol.pk).password == old_hash  # asking changes nothing
    response = client.post(reverse("staff-reset-password", args=[carol.pk]))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    password = _secret(response)
    assert Client().login(username="carol", password=password)
    _no_session_holds(password)
    entry = AuditLog.objects.get(action="staff.password_reset")
    assert (entry.user, entry.object_id) == (bob, str(carol.pk))
    assert password not in str(entry.detail)


def test_deactivate_asks_first_and_is_audited(client, bob, carol):
    client.force_login(bob)
    assert client.get(reverse("staff-toggle-active", args=[carol.pk])).status_code == 200
    carol.refresh_from_db()
    assert carol.is_active
    client.post(reverse("staff-toggle-active", args=[carol.pk]))
    carol.refresh_from_db()
    assert not carol.is_active
    assert not Client().login(username="carol", password="pw-carol")
    entry = AuditLog.objects.get(action="staff.deactivated")
    assert (entry.user, entry.object_id) == (bob, str(carol.pk))
    client.post(reverse("staff-toggle-active", args=[carol.pk]))
    assert AuditLog.objects.filter(action="staff.reactivated", object_id=str(carol.pk)).count() == 1


def test_manager_cannot_touch_other_store_or_peers(client, bob, dave, alice):
    client.force_login(bob)
    assert client.post(reverse("staff-reset-password", args=[dave.pk])).status_code == 404
    assert client.get(reverse("staff-reset-password", args=[dave.pk])).status_code == 404
    assert client.post(reverse("staff-toggle-active", args=[alice.pk])).status_code == 404
    assert client.post(reverse("staff-reset-password", args=[bob.pk])).status_code == 403
    assert not AuditLog.objects.exists()


def test_clerk_cannot_manage_staff(client, carol, dave):
    client.force_login(carol)
    assert client.post(reverse("staff-reset-password", args=[carol.pk])).status_code == 403
