"""Who sees members' direct identifiers in full: the one rule for lists, detail pages, the clerk's
phone views, order buyers, the API and exports.

Direct identifiers are the phone, identities of phone kind and e-mail addresses. Operators and
brand-wide API keys holding `phones:read` see them in full; everyone else (store managers, store
staff, store-bound keys, brand keys without the scope) sees them masked. Seeing one member's full
identifiers is then an explicit, recorded act: `reveal_identifiers`, rate-limited per actor, whose
audit entry names who, which member and when, never the values themselves."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

from members.phones import mask_phone
from scrm import permissions
from scrm.errors import ServiceError
from scrm.services import audit

PHONES_READ = "phones:read"
DIRECT_CHANNELS = frozenset({"phone", "email"})
REVEAL_ACTION = "member.reveal"
BULK_READ_ACTION = "member.api_read"
_WINDOW = 3600  # seconds: reveal limits are per hour


class RevealLimitReached(ServiceError):
    status = 429
    code = "throttled"
    default_message = _("Too many phone numbers shown in the last hour; try again later.")


def sees_full_identifiers(actor) -> bool:
    """Whether `actor` sees full phones and e-mails by default: it reaches every store and holds
    phones:read (operators and system rules by role, API keys only when given it by name)."""
    return permissions.is_brand_wide(actor) and permissions.has_scope(actor, PHONES_READ)


def mask_email(value: str) -> str:
    """li.wei@example.com -> l****@example.com."""
    if not value:
        return ""
    local, at, domain = value.partition("@")
    return f"{local[:1]}****{at}{domain}" if at else "****"


def mask_identifier(channel: str, value: str) -> str:
    """An identity's external id as a masked reader sees it: phones and e-mails masked, platform
    ids (openids, shop ids) as they are, since they name no one outside that platform."""
    if channel == "phone":
        return mask_phone(value)
    if channel == "email":
        return mask_email(value)
    return value


def shown_phone(phone: str, *, full: bool) -> str:
    return phone if full else mask_phone(phone)


def shown_identifier(channel: str, value: str, *, full: bool) -> str:
    return value if full else mask_identifier(channel, value)


def reveal_limit(actor) -> int:
    """Reveals an actor may make in an hour: MEMBER_REVEALS_PER_HOUR for store roles and store-bound
    keys, MEMBER_REVEALS_PER_HOUR_BRAND for brand-wide actors."""
    if permissions.is_brand_wide(actor):
        return settings.MEMBER_REVEALS_PER_HOUR_BRAND
    return settings.MEMBER_REVEALS_PER_HOUR


def _actor_key(actor) -> str:
    api_key = getattr(actor, "api_key", None)
    if api_key is not None:
        return f"key:{api_key.pk}"
    return f"user:{getattr(actor, 'pk', None) or getattr(actor, 'label', 'system')}"


def _take_reveal(actor) -> None:
    """Count one reveal in the actor's hourly window (Redis, atomic), refusing past the limit."""
    key = f"members:reveals:{_actor_key(actor)}"
    cache.add(key, 0, timeout=_WINDOW)  # starts the window; a no-op while one is open
    try:
        used = cache.incr(key)
    except ValueError:  # the window closed between add and incr
        cache.add(key, 1, timeout=_WINDOW)
        used = 1
    if used > reveal_limit(actor):
        raise RevealLimitReached(details={"limit": [str(reveal_limit(actor))]})


@dataclass(frozen=True)
class Revealed:
    member_id: int
    phone: str
    identities: list[dict]  # {"id", "channel", "namespace", "external_id"}


def reveal_identifiers(*, member, actor, ip=None, via: str = "dashboard") -> Revealed:
    """The member's full phone and direct identities for `actor`, who reached `member` through a
    scoped lookup. Counted against the actor's hourly limit and recorded (who, which member, when,
    through what); the audit entry never holds the values."""
    _take_reveal(actor)
    identities = [
        {"id": i.pk, "channel": i.channel, "namespace": i.namespace, "external_id": i.external_id}
        for i in member.identities.filter(channel__in=DIRECT_CHANNELS).order_by("id")
    ]
    audit.record(actor=actor, action=REVEAL_ACTION, obj=member, store_id=member.home_store_id,
                 detail={"via": via, "identities": len(identities)}, ip=ip)
    return Revealed(member.pk, member.phone, identities)


def record_bulk_read(*, actor, endpoint: str, members: int, unmasked: bool, ip=None) -> None:
    """One audit row per API answer carrying members' personal data: who, which endpoint, how many
    members and whether in full. Never the data itself, nor the query (which may hold a phone)."""
    if members <= 0:
        return
    store_id = getattr(getattr(actor, "api_key", None), "store_id", None) or getattr(actor, "store_id", None)
    audit.record(actor=actor, action=BULK_READ_ACTION, store_id=store_id,
                 detail={"endpoint": endpoint, "members": members, "unmasked": unmasked}, ip=ip)
