"""Service notes: what a store learned serving a member, on the member's timeline."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member, NoteKind, ServiceNote
from scrm import actors
from scrm.errors import Forbidden, InvalidInput
from scrm.scoping import access_for

BODY_MAX = ServiceNote._meta.get_field("body").max_length


def _check(body, kind) -> dict:
    errors = {}
    if not isinstance(body, str) or not body.strip():
        errors["body"] = [_("This field is required.")]
    elif len(body) > BODY_MAX:
        errors["body"] = [_("At most %(max)d characters.") % {"max": BODY_MAX}]
    if kind not in NoteKind.values:
        errors["kind"] = [_("%(value)s is not one of: %(choices)s.")
                          % {"value": kind, "choices": ", ".join(NoteKind.values)}]
    return errors


@transaction.atomic
def add_note(*, member: Member, body: str, kind: str = NoteKind.NOTE, pinned: bool = False, actor) -> ServiceNote:
    errors = _check(body, kind)
    if not isinstance(pinned, bool):
        errors["pinned"] = [_("Expected true or false.")]
    if errors:
        raise InvalidInput(details=errors)
    if not member.is_live:
        raise InvalidInput(details={"member": [_("This member was merged or erased.")]})
    access = access_for(actor)
    return ServiceNote.objects.create(
        member=member,
        author=actors.actor_user(actor),
        author_label=actors.actor_label(actor),
        store_id=access.store_id or member.home_store_id,
        kind=kind,
        body=body.strip(),
        pinned=pinned,
        created_at=timezone.now(),
    )


@transaction.atomic
def update_note(*, note: ServiceNote, actor, pinned: bool | None = None, body: str | None = None,
                kind: str | None = None) -> ServiceNote:
    """Pin or unpin (anyone who sees the member); change the text (its author, or brand-wide staff)."""
    fields = []
    if body is not None or kind is not None:
        user = actors.actor_user(actor)
        if not access_for(actor).all_stores and (user is None or note.author_id != user.pk):
            raise Forbidden(_("Only the author can change a note's text."))
        errors = _check(body if body is not None else note.body, kind if kind is not None else note.kind)
        if errors:
            raise InvalidInput(details=errors)
        if body is not None:
            note.body = body.strip()
            fields.append("body")
        if kind is not None:
            note.kind = kind
            fields.append("kind")
    if pinned is not None:
        if not isinstance(pinned, bool):
            raise InvalidInput(details={"pinned": [_("Expected true or false.")]})
        note.pinned = pinned
        fields.append("pinned")
    if fields:
        note.save(update_fields=fields)
    return note
