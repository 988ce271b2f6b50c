"""Bulk actions of the member list: a tag added to or removed from the rows a user chose or every
member the list matches, set-based through the tag services, confirmed with the exact count and
safe to retry.

The confirmation names a count; the action runs only if the set still has that many members (else a
Conflict says how many it has now). Each confirmation carries a token: the first request with it is
carried out and its result kept (in scrm's idempotency table, keyed by the user), a retry answers
that result again and changes nothing, and the same token with another action is refused."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member, Tag
from members.services import tags as tags_service
from scrm import actors
from scrm.errors import Conflict, InvalidInput
from scrm.models import IdempotencyKey
from scrm.scoping import scope

ACTIONS = ("add_tag", "remove_tag")
TOKEN_MAX = IdempotencyKey._meta.get_field("key").max_length
_PATH = "dashboard:members/bulk"


@dataclass(frozen=True)
class BulkResult:
    action: str
    tag_id: int
    tag_name: str
    members: int  # the confirmed set
    changed: int  # members tagged (or untagged) now
    replaced: int = 0  # other tags of a single-choice group removed
    replayed: bool = False


def selection_count(members, actor) -> int:
    """How many live members the actor may reach in `members` (ids or a Member queryset)."""
    if isinstance(members, QuerySet):
        return scope(Member.live.filter(pk__in=members.order_by().values("pk")), actor).count()
    return scope(Member.live.filter(pk__in=list(members)), actor).count()


def _fingerprint(action: str, tag: Tag, selection: str) -> str:
    return hashlib.sha256(json.dumps([action, tag.pk, selection]).encode()).hexdigest()


def _claim(actor, token: str, fingerprint: str) -> IdempotencyKey | None:
    """Insert the token's row (blocking on a concurrent request with the same token until it ends);
    None when this request runs the action, else the earlier request's row."""
    credential = f"user:{getattr(actors.actor_user(actor), 'pk', None)}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {IdempotencyKey._meta.db_table} "
            "(credential, key, method, path, body_hash, response_status, response_body, created_at) "
            "VALUES (%s, %s, 'POST', %s, %s, 0, '', %s) ON CONFLICT (credential, key) DO NOTHING RETURNING id",
            [credential, token, _PATH, fingerprint, timezone.now()],
        )
        claimed = cursor.fetchone()
    if claimed is not None:
        return None
    return IdempotencyKey.objects.get(credential=credential, key=token)


@transaction.atomic
def tag_selection(*, actor, action: str, tag: Tag, members, expected: int, token: str, selection: str) -> BulkResult:
    """Add (`add_tag`) or remove (`remove_tag`) `tag` for `members` (ids, or the list's queryset),
    which the user confirmed as `expected` members. `selection` describes the set for the token
    (the ids or the list's query), so a token cannot be reused for another set."""
    if action not in ACTIONS:
        raise InvalidInput(details={"action": [_("Choose add a tag or remove a tag.")]})
    if not isinstance(token, str) or not 8 <= len(token) <= TOKEN_MAX:
        raise InvalidInput(details={"token": [_("The confirmation is missing; review the action again.")]})
    earlier = _claim(actor, token, _fingerprint(action, tag, selection))
    if earlier is not None:
        if earlier.body_hash != _fingerprint(action, tag, selection):
            raise Conflict(
                _("This confirmation was used for another action; review the action again."), code="token_reused"
            )
        return BulkResult(**{**json.loads(earlier.response_body), "replayed": True})
    count = selection_count(members, actor)
    if count != expected:
        raise Conflict(
            _("The selection now has %(count)d members, not the %(expected)d you confirmed; review it again.")
            % {"count": count, "expected": expected},
            details={"members": [count]},
            code="selection_changed",
        )
    run = tags_service.tag_members if action == "add_tag" else tags_service.untag_members
    done = run(tag=tag, members=members, actor=actor)
    result = BulkResult(
        action=action, tag_id=tag.pk, tag_name=tag.name, members=count, changed=done.changed, replaced=done.replaced
    )
    IdempotencyKey.objects.filter(credential=f"user:{getattr(actors.actor_user(actor), 'pk', None)}", key=token).update(
        response_status=200, response_body=json.dumps(asdict(result))
    )
    return result
