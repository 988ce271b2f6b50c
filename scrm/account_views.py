"""A staff account's own pages: the code step after the password, and the account's security page
(setting up or removing the authenticator app). They read nothing but the signed-in account."""

from __future__ import annotations

import django_otp
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from scrm import auth as session_auth
from scrm.auth import client_ip
from scrm.errors import InvalidInput
from scrm.services import otp


class CodeForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("Code from your authenticator app"),
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@login_required
@require_http_methods(["GET", "POST"])
def otp_verify(request):
    """The second step of logging in: a code from the account's authenticator app."""
    device = otp.confirmed_device(request.user)
    if device is None:  # removed meanwhile (in the admin): nothing to ask for
        request.session[session_auth.SECOND_STEP] = otp.second_step(request.user)
        return redirect(_next_url(request))
    if request.user.is_verified():
        return redirect(_next_url(request))
    form = CodeForm(request.POST or None)
    wait = otp.throttled_for(device)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid() and not wait:
            if otp.verify(device=device, token=form.cleaned_data["token"]):
                request.session.cycle_key()  # a new session id for the stronger login
                django_otp.login(request, device)
                session_auth.second_step_done(request)
                return redirect(_next_url(request))
            form.add_error("token", _("That code is not right."))
            wait = otp.throttled_for(device)
    context = {"form": form, "wait": wait, "next": request.POST.get("next") or request.GET.get("next", "")}
    return render(request, "registration/otp_verify.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def account_security(request):
    """The account's second factor: set it up (scan the QR code, confirm a code) or remove it."""
    user = request.user
    form = CodeForm(request.POST or None)
    action = request.POST.get("action")
    status = 200
    if request.method == "POST":
        try:
            if action == "start":
                otp.start_enrolment(user=user)
                return redirect("account-security")
            if action in ("confirm", "remove") and form.is_valid():
                if action == "confirm":
                    device = otp.confirm_enrolment(user=user, token=form.cleaned_data["token"], ip=client_ip(request))
                    request.session.cycle_key()
                    django_otp.login(request, device)
                    session_auth.second_step_done(request)
                    messages.success(request, _("Your authenticator app is set up: logins now ask for a code."))
                else:
                    otp.remove(user=user, token=form.cleaned_data["token"], ip=client_ip(request))
                    request.session[session_auth.SECOND_STEP] = otp.second_step(user)
                    messages.success(request, _("The second factor is removed."))
                return redirect("account-security")
            if action not in ("confirm", "remove"):
                raise InvalidInput(_("Unknown action."))
        except InvalidInput as exc:
            for field, errors in exc.details.items():
                for error in errors:
                    form.add_error("token" if field == "token" else None, error)
            if not exc.details:
                form.add_error(None, exc.message)
        status = 400
    device = otp.confirmed_device(user)
    pending = None if device else otp.pending_device(user)
    context = {
        "device": device,
        "pending": pending,
        "qr_svg": otp.qr_svg(pending) if pending else "",
        "secret": otp.secret_text(pending) if pending else "",
        "required": otp.required_for(user),
        "form": form,
    }
    return render(request, "scrm/account_security.html", context, status=status)
