"""Logging in: the lockout of repeated wrong passwords (django-axes) and the page it answers with.

Lockouts are keyed by username and client address together, so a stranger guessing one account's
password is stopped without locking its owner out from elsewhere. The API is not concerned: keys
are not passwords and never go through these backends."""

from __future__ import annotations

import time

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_ip_address, get_cool_off
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.shortcuts import render

# Session keys: when the session logged in and was last seen (scrm.middleware.SessionExpiryMiddleware),
# and which second step the login still owes ("verify", "enrol" or "": scrm.services.otp.second_step).
LOGIN_AT = "siyu_login_at"
SEEN_AT = "siyu_seen_at"
SECOND_STEP = "siyu_second_step"


class LockoutBackend(AxesStandaloneBackend):
    """Refuses a login attempt for a locked-out username and address before any password is checked.

    An authentication without a request (a shell, a management command, Django's test client)
    has no address to key a lockout on and cannot be repeated from outside: it is left to the next
    backend. Every login over HTTP (the dashboard's and the admin's) passes its request."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out login gets (429), saying for how long and how to get unlocked."""
    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / 60)) if cool_off else None
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)


@receiver(user_logged_in, dispatch_uid="siyu-session-start")
def _session_start(sender, request, user, **kwargs):
    """A login starts the session's clocks and notes its second step once, so pages need no query."""
    if request is None or not hasattr(request, "session"):
        return
    from scrm.services import otp

    now = int(time.time())
    request.session[LOGIN_AT] = now
    request.session[SEEN_AT] = now
    request.session[SECOND_STEP] = otp.second_step(user)


def second_step(request) -> str:
    """The second step the signed-in session still owes, remembered in the session."""
    step = request.session.get(SECOND_STEP)
    if step is None:
        from scrm.services import otp

        step = request.session[SECOND_STEP] = otp.second_step(request.user)
    return step


def second_step_done(request) -> None:
    request.session[SECOND_STEP] = ""


def client_ip(request) -> str | None:
    """The client's address as the lockouts see it: the peer, or what NUM_PROXIES trusted proxies saw."""
    return get_client_ip_address(request) or None
