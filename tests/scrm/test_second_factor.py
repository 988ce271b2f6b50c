"""Optional TOTP for staff accounts (django-otp): enrolled from the account page, then asked for
after the password on every login, the dashboard's and the admin's alike; OTP_REQUIRED_FOR_OPERATORS
makes operators set one up before anything else. Sessions also expire when idle and after a
fixed time from login."""

from __future__ import annotations

import time

import pytest
from django.test import Client, override_settings
from django_otp.oath import hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from scrm.auth import LOGIN_AT, SEEN_AT
from scrm.models import AuditLog

ACCOUNT = "/accounts/security/"
VERIFY = "/accounts/login/code/"


def code(device: TOTPDevice) -> str:
    """A valid code not used yet (django-otp refuses a code from a step already used)."""
    device.refresh_from_db()
    step = max(int((time.time() - device.t0) // device.step), device.last_t + 1)
    return f"{hotp(device.bin_key, step, digits=device.digits):0{device.digits}d}"


def _login(username, next_url="/"):
    client = Client()
    response = client.post(f"/accounts/login/?next={next_url}", {"username": username, "password": f"pw-{username}"})
    assert response.status_code == 302, response.content[:500]
    return client, response


def _enrol(client) -> TOTPDevice:
    client.post(ACCOUNT, {"action": "start"})
    device = TOTPDevice.objects.get(confirmed=False)
    response = client.post(ACCOUNT, {"action": "confirm", "token": code(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    return device


def test_enrolment_shows_a_qr_code_and_needs_a_right_code(db, alice):
    client, _ = _login("alice")
    page = client.get(ACCOUNT).content.decode()
    assert "Not set up" in page
    client.post(ACCOUNT, {"action": "start"})
    page = client.get(ACCOUNT)
    assert "no-store" in page["Cache-Control"]
    html = page.content.decode()
    assert "<svg" in html and 'data-testid="otp-qr"' in html and 'data-testid="otp-secret"' in html
    assert "<script" not in html.split('data-testid="otp-qr"')[1].split("</div>")[0]
    device = TOTPDevice.objects.get(user=alice)
    assert not device.confirmed
    assert client.post(ACCOUNT, {"action": "confirm", "token": "000000"}).status_code == 400
    device.refresh_from_db()
    assert not device.confirmed
    assert client.post(ACCOUNT, {"action": "confirm", "token": code(device)}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert AuditLog.objects.filter(action="staff.otp_enrolled", user=alice).count() == 1
    # The session that enrolled is verified: it goes on working.
    assert client.get("/").status_code == 200


def test_once_enrolled_a_login_asks_for_a_code_before_anything(db, alice, members):
    client, _ = _login("alice")
    device = _enrol(client)
    client, response = _login("alice", next_url="/members/")
    # Every page, htmx request and API call waits for the code.
    page = client.get("/members/")
    assert page.status_code == 302 and page["Location"].startswith(VERIFY)
    assert client.get("/members/", HTTP_HX_REQUEST="true")["HX-Redirect"] == VERIFY
    api = client.get("/api/v1/members/")
    assert api.status_code == 401 and api.json()["error"]["code"] == "not_authenticated"
    assert client.get(ACCOUNT).status_code == 302
    # A wrong code is refused; the right one opens the page asked for.
    assert client.post(VERIFY, {"token": "123456", "next": "/members/"}).status_code == 400
    device.throttle_reset()
    response = client.post(VERIFY, {"token": code(device), "next": "/members/"})
    assert response.status_code == 302 and response["Location"] == "/members/"
    assert client.get("/members/").status_code == 200


def test_the_admin_login_asks_for_the_code_too(db, alice):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client, _ = _login("alice")
    _enrol(client)
    admin = Client()
    response = admin.post("/admin/login/?next=/admin/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 302
    page = admin.get("/admin/")
    assert page.status_code == 302 and page["Location"].startswith(VERIFY)


def test_wrong_codes_are_throttled(db, alice):
    client, _ = _login("alice")
    device = _enrol(client)
    client, _ = _login("alice")
    for _ in range(3):
        client.post(VERIFY, {"token": "000000"})
    response = client.post(VERIFY, {"token": code(device)})
    assert response.status_code == 400
    assert 'data-testid="otp-wait"' in response.content.decode()


def test_removing_the_second_factor_takes_a_code(db, alice):
    client, _ = _login("alice")
    device = _enrol(client)
    assert client.post(ACCOUNT, {"action": "remove", "token": "000000"}).status_code == 400
    assert TOTPDevice.objects.filter(user=alice).exists()
    device.throttle_reset()
    assert client.post(ACCOUNT, {"action": "remove", "token": code(device)}).status_code == 302
    assert not TOTPDevice.objects.filter(user=alice).exists()
    assert AuditLog.objects.filter(action="staff.otp_removed", user=alice).exists()
    client, _ = _login("alice")
    assert client.get("/").status_code == 200


@override_settings(OTP_REQUIRED_FOR_OPERATORS=True)
def test_required_for_operators_sends_them_to_enrol_first(db, alice, bob):
    client, _ = _login("alice")
    page = client.get("/")
    assert page.status_code == 302 and page["Location"].startswith(ACCOUNT)
    assert client.get(ACCOUNT).status_code == 200
    _enrol(client)
    assert client.get("/").status_code == 200
    # Store roles are not concerned.
    manager, _ = _login("bob")
    assert manager.get("/").status_code == 200


def test_without_a_device_a_login_is_the_password_alone(db, bob):
    client, _ = _login("bob")
    assert client.get("/").status_code == 200


# --- Session expiry ---------------------------------------------------------------------------


def _age(client, **seconds_ago):
    session = client.session
    now = int(time.time())
    for key, ago in seconds_ago.items():
        session[{"login": LOGIN_AT, "seen": SEEN_AT}[key]] = now - ago
    session.save()


@pytest.mark.parametrize(("login_ago", "seen_ago"), [(60, 30 * 60 + 5), (12 * 3600 + 5, 10)])
def test_an_idle_or_old_session_is_signed_out(db, bob, login_ago, seen_ago):
    client, _ = _login("bob")
    assert client.get("/").status_code == 200
    _age(client, login=login_ago, seen=seen_ago)
    response = client.get("/stores/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/stores/")
    assert "_auth_user_id" not in client.session
    assert "expired" in client.get(response["Location"]).content.decode()


def test_an_active_session_stays(db, bob):
    client, _ = _login("bob")
    _age(client, login=3600, seen=29 * 60)
    assert client.get("/").status_code == 200
    assert client.get("/stores/").status_code == 200


def test_session_timeouts_come_from_the_environment():
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "SESSION_IDLE_TIMEOUT": "600",
        "SESSION_ABSOLUTE_TIMEOUT": "3600",
        "DJANGO_SETTINGS_MODULE": "scrm.settings",
    }
    code_ = "from django.conf import settings as s; print(s.SESSION_IDLE_TIMEOUT, s.SESSION_ABSOLUTE_TIMEOUT)"
    out = subprocess.run([sys.executable, "-c", code_], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["600", "3600"]
