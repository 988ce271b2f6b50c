"""Repeated wrong passwords lock the username out from that address (django-axes), on the
dashboard's login and the admin's, with a clear page; an operator or a command lifts it; the API's
keys are not concerned."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


def _post(client, url, username, password, ip="10.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("url", [LOGIN, ADMIN_LOGIN])
def test_thirty_wrong_passwords_then_the_right_one_is_refused(db, alice, url):
    alice.is_staff = True  # so the right password would open the admin too
    alice.save()
    client = Client()
    statuses = [_post(client, url, "alice", f"wrong-{i}").status_code for i in range(30)]
    assert statuses[: settings.AXES_FAILURE_LIMIT - 1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert set(statuses[settings.AXES_FAILURE_LIMIT :]) == {429}
    response = _post(client, url, "alice", "pw-alice")
    assert response.status_code == 429
    assert not _logged_in(client)
    page = response.content.decode()
    assert 'data-testid="locked-out"' in page
    assert f"blocked for {settings.AXES_COOLOFF_TIME.seconds // 60} minutes" in page
    assert "no-store" in response["Cache-Control"]


def test_a_lockout_is_keyed_by_username_and_address(db, alice, bob):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _post(Client(), LOGIN, "alice", f"wrong-{i}", ip="10.0.0.1")
    assert _post(Client(), LOGIN, "alice", "pw-alice", ip="10.0.0.1").status_code == 429
    # The owner elsewhere, and another account at the same address, still log in.
    elsewhere = Client()
    assert _post(elsewhere, LOGIN, "alice", "pw-alice", ip="10.9.9.9").status_code == 302
    assert _logged_in(elsewhere)
    neighbour = Client()
    assert _post(neighbour, LOGIN, "bob", "pw-bob", ip="10.0.0.1").status_code == 302


def test_a_right_password_before_the_limit_resets_the_count(db, alice):
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        _post(Client(), LOGIN, "alice", f"wrong-{i}")
    assert _post(Client(), LOGIN, "alice", "pw-alice").status_code == 302
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        _post(Client(), LOGIN, "alice", f"again-{i}")
    assert _post(Client(), LOGIN, "alice", "pw-alice").status_code == 302


def test_the_lockout_ends_after_the_cool_off(db, alice):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _post(Client(), LOGIN, "alice", f"wrong-{i}")
    assert _post(Client(), LOGIN, "alice", "pw-alice").status_code == 429
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    assert _post(Client(), LOGIN, "alice", "pw-alice").status_code == 302


def test_a_command_unlocks_the_account(db, alice):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _post(Client(), LOGIN, "alice", f"wrong-{i}")
    assert _post(Client(), LOGIN, "alice", "pw-alice").status_code == 429
    call_command("axes_reset_username", "alice")
    assert _post(Client(), LOGIN, "alice", "pw-alice").status_code == 302


def test_an_operator_unlocks_from_the_admin(db, alice, bob):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _post(Client(), LOGIN, "bob", f"wrong-{i}")
    assert _post(Client(), LOGIN, "bob", "pw-bob").status_code == 429
    alice.is_staff = alice.is_superuser = True
    alice.save()
    admin = Client()
    admin.force_login(alice)
    attempt = AccessAttempt.objects.get(username="bob")
    response = admin.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert _post(Client(), LOGIN, "bob", "pw-bob").status_code == 302


def test_the_api_with_a_key_is_untouched_by_a_lockout(db, alice, members, make_key):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _post(Client(), LOGIN, "alice", f"wrong-{i}")
    key = make_key(scopes=["members:read"])
    response = Client().get("/api/v1/members/", HTTP_AUTHORIZATION=f"Bearer {key}", REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_cool_off_and_limit_come_from_the_environment():
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "LOGIN_LOCKOUT_MINUTES": "42",
        "LOGIN_FAILURE_LIMIT": "7",
        "DJANGO_SETTINGS_MODULE": "scrm.settings",
    }
    code = "from django.conf import settings as s; print(s.AXES_COOLOFF_TIME.total_seconds(), s.AXES_FAILURE_LIMIT)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2520.0", "7"]


def test_a_manager_sees_and_lifts_a_clerks_lockout_on_the_staff_page(db, bob, carol, dave):
    from scrm.models import AuditLog

    for username in ("carol", "dave"):
        for i in range(settings.AXES_FAILURE_LIMIT):
            _post(Client(), LOGIN, username, f"wrong-{i}")
    manager = Client()
    manager.force_login(bob)
    page = manager.get(reverse("staff-list")).content.decode()
    assert 'data-testid="locked-carol"' in page and 'data-testid="unlock-carol"' in page
    # Another store's clerk is neither shown nor unlockable by this manager.
    assert manager.post(reverse("staff-unlock", args=[dave.pk])).status_code == 404
    assert manager.post(reverse("staff-unlock", args=[carol.pk])).status_code == 302
    assert 'data-testid="locked-carol"' not in manager.get(reverse("staff-list")).content.decode()
    assert _post(Client(), LOGIN, "carol", "pw-carol").status_code == 302
    assert _post(Client(), LOGIN, "dave", "pw-dave").status_code == 429
    entry = AuditLog.objects.get(action="staff.unlocked")
    assert (entry.user, entry.object_id) == (bob, str(carol.pk))
