"""The second factor of staff accounts: time-based one-time codes (django-otp TOTP).

A staff account enrols one authenticator app from its account page: a new device is unconfirmed
until the first code from the app is right. Once confirmed, every login asks for a code after the
password (scrm.middleware.RequireOTPMiddleware). Wrong codes are throttled by django-otp (each
failure doubles the wait). Enrolment and removal are audited; the secret never leaves the device row."""

from __future__ import annotations

from base64 import b32encode

import segno
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from scrm.errors import InvalidInput
from scrm.models import User
from scrm.services import audit

DEVICE_NAME = "authenticator"


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def pending_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def required_for(user: User) -> bool:
    """Whether this account must have a second factor (OTP_REQUIRED_FOR_OPERATORS)."""
    return bool(settings.OTP_REQUIRED_FOR_OPERATORS and user.is_operator)


def second_step(user: User) -> str:
    """What a freshly logged-in account still owes: "verify" a code, "enrol" a device, or ""."""
    if user_has_device(user, confirmed=True):
        return "verify"
    return "enrol" if required_for(user) else ""


@transaction.atomic
def start_enrolment(*, user: User) -> TOTPDevice:
    """A new unconfirmed device (a fresh secret), replacing any earlier unconfirmed one."""
    if confirmed_device(user) is not None:
        raise InvalidInput(_("A second factor is already set up; remove it first to set up another."))
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


@transaction.atomic
def confirm_enrolment(*, user: User, token: str, ip=None) -> TOTPDevice:
    device = pending_device(user)
    if device is None:
        raise InvalidInput(details={"token": [_("Start the set-up again: no authenticator is waiting.")]})
    if not verify(device=device, token=token):
        message = _("That code is not right. Check the time on your phone and try again.")
        raise InvalidInput(details={"token": [message]})
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit.record(actor=user, action="staff.otp_enrolled", obj=user, store_id=user.store_id, ip=ip)
    return device


@transaction.atomic
def remove(*, user: User, token: str, ip=None) -> None:
    """Removing the second factor takes a current code, so a stolen session cannot drop it."""
    device = confirmed_device(user)
    if device is None:
        return
    if required_for(user):
        raise InvalidInput(_("Operators must keep a second factor."))
    if not verify(device=device, token=token):
        raise InvalidInput(details={"token": [_("That code is not right.")]})
    TOTPDevice.objects.filter(user=user).delete()
    audit.record(actor=user, action="staff.otp_removed", obj=user, store_id=user.store_id, ip=ip)


def verify(*, device: TOTPDevice, token: str) -> bool:
    token = (token or "").strip().replace(" ", "")
    if not (token.isdigit() and len(token) == device.digits):
        return False
    return device.verify_token(token)


def throttled_for(device: TOTPDevice) -> int:
    """Seconds until the next code may be tried (0 when it may be tried now)."""
    allowed, data = device.verify_is_allowed()
    if allowed or not data:
        return 0
    locked_until = data.get("locked_until")
    if locked_until is None:
        return 0
    return max(1, int((locked_until - timezone.now()).total_seconds()))


def qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// URL as an inline SVG QR code (drawn here: no outside service)."""
    return segno.make(device.config_url, error="m").svg_inline(scale=5, light="#fff", title=_("Set-up code"))


def secret_text(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for typing into an app that cannot scan."""
    raw = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))
