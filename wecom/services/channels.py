"""Channel codes ("contact me" codes with a `state`) per store, staff member or campaign, their QR
images and their counts.

A code is written in Siyu first (the row, its generated `state`, an empty config_id: the intent) and
created in WeCom by a worker (`push_code`), which holds the row's lock and, before calling
add_contact_way again, reads WeCom's contact ways back by state, so a retried task never makes two.
Edits are sent with update_contact_way, a deactivated code is deleted with del_contact_way (the row
stays, with its counts). Counts come from the follow relations carrying the code's state.

Who manages codes: operators every code; store managers their store's (`wecom_channel_codes:write`
within their store); clerks none.
"""

from __future__ import annotations

import io
import logging
import secrets
from datetime import timedelta

import segno
from django.db import IntegrityError, transaction
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Tag
from scrm.errors import Forbidden, InvalidInput, NotInScope
from scrm.permissions import has_scope
from scrm.scoping import access_for, scope
from wecom.client import errors, get_client
from wecom.models import ChannelCode, ChannelPurpose, WecomFollow, WecomStaff
from wecom.services.welcome import placeholder_errors

logger = logging.getLogger(__name__)

WELCOME_MAX_BYTES = 4000
NAME_MAX = ChannelCode._meta.get_field("name").max_length
REMARK_MAX = 30  # WeCom's remark of a contact way
STAFF_MAX = 100  # user[] of one contact way
PREFIX = {ChannelPurpose.STORE: "s", ChannelPurpose.STAFF: "p", ChannelPurpose.CAMPAIGN: "c"}
FIELDS = ("name", "purpose", "store", "staff", "tags", "welcome_enabled", "welcome_text", "skip_verify")


def can_manage_codes(actor) -> bool:
    return has_scope(actor, "wecom_channel_codes:write")


def can_see_codes(actor) -> bool:
    return has_scope(actor, "wecom_channel_codes:read")


def _check_store(actor, store) -> None:
    access = access_for(actor)
    if not access.all_stores and (store is None or store.pk != access.store_id):
        raise NotInScope(details={"store": [_("Codes of your own store only.")]})


def new_state(purpose: str, store) -> str:
    """e.g. "s:SH01:7f3a9c": purpose, store code (HQ for none), random; at most 30 characters."""
    where = (store.code if store is not None else "HQ")[:18]
    return f"{PREFIX.get(purpose, 'c')}:{where}:{secrets.token_hex(3)}"


def _clean(data: dict, *, actor, code: ChannelCode | None) -> dict:
    """The fields as the model takes them, or InvalidInput naming each bad one."""
    errors_: dict[str, list] = {}
    cleaned = {}
    name = str(data.get("name", code.name if code else "") or "").strip()
    if not name or len(name) > NAME_MAX:
        errors_["name"] = [_("A name of 1 to %(max)d characters.") % {"max": NAME_MAX}]
    cleaned["name"] = name
    purpose = data.get("purpose", code.purpose if code else ChannelPurpose.STORE)
    if purpose not in ChannelPurpose.values:
        errors_["purpose"] = [_("One of: %(choices)s.") % {"choices": ", ".join(ChannelPurpose.values)}]
    cleaned["purpose"] = purpose
    store = data.get("store", code.store if code else None)
    cleaned["store"] = store
    if store is None and purpose != ChannelPurpose.CAMPAIGN:
        errors_["store"] = [_("A store or staff code belongs to a store.")]
    staff = list(data.get("staff", code.staff.all() if code else []))
    if not staff:
        errors_["staff"] = [_("Choose at least one WeCom staff member.")]
    elif len(staff) > STAFF_MAX:
        errors_["staff"] = [_("At most %(max)d staff members.") % {"max": STAFF_MAX}]
    elif purpose == ChannelPurpose.STAFF and len(staff) != 1:
        errors_["staff"] = [_("A staff code has exactly one staff member.")]
    elif store is not None and any(s.store_id != store.pk for s in staff):
        errors_["staff"] = [_("Choose staff of the code's store.")]
    cleaned["staff"] = staff
    cleaned["tags"] = [t for t in data.get("tags", code.tags.all() if code else []) if t.rule is None]
    text = str(data.get("welcome_text", code.welcome_text if code else "") or "")
    if len(text.encode()) > WELCOME_MAX_BYTES:
        errors_["welcome_text"] = [
            _("At most %(max)d bytes (a Chinese character takes 3).") % {"max": WELCOME_MAX_BYTES}
        ]
    elif placeholder_errors(text):
        errors_["welcome_text"] = placeholder_errors(text)
    cleaned["welcome_text"] = text
    cleaned["welcome_enabled"] = bool(data.get("welcome_enabled", code.welcome_enabled if code else False))
    if cleaned["welcome_enabled"] and not text.strip():
        errors_["welcome_text"] = [_("Write the welcome message, or turn it off.")]
    cleaned["skip_verify"] = bool(data.get("skip_verify", code.skip_verify if code else True))
    if errors_:
        raise InvalidInput(details=errors_)
    return cleaned


