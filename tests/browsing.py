"""What the browser tests share: the two screen sizes every page is checked at, the script that
measures sideways scrolling, and signing in through the real login form."""

from __future__ import annotations

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
# How far the page scrolls sideways (0 or less: it fits).
OVERFLOW = "() => document.scrollingElement.scrollWidth - window.innerWidth"


def login(browser, live_server, username, **context):
    """A new browser context signed in as `username` (password pw-<username>, as the fixtures set)."""
    ctx = browser.new_context(locale="en", **context)
    page = ctx.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return ctx, page
