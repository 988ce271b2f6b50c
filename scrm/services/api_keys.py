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
from django.utils.text import get_text_list
from django.utils.translation import gettext as _

from scrm import permissions as scope_registry
from scrm.actors import actor_label
from scrm.errors import Forbidden, InvalidInput
from scrm.models import ApiKey, Role, Store, User
from scrm.services import audit

KEY_PREFIX = "sy"


class InvalidKey(Exception):
    """Why a key was refused: `reason` is "invalid", "revoked", "expired" or "store_inactive" (the
    message is translated, the reason is for programs)."""

    def __init__(self, message: str, *, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    plaintext: str  # shown once, never stored


def _hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def check_scopes(scopes, *, store: Store | None) -> list[str]:
    """`scopes` validated for a key of this binding: known scopes only, and no write of a brand
    setting on a key bound to one store (it could never use it). Sorted, without repeats."""
    scopes = sorted(set(scopes))
    unknown = [scope for scope in scopes if scope not in set(scope_registry.all_scopes())]
    if unknown:
        raise InvalidInput(
            _("Unknown scope(s): %(scopes)s") % {"scopes": get_text_list(unknown, _("and"))},
            details={"scopes": unknown},
        )
    if store is not None:
        refused = sorted(set(scopes) & scope_registry.store_bound_refused())
        if refused:
            raise InvalidInput(
                _(
                    "A key limited to one store cannot change brand-wide settings; leave out %(scopes)s "
                    "or make the key brand-wide."
                )
                % {"scopes": get_text_list(refused, _("and"))},
                details={"scopes": refused},
            )
    return scopes


@transaction.atomic
def issue(
    *,
    name: str,
    scopes: list[str],
    store: Store | None = None,
    expires_at: datetime | None = None,
    created_by: User | None = None,
    actor=None,
) -> IssuedKey:
    """A new key. Its plaintext is in the answer only; the audit log names the key, its scopes and
    binding, never the secret. `actor` (default `created_by`) must be an operator, or a system
    actor (the command line)."""
    actor = actor if actor is not None else created_by
    if actor is not None and not can_manage_keys(actor):
        raise Forbidden(_("Only operators issue API keys."))
    name = name.strip()
    if not name:
        raise InvalidInput(_("An API key needs a name."), details={"name": [_("An API key needs a name.")]})
    if store is not None and not store.is_active:
        raise InvalidInput(
            _("Store %(code)s is closed; a key for it would not work.") % {"code": store.code},
            details={"store": [_("This store is closed.")]},
        )
    scopes = check_scopes(scopes, store=store)
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput(
            _("The expiry must be in the future."), details={"expires_at": [_("The expiry must be in the future.")]}
        )
    prefix = secrets.token_hex(4)
    plaintext = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=_hash(plaintext),
        scopes=scopes,
        store=store,
        expires_at=expires_at,
        created_by=created_by,
    )
    _audit(actor, "api_key.issue", key)
    return IssuedKey(api_key=key, plaintext=plaintext)


def _audit(actor, action: str, key: ApiKey) -> None:
    detail = {
        "name": key.name,
        "prefix": key.prefix,
        "scopes": list(key.scopes),
        "store": key.store.code if key.store_id else None,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
    }
    if actor is not None and actor_label(actor):
        detail["by"] = actor_label(actor)
    audit.record(actor=actor, action=action, obj=key, store_id=key.store_id, detail=detail)


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
    if key.store is not None and not key.store.is_active:
        # A key dies with its store: a closed store's till or sync must not keep writing.
        raise InvalidKey(
            _("This API key belongs to store %(code)s, which is closed.") % {"code": key.store.code},
            reason="store_inactive",
        )
    stale_before = now - settings.API_KEY_LAST_USED_RESOLUTION
    if key.last_used_at is None or key.last_used_at < stale_before:
        # A conditional UPDATE: busy keys write at most once per minute, never read-modify-write.
        ApiKey.objects.filter(pk=key.pk).exclude(last_used_at__gte=stale_before).update(last_used_at=now)
        key.last_used_at = now
    return key


def can_manage_keys(actor) -> bool:
    """Only operators issue, review and revoke API keys (and the command line, a system actor)."""
    return getattr(actor, "role", None) in (Role.OPERATOR, "system") and getattr(actor, "api_key", None) is None


@transaction.atomic
def revoke(*, api_key: ApiKey, actor=None) -> ApiKey:
    """Revoke `api_key` at once (a second revoke changes nothing and is not audited again)."""
    if actor is not None and not can_manage_keys(actor):
        raise Forbidden(_("Only operators revoke API keys."))
    revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db()
    if revoked:
        _audit(actor, "api_key.revoke", api_key)
    return api_key