def _require(actor, store) -> None:
    if not can_manage_codes(actor):
        raise Forbidden(_("Channel codes are managed by operators and store managers."))
    _check_store(actor, store)


@transaction.atomic
def create_code(*, actor, data: dict) -> ChannelCode:
    """Write the code (the intent) and queue its creation in WeCom."""
    if not can_manage_codes(actor):
        raise Forbidden(_("Channel codes are managed by operators and store managers."))
    cleaned = _clean(data, actor=actor, code=None)
    _check_store(actor, cleaned["store"])
    staff, tags = cleaned.pop("staff"), cleaned.pop("tags")
    user = actor if getattr(actor, "api_key", None) is None and getattr(actor, "pk", None) else None
    for _attempt in range(5):
        try:
            with transaction.atomic():
                code = ChannelCode.objects.create(
                    **cleaned, state=new_state(cleaned["purpose"], cleaned["store"]), created_by=user
                )
            break
        except IntegrityError:  # the random part collided with another code's state
            continue
    else:
        raise InvalidInput(details={"state": [_("Could not make a unique state; try again.")]})
    code.staff.set(staff)
    code.tags.set(tags)
    _queue(code.pk)
    return code


@transaction.atomic
def update_code(*, code: ChannelCode, actor, data: dict) -> ChannelCode:
    code = ChannelCode.objects.select_for_update().get(pk=code.pk)
    _require(actor, code.store)
    cleaned = _clean(data, actor=actor, code=code)
    _check_store(actor, cleaned["store"])
    staff, tags = cleaned.pop("staff"), cleaned.pop("tags")
    for name, value in cleaned.items():
        setattr(code, name, value)
    code.updated_at = timezone.now()
    code.save()
    code.staff.set(staff)
    code.tags.set(tags)
    _queue(code.pk)
    return code


@transaction.atomic
def deactivate_code(*, code: ChannelCode, actor) -> ChannelCode:
    code = ChannelCode.objects.select_for_update().get(pk=code.pk)
    _require(actor, code.store)
    if code.is_active:
        code.is_active, code.updated_at = False, timezone.now()
        code.save(update_fields=["is_active", "updated_at"])
        _queue(code.pk)
    return code


def _queue(code_id: int) -> None:
    from wecom.tasks import channels as tasks

    transaction.on_commit(lambda: tasks.push_code.delay(code_id))


# --- WeCom's side --------------------------------------------------------------------------------


def _contact_way(code: ChannelCode, userids: list[str]) -> dict:
    return {
        "type": 1 if len(userids) == 1 else 2,
        "scene": 2,
        "remark": code.name[:REMARK_MAX],
        "skip_verify": code.skip_verify,
        "state": code.state,
        "user": userids,
    }


def find_by_state(client, code: ChannelCode) -> dict | None:
    """The contact way WeCom holds with this code's state, read back (list_contact_way since just
    before the row was written, then get_contact_way each), or None."""
    start = int((code.created_at - timedelta(minutes=5)).timestamp())
    end = int((timezone.now() + timedelta(minutes=5)).timestamp())
    body = {"start_time": start, "end_time": end, "limit": 100}
    for page in client.pages("externalcontact/list_contact_way", body, cursor_field="cursor",
                             next_field="next_cursor"):
        for item in page.get("contact_way") or []:
            way = client.post("externalcontact/get_contact_way", {"config_id": item["config_id"]})
            if (way.get("contact_way") or {}).get("state") == code.state:
                return way["contact_way"]
    return None


