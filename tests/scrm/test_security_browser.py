"""In a real Chromium: the dashboard's pages (the member list and its audience builder, a member,
segments, staff, figures, tiers, the API docs) load under the Content-Security-Policy without a
single violation; a lockout after wrong passwords; enrolling an authenticator and logging in with
a code."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django_otp.oath import hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from members.models import Member, MemberTag, Tag, TagGroup
from scrm.models import AuditLog

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  var where = (e.sourceFile || "") + ":" + e.lineNumber;
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + where);
});
"""


def _context(browser):
    context = browser.new_context(locale="en", viewport={"width": 1366, "height": 900})
    context.add_init_script(WATCH_CSP)
    return context


def _watch(page) -> list[str]:
    problems = []
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type in ("error", "warning") and ("Content Security Policy" in m.text or "Refused" in m.text)
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    return problems


def _login(page, live_server, username, password=None):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password or f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _violations(page) -> list[str]:
    return page.evaluate("window.__csp || []")


def _code(device: TOTPDevice) -> str:
    device.refresh_from_db()
    step = max(int((time.time() - device.t0) // device.step), device.last_t + 1)
    return f"{hotp(device.bin_key, step, digits=device.digits):0{device.digits}d}"


def test_dashboard_pages_load_under_the_csp_without_violations(browser, live_server, alice, members, shot):
    dark = Tag.objects.create(group=TagGroup.objects.create(name="口味偏好"), name="黑巧")
    MemberTag.objects.create(member=members[0][0], tag=dark)
    member = Member.objects.get(pk=members[0][0].pk)
    context = _context(browser)
    page = context.new_page()
    problems = _watch(page)
    _login(page, live_server, "alice")
    assert page.url == f"{live_server.url}/"
    pages = [
        "/",
        "/members/",
        f"/members/{member.pk}/",
        "/segments/",
        "/staff/",
        "/stores/",
        "/orders/",
        "/insights/",
        "/tiers/",
        "/tiers/distribution/",
        "/points/rewards/",
        "/accounts/security/",
    ]
    for path in pages:
        response = page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert _violations(page) == [], (path, _violations(page))
    # The audience builder works (htmx swaps) under the policy.
    page.goto(f"{live_server.url}/members/")
    page.click("[data-testid=audience-builder] summary")
    page.click("[data-testid='add-r']")
    page.wait_for_selector("[data-testid='filter-r.0']")
    page.wait_for_function("() => !document.querySelector('.htmx-settling, .htmx-swapping, .htmx-request')")
    page.select_option("[data-testid='filter-r.0']", "tags")
    page.wait_for_selector("[data-testid='value-r.0'] select")
    page.wait_for_load_state("networkidle")
    assert _violations(page) == []
    shot(page, "csp-audience-builder")
    # Bars sized from data-width by the static script (no inline style needed).
    page.goto(f"{live_server.url}/")
    page.wait_for_load_state("networkidle")
    widths = page.eval_on_selector_all(".bar[data-width]", "els => els.map(e => e.style.width)")
    assert all(w.endswith("%") for w in widths)
    # The API docs render their UI from our own files.
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info", timeout=60000)
    assert _violations(page) == []
    shot(page, "csp-swagger")
    page.goto(f"{live_server.url}/api/redoc/")
    page.wait_for_selector("redoc h1, [role=navigation], .menu-content", timeout=60000)
    page.wait_for_load_state("networkidle")
    # Redoc's footer asks its makers' CDN for a logo: the policy keeps that request from leaving, as
    # it should (no third party learns of a docs visit); nothing else is refused.
    external_logo = [v for v in _violations(page) if v.startswith("img-src https://cdn.redoc.ly/")]
    assert [v for v in _violations(page) if v not in external_logo] == []
    assert [p for p in problems if "cdn.redoc.ly" not in p] == [], problems
    context.close()


def test_wrong_passwords_lock_the_login_in_the_browser(browser, live_server, bob, shot):
    context = _context(browser)
    page = context.new_page()
    for i in range(settings.AXES_FAILURE_LIMIT):
        _login(page, live_server, "bob", f"wrong-{i}")
    _login(page, live_server, "bob")
    assert page.locator("[data-testid=locked-out]").is_visible()
    assert "minutes" in page.inner_text("[data-testid=locked-out]")
    assert page.url.startswith(f"{live_server.url}/accounts/login/")
    assert _violations(page) == []
    shot(page, "login-locked-out")
    context.close()


def test_enrol_an_authenticator_then_log_in_with_a_code(browser, live_server, alice, shot):
    context = _context(browser)
    page = context.new_page()
    _login(page, live_server, "alice")
    page.goto(f"{live_server.url}/accounts/security/")
    page.click("button:has-text('Set up an authenticator app')")
    page.wait_for_selector("[data-testid=otp-qr] svg")
    assert page.locator("[data-testid=otp-secret]").inner_text().strip()
    shot(page, "otp-enrol")
    device = TOTPDevice.objects.get(user=alice)
    page.fill("#id_token", _code(device))
    page.click("button:has-text('Confirm and turn on')")
    page.wait_for_load_state("networkidle")
    assert "Set up: every login asks" in page.inner_text("[data-testid=otp-status]")
    assert AuditLog.objects.filter(action="staff.otp_enrolled").exists()
    page.click(".topbar button:has-text('Log out')")
    page.wait_for_load_state("networkidle")

    page.goto(f"{live_server.url}/members/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-alice")
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=otp-verify]")
    page.fill("#id_token", "000000")
    page.click("button:has-text('Verify')")
    page.wait_for_selector("[data-testid=otp-verify] .error")
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    page.fill("#id_token", _code(device))
    page.click("button:has-text('Verify')")
    page.wait_for_load_state("networkidle")
    assert page.url == f"{live_server.url}/members/"
    assert _violations(page) == []
    context.close()
