"""Signed booking links: a store (and optionally one service), or one member. The token is Django's
signing of the ids (HMAC with SECRET_KEY, salted for this use), so it cannot be made up or changed,
and a member's link books for that member without a login. A member's link lasts MEMBER_LINK_DAYS."""

from __future__ import annotations

from django.core import signing

SALT = "siyu.appointments.booking-link"
MEMBER_LINK_DAYS = 30


def make(*, store_id: int, service_id: int | None = None, member_id: int | None = None) -> str:
    payload = {"s": store_id}
    if service_id:
        payload["v"] = service_id
    if member_id:
        payload["m"] = member_id
    return signing.dumps(payload, salt=SALT, compress=True)


def read(token: str) -> dict | None:
    """{"store", "service", "member"} from a valid token, or None (tampered, or a member's link expired)."""
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int):
        return None
    if payload.get("m") is not None:
        try:
            signing.loads(token, salt=SALT, max_age=MEMBER_LINK_DAYS * 86400)
        except signing.BadSignature:
            return None
    return {"store": payload["s"], "service": payload.get("v"), "member": payload.get("m")}