def push_code(*, code_id: int, client=None) -> ChannelCode | None:
    """Bring WeCom in line with the row: create (exactly once), update, or delete its contact way.
    Holds the row's lock across the call, so two deliveries of the task run one after the other.
    Rate limits and outages raise (the task retries later); refusals are kept in `sync_error`."""
    client = client or get_client()
    with transaction.atomic():
        code = ChannelCode.objects.select_for_update().filter(pk=code_id).first()
        if code is None:
            return None
        userids = list(code.staff.order_by("userid").values_list("userid", flat=True))
        try:
            if not code.is_active:
                if code.config_id:
                    client.post("externalcontact/del_contact_way", {"config_id": code.config_id})
                    code.config_id, code.qr_code = "", ""
            elif code.config_id:
                body = _contact_way(code, userids)
                body.pop("type"), body.pop("scene")
                client.post("externalcontact/update_contact_way", {"config_id": code.config_id, **body})
            else:
                found = find_by_state(client, code)
                if found is None:
                    found = client.post("externalcontact/add_contact_way", _contact_way(code, userids))
                code.config_id, code.qr_code = found["config_id"], found.get("qr_code") or ""
            code.sync_error = ""
        except (errors.RateLimited, errors.Unavailable):
            raise
        except errors.WecomError as exc:
            code.sync_error = str(exc)[:300]
        code.save(update_fields=["config_id", "qr_code", "sync_error"])
        return code


# --- reading: counts and QR -----------------------------------------------------------------------


def _count(**conditions):
    follows = WecomFollow.objects.filter(state=OuterRef("state"), **conditions).order_by().values("state")
    return Coalesce(
        Subquery(follows.annotate(n=Count("pk")).values("n")[:1], output_field=IntegerField()), Value(0)
    )


def with_counts(queryset: QuerySet) -> QuerySet:
    """Codes with `added` (every contact that came through the state), `following` (still a contact),
    `churned`, `added_7d` and `added_30d`, in the list's one query."""
    now = timezone.now()
    return queryset.annotate(
        added=_count(),
        following=_count(deleted_at__isnull=True),
        churned=_count(deleted_at__isnull=False),
        added_7d=_count(added_at__gte=now - timedelta(days=7)),
        added_30d=_count(added_at__gte=now - timedelta(days=30)),
    )


def visible_codes(actor) -> QuerySet:
    return with_counts(ChannelCode.objects.visible_to(actor).select_related("store"))


def staff_choices(actor, store=None) -> QuerySet:
    staff = scope(WecomStaff.objects.filter(status="active", follow_enabled=True), actor)
    return staff.filter(store=store) if store is not None else staff


def tag_choices() -> QuerySet:
    return Tag.objects.select_related("group").filter(rule__isnull=True)


def code_link(code: ChannelCode) -> str:
    """What the poster QR encodes: the code's image link in WeCom (scanning it opens the code)."""
    return code.qr_code


def qr_image(code: ChannelCode, *, kind: str) -> bytes:
    """The code's link as a QR image for posters: "png" or "svg"."""
    link = code_link(code)
    if not link:
        raise InvalidInput(_("WeCom has not created this code yet."), code="not_ready")
    qr = segno.make(link, error="m")
    out = io.BytesIO()
    if kind == "svg":
        qr.save(out, kind="svg", scale=10, border=4, xmldecl=True)
    else:
        qr.save(out, kind="png", scale=12, border=4)
    return out.getvalue()


def seed_demo(*, actor) -> int:
    """For the demo: one store code per store that has WeCom staff ("<store> · 到店扫码"), created
    in WeCom by the worker like any other. Idempotent: a store that has its code gets no second."""
    from scrm.models import Store

    made = 0
    for store in Store.objects.order_by("code"):
        staff = list(WecomStaff.objects.filter(store=store, status="active", follow_enabled=True)[:STAFF_MAX])
        name = f"{store.name} · 到店扫码"[:NAME_MAX]
        if staff and not ChannelCode.objects.filter(store=store, name=name).exists():
            create_code(actor=actor, data={"name": name, "purpose": ChannelPurpose.STORE, "store": store,
                                           "staff": staff, "welcome_enabled": True,
                                           "welcome_text": f"欢迎来到{store.name}！回复“会员”了解积分与礼遇。"})
            made += 1
    return made
