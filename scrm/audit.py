"""The audit log's one way to change rows already written: scrubbing a member's entries for an
erasure. Everything else about the audit log is append-only, enforced by a database trigger
(migration scrm 0003): the admin, the ORM and raw SQL get an error on UPDATE or DELETE.

Usage, inside the erasure's transaction (members.services.privacy.erase_member)::

    from scrm.audit import scrub_member
    scrub_member(member.pk)

The entries about that member (object members.member / its id) keep their time, action, actor and
store; their `detail` becomes {"scrubbed": true} and their `ip` is cleared. The erasure's own entry
is left as written (it is the proof the erasure happened and names no personal data), and so is
any entry written later in the same transaction."""

from __future__ import annotations

from django.db import connection, transaction

from scrm.models import AuditLog

MEMBER_OBJECT_TYPE = "members.member"
KEPT_ACTIONS = ("member.erase",)


def scrub_member(member_id: int, *, keep_actions: tuple[str, ...] = KEPT_ACTIONS) -> int:
    """Blank the details and addresses of a member's audit entries; returns how many changed.

    The trigger's permission is a transaction-local setting naming this member, set just before and
    cleared just after the one UPDATE, so nothing else in the transaction can use it."""
    member_id = int(member_id)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('siyu.audit_scrub_member', %s, true)", [str(member_id)])
        try:
            changed = (
                AuditLog.objects.filter(object_type=MEMBER_OBJECT_TYPE, object_id=str(member_id))
                .exclude(action__in=keep_actions)
                .exclude(detail={"scrubbed": True}, ip=None)
                .update(detail={"scrubbed": True}, ip=None)
            )
        finally:
            cursor.execute("SELECT set_config('siyu.audit_scrub_member', '', true)")
    return changed
