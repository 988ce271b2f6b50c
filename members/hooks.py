"""What other apps do when member identities appear, without members importing them (orders links
the purchases of a buyer who was not known yet). Apps register from their AppConfig.ready():

    from members import hooks
    hooks.on_identities_added(lambda identity_ids: link_soon(identity_ids))

The member services call `identities_added()` inside their transaction; callbacks run after commit
(`transaction.on_commit`, dropped with a rolled-back savepoint), so they see the committed rows and
usually just queue a Celery task with the ids. Identities written in bulk by file imports are not
reported one by one: apps that care sweep for them periodically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import transaction

IdentitiesAdded = Callable[[list[int]], None]
_CALLBACKS: list[IdentitiesAdded] = []


def on_identities_added(callback: IdentitiesAdded) -> None:
    if callback not in _CALLBACKS:
        _CALLBACKS.append(callback)


def identities_added(*, identity_ids: Iterable[int]) -> None:
    identity_ids = sorted({int(i) for i in identity_ids})
    if not identity_ids:
        return
    for callback in list(_CALLBACKS):
        transaction.on_commit(lambda cb=callback: cb(identity_ids))


# --- tags added or removed -------------------------------------------------------------------------
#
# The tag services report the (member_id, tag_id) pairs they added and removed, with the source
# (members.models.TagSource) of the change, after commit:
#
#     hooks.on_tags_changed(lambda added, removed, source: ...)
#
# Tags written from a queryset (a segment, millions of members) are not reported one by one, nor
# are rule tags' refreshes; lists of ids, one member's tags and upserts (imports too) are.

TagPair = tuple[int, int]
TagsChanged = Callable[[list[TagPair], list[TagPair], str], None]
_TAG_CALLBACKS: list[TagsChanged] = []


def on_tags_changed(callback: TagsChanged) -> None:
    if callback not in _TAG_CALLBACKS:
        _TAG_CALLBACKS.append(callback)


def listening_for_tags() -> bool:
    return bool(_TAG_CALLBACKS)


def tags_changed(*, added: Iterable[TagPair] = (), removed: Iterable[TagPair] = (), source: str) -> None:
    added = sorted({(int(m), int(t)) for m, t in added})
    removed = sorted({(int(m), int(t)) for m, t in removed})
    if not added and not removed:
        return
    for callback in list(_TAG_CALLBACKS):
        transaction.on_commit(lambda cb=callback: cb(added, removed, source))
