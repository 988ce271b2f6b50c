"""The dashboard's one handler for service errors (the API has its own in scrm.api.errors), and the
session guards: expiry, the second factor and no caching of what the application answers.

A view calls a service and lets a ServiceError rise. A form POST gets the error's message on the page
it came from (a redirect to the referring page of this site); anything else gets a page with the
error's status and message. Views that show an error beside a form field still catch it themselves."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from scrm import auth as session_auth
from scrm.api.errors import API_PREFIX, error_body
from scrm.errors import ServiceError


class ServiceErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, ServiceError) or request.path.startswith(API_PREFIX):
            return None
        back = request.headers.get("Referer", "")
        safe_back = back and url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        if request.method == "POST" and safe_back:
            messages.error(request, exception.message)
            if getattr(request, "htmx", False):
                response = HttpResponse(status=204)
                response["HX-Redirect"] = back
                return response
            return HttpResponseRedirect(back)
        return render(request, "errors/service_error.html", {"error": exception}, status=exception.status)


# --- Sessions, second factor, caching -------------------------------------------------------


def _to_login(request, message: str, url_name: str = "login"):
    """Send the browser to a login step: a redirect keeping `next`, an HX-Redirect for htmx, an
    error in the API's shape for the API."""
    from django.contrib.auth.views import redirect_to_login
    from django.urls import reverse

    if request.path.startswith(API_PREFIX):
        return JsonResponse(error_body(401, "not_authenticated", message), status=401)
    url = reverse(url_name)
    if getattr(request, "htmx", False) or request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    if request.method == "GET":
        return redirect_to_login(request.get_full_path(), url)
    return HttpResponseRedirect(url)


class SessionExpiryMiddleware:
    """Signs a staff session out after SESSION_IDLE_TIMEOUT seconds without a request and
    SESSION_ABSOLUTE_TIMEOUT seconds after its login. The last-seen time is written at most once a
    minute, so pages do not each save the session."""

    TOUCH_EVERY = 60

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            expired = self._check(request)
            if expired:
                from django.contrib.auth import logout

                logout(request)
                messages.info(request, _("Your session has expired. Please log in again."))
                return _to_login(request, _("Your session has expired. Please log in again."))
        return self.get_response(request)

    def _check(self, request) -> bool:
        LOGIN_AT, SEEN_AT = session_auth.LOGIN_AT, session_auth.SEEN_AT
        session, now = request.session, int(time.time())
        login_at, seen_at = session.get(LOGIN_AT), session.get(SEEN_AT)
        if login_at is None:
            session[LOGIN_AT] = login_at = now
        if now - login_at > settings.SESSION_ABSOLUTE_TIMEOUT:
            return True
        if seen_at is not None and now - seen_at > settings.SESSION_IDLE_TIMEOUT:
            return True
        if seen_at is None or now - seen_at >= self.TOUCH_EVERY:
            session[SEEN_AT] = now
        return False


class RequireOTPMiddleware:
    """A staff session whose account has a second factor reaches nothing but the code page (and
    logging out) until it has entered a code; an operator who must have one and has none is sent to
    set it up first. Sessions only: API keys are checked by the API's own authentication."""

    OPEN = {"otp-verify", "logout", "set_language"}
    OPEN_FOR_ENROLMENT = {"account-security", "logout", "set_language"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not user.is_verified():
            from django.urls import Resolver404, resolve

            step = session_auth.second_step(request)
            if step:
                try:
                    name = resolve(request.path_info).url_name
                except Resolver404:
                    name = None
                if step == "verify" and name not in self.OPEN:
                    return _to_login(request, _("Enter the code from your authenticator app."), "otp-verify")
                if step == "enrol" and name not in self.OPEN_FOR_ENROLMENT:
                    messages.warning(request, _("Set up a second factor to continue: operators must have one."))
                    return _to_login(request, _("Set up a second factor to continue."), "account-security")
        return self.get_response(request)


class NoStoreMiddleware:
    """Nothing the application answers is kept by a browser or a proxy cache: its pages and API
    answers carry personal data, secrets or both. Static files are served before this (WhiteNoise)
    and keep their long caching."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        patch_cache_control(response, no_store=True, private=True)
        return response
