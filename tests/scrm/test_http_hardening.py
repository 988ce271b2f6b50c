"""HTTP hardening: a Content-Security-Policy on every page, nothing the application answers kept in
a cache (static files still are), HTTPS settings on by default in production, proxy headers believed
only when configured, and `check --deploy` clean under production settings."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, RequestFactory

from scrm.models import AuditLog, User

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "SIYU_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "DATABASE_URL": "postgres://siyu:secret@db.internal:5432/siyu",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "ALLOWED_HOSTS": "scrm.example.com",
}


def _settings_in(env: dict, expression: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    code = f"import django; django.setup(); from django.conf import settings as s; print({expression})"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "scrm.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_check_deploy_is_clean_under_production_settings():
    drop = (
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "DEBUG",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    )  # set for the browser tests
    clean = {k: v for k, v in os.environ.items() if k not in drop}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={**clean, **PRODUCTION_ENV},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout + result.stderr


def test_production_turns_https_on_and_the_environment_can_tune_it():
    assert _settings_in(PRODUCTION_ENV, "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE") == (
        "True 31536000 True"
    )
    tuned = {**PRODUCTION_ENV, "SECURE_HSTS_SECONDS": "600", "SECURE_SSL_REDIRECT": "false"}
    assert _settings_in(tuned, "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS") == "False 600"


def test_proxy_headers_are_believed_only_when_configured():
    assert _settings_in(PRODUCTION_ENV, "getattr(s, 'SECURE_PROXY_SSL_HEADER', None), s.USE_X_FORWARDED_HOST") == (
        "None False"
    )
    behind = {**PRODUCTION_ENV, "TRUSTED_PROXY_SSL_HEADER": "1", "USE_X_FORWARDED_HOST": "1", "NUM_PROXIES": "1"}
    assert _settings_in(behind, "s.SECURE_PROXY_SSL_HEADER, s.USE_X_FORWARDED_HOST, s.AXES_IPWARE_PROXY_COUNT") == (
        "('HTTP_X_FORWARDED_PROTO', 'https') True 1"
    )


def test_a_forged_forwarded_proto_does_not_make_a_request_secure():
    request = RequestFactory().get("/", HTTP_X_FORWARDED_PROTO="https")
    assert not request.is_secure()


def test_pages_carry_a_content_security_policy_without_inline_script(client, alice):
    client.force_login(alice)
    for path in ("/", "/members/", "/accounts/login/"):
        response = client.get(path, follow=path == "/accounts/login/")
        policy = response["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
        assert directives["script-src"] == "'self'", policy
        assert directives["style-src"] == "'self'", policy
        assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


def test_the_api_docs_relax_styles_only(client, alice):
    client.force_login(alice)
    for path in ("/api/docs/", "/api/redoc/"):
        response = client.get(path)
        assert response.status_code == 200
        policy = response["Content-Security-Policy"]
        assert "script-src 'self';" in policy + ";" and "'unsafe-inline'" in policy.split("style-src")[1].split(";")[0]
        assert "<script>" not in response.content.decode()


def test_every_answer_is_no_store_and_static_files_stay_cacheable(client, alice, members, make_key):
    client.force_login(alice)
    for path in ("/", "/members/", f"/members/{members[0][0].pk}/", "/staff/", "/api/v1/me/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "no-store" in response["Cache-Control"], path
    key = make_key(scopes=["members:read"])
    api = Client().get("/api/v1/members/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert "no-store" in api["Cache-Control"]
    static = Client().get("/static/siyu/siyu.css")
    assert static.status_code == 200
    assert "no-store" not in static.get("Cache-Control", "")


# --- create_staff and reset_password --------------------------------------------------------


def test_create_staff_with_a_weak_password_answers_a_clear_error(store_a):
    with pytest.raises(CommandError, match=r"password: .*too short"):
        call_command("create_staff", "erin", "--role", "store_staff", "--store", "SH01", "--password", "abc")
    with pytest.raises(CommandError, match=r"password: .*too common"):
        call_command("create_staff", "erin", "--role", "store_staff", "--store", "SH01", "--password", "password123")
    assert not User.objects.filter(username="erin").exists()


def test_commands_audit_what_they_do_without_the_password(store_a, capsys):
    call_command("create_staff", "erin", "--role", "store_staff", "--store", "SH01")
    call_command("reset_password", "erin")
    erin = User.objects.get(username="erin")
    created, reset = (
        AuditLog.objects.get(action=a, object_id=str(erin.pk)) for a in ("staff.created", "staff.password_reset")
    )
    assert created.detail["by"] == "command:create_staff" and reset.detail["by"] == "command:reset_password"
    printed = capsys.readouterr().out
    for entry in (created, reset):
        assert not any(line and line in str(entry.detail) for line in printed.split())
