"""Issuing, checking and revoking API keys. Keys look like `sy_<prefix>_<secret>`; only their
SHA-256 is stored (they carry 256 bits of randomness, so a slow hash adds nothing)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from scrm import permissions as scope_registry
from scrm.models import ApiKey, Role, Store, User

KEY_PREFIX = "sy"


class InvalidKey(Exception):
    """Why a key was refused: `reason` is "invalid", "revoked" or "expired" (the message is
    translated, the reason is for programs)."""

    def __init__(self, message: str, *, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    plaintext: str  # shown once, never stored


def _hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


@transaction.atomic
def issue(
    *,
    name: str,
    scopes: list[str],
    store: Store | None = None,
    expires_at: datetime | None = None,
    created_by: User | None = None,
) -> IssuedKey:
    name = name.strip()
    if not name:
        raise ValueError(_("An API key needs a name."))
    known = set(scope_registry.all_scopes())
    unknown = sorted(set(scopes) - known)
    if unknown:
        raise ValueError(_("Unknown scope(s): %(scopes)s") % {"scopes": ", ".join(unknown)})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValueError(_("The expiry must be in the future."))
    prefix = secrets.token_hex(4)
    plaintext = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=_hash(plaintext),
        scopes=sorted(set(scopes)),
        store=store,
        expires_at=expires_at,
        created_by=created_by,
    )
    return IssuedKey(api_key=key, plaintext=plaintext)


def authenticate(plaintext: str) -> ApiKey:
    """The active key for `plaintext`, or InvalidKey saying why not. Records the last use."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise InvalidKey(_("Invalid API key."))
    key = ApiKey.objects.select_related("store").filter(prefix=parts[1]).first()
    if key is None or not hmac.compare_digest(key.key_hash, _hash(plaintext)):
        raise InvalidKey(_("Invalid API key."))
    now = timezone.now()
    if key.revoked_at is not None:
        raise InvalidKey(_("This API key was revoked."), reason="revoked")
    if key.expires_at is not None and key.expires_at <= now:
        raise InvalidKey(_("This API key has expired."), reason="expired")
    stale_before = now - settings.API_KEY_LAST_USED_RESOLUTION
    if key.last_used_at is None or key.last_used_at < stale_before:
        # A conditional UPDATE: busy keys write at most once per minute, never read-modify-write.
        ApiKey.objects.filter(pk=key.pk).exclude(last_used_at__gte=stale_before).update(last_used_at=now)
        key.last_used_at = now
    return key


def can_manage_keys(actor) -> bool:
    """Only operators issue, review and revoke API keys."""
    return getattr(actor, "role", None) == Role.OPERATOR


def revoke(*, api_key: ApiKey) -> ApiKey:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db()
    return api_key
