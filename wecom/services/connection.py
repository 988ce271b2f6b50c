"""The connection to the corp: who may manage it, its health (ConnectionState, one row) and the
operator's "test connection"."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext_lazy as _

from scrm.errors import Forbidden
from wecom.client import errors
from wecom.models import CallbackEvent, ConnectionState

CALLBACK_PATH = "/wecom/callback/"
# The settings the connection page reports as set or missing (never their values).
SETTING_NAMES = ("WECOM_CORP_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY", "WECOM_AGENT_ID")
CREDENTIAL_NAMES = SETTING_NAMES[:4]
REAL_API_BASE = "https://qyapi.weixin.qq.com"
STATE_PK = 1


def can_manage_wecom(actor) -> bool:
    """The connection, its syncs and its events are the brand's: operators, and brand-wide API keys
    (holding the `wecom` scope, which the API checks); never a key bound to one store."""
    if getattr(actor, "is_operator", False):
        return True
    api_key = getattr(actor, "api_key", None)
    return api_key is not None and api_key.store_id is None


def mode() -> str:
    """ "local" (the local WeCom server), "corp" (the brand's real corp) or "" (nothing configured)."""
    if not settings.WECOM_CORP_ID or not settings.WECOM_SECRET:
        return ""
    return "corp" if settings.WECOM_API_BASE.rstrip("/") == REAL_API_BASE else "local"


MODE_LABELS = {
    "local": _("Local WeCom server (demo)"),
    "corp": _("The brand's corp"),
    "": _("Not configured"),
}


def record_health(*, mode: str, **fields) -> None:
    """Write what the client saw into the one ConnectionState row (created on first use)."""
    with transaction.atomic():
        if not ConnectionState.objects.filter(pk=STATE_PK).update(mode=mode, **fields):
            state, _created = ConnectionState.objects.select_for_update().get_or_create(pk=STATE_PK)
            for name, value in {"mode": mode, **fields}.items():
                setattr(state, name, value)
            state.save()


def record_callback(*, at) -> None:
    """The callback endpoint saw a valid callback at ``at``."""
    if not ConnectionState.objects.filter(pk=STATE_PK).update(last_callback_at=at):
        ConnectionState.objects.get_or_create(pk=STATE_PK, defaults={"last_callback_at": at})


def health(*, actor) -> dict:
    """What the connection page and the API show: the mode, which settings are present, and the
    last token, OK call, error (with its meaning), rate-limit pause and callback."""
    if not can_manage_wecom(actor):
        raise Forbidden(_("Only operators manage the WeCom connection."))
    state = ConnectionState.objects.filter(pk=STATE_PK).first() or ConnectionState()
    last_callback = state.last_callback_at or CallbackEvent.objects.aggregate(at=Max("received_at"))["at"]
    current = mode()
    return {
        "mode": current,
        "mode_label": str(MODE_LABELS[current]),
        "corp_id": settings.WECOM_CORP_ID,
        "api_base": settings.WECOM_API_BASE,
        "settings": {name: bool(getattr(settings, name, "")) for name in SETTING_NAMES},
        "token_fetched_at": state.token_fetched_at,
        "last_ok_at": state.last_ok_at,
        "last_error_at": state.last_error_at,
        "last_errcode": state.last_errcode,
        "last_error_meaning": errors.meaning(state.last_errcode) if state.last_error_at else "",
        "last_error_path": state.last_error_path,
        "rate_limited_until": state.rate_limited_until,
        "last_callback_at": last_callback,
        "callback_path": CALLBACK_PATH,
    }


def test_connection(*, actor) -> dict:
    """Fetch a fresh token and list the staff with customer contact enabled: what the operator's
    "test connection" shows. Never raises for a WeCom failure; it is the answer."""
    if not can_manage_wecom(actor):
        raise Forbidden(_("Only operators manage the WeCom connection."))
    from wecom.client import get_client

    started = time.monotonic()
    result = {"ok": False, "staff": None, "errcode": None, "message": "", "elapsed_ms": 0}
    try:
        client = get_client()
        # Drop the cached token so the test proves the corp id and secret, not yesterday's token.
        cached = client.tokens.cached()
        if cached:
            client.tokens.drop(cached)
        client.tokens.get()
        answer = client.get("externalcontact/get_follow_user_list")
    except errors.NotConfigured:
        result["message"] = str(_("WeCom is not configured: set WECOM_CORP_ID and WECOM_SECRET."))
    except errors.WecomError as exc:
        result["errcode"] = exc.errcode
        result["message"] = errors.meaning(exc.errcode) if exc.errcode is not None else exc.errmsg
    else:
        result["ok"] = True
        result["staff"] = len(answer.get("follow_user") or [])
    result["elapsed_ms"] = round((time.monotonic() - started) * 1000)
    return result
