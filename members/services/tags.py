"""Tags: the vocabulary (groups and tags, brand-wide) and tagging members, one or millions at a time.

Tagging is set-based (INSERT ... SELECT ... ON CONFLICT DO NOTHING / DELETE ... WHERE member_id IN),
records who added each tag and how (and, on the member's timeline, who removed it), replaces a
member's other tag of a single-choice group in the same transaction, and refuses rule tags (the
segments engine keeps those current)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from members import hooks
from members import sql as msql
from members.models import Member, MemberTag, Tag, TagGroup, TagSource
from scrm import actors, events
from scrm.errors import Conflict, InvalidInput, NotInScope
from scrm.permissions import require_write
from scrm.scoping import scope

MAX_IDS = 10_000  # per request; larger sets are tagged from a queryset (a segment)
_GROUP_LOCK = 0x5359  # first key of the advisory locks that serialise tagging in a single-choice group


@dataclass(frozen=True)
class TagResult:
    tag_id: int
    changed: int  # members tagged (or untagged) now; those already so are not counted
    replaced: int = 0  # other tags of a single-choice group removed


def _require_manual(tag: Tag, source: str) -> None:
    if tag.is_rule and source != TagSource.RULE:
        raise InvalidInput(
            _("%(tag)s is a rule tag: its rule decides who carries it, it cannot be added or removed by hand.")
            % {"tag": tag.name},
            details={"tag": [_("Tag %(id)s (%(name)s) is kept by its rule.") % {"id": tag.pk, "name": tag.name}]},
            code="rule_tag",
        )
    if source not in TagSource.values:
        raise ValueError(f"unknown tag source {source!r}")


def clean_tag_ids(raw, *, field: str = "tags") -> list[int]:
    if not isinstance(raw, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in raw):
        raise InvalidInput(details={field: [_("Expected a list of ids.")]})
    return list(dict.fromkeys(raw))


def fetch_tags(ids) -> dict[int, Tag]:
    """Tags by id with their group, one query."""
    return {t.pk: t for t in Tag.objects.select_related("group").filter(pk__in=list(set(ids)))}


def check_tags(ids, found: dict[int, Tag], *, source: str) -> list[str]:
    """Messages for unknown ids, rule tags (unless the rule itself tags) and two tags of one
    single-choice group among `ids`."""
    errors = [_("Unknown tag %(id)s.") % {"id": i} for i in ids if i not in found]
    chosen = [found[i] for i in ids if i in found]
    for tag in chosen:
        if tag.is_rule and source != TagSource.RULE:
            errors.append(_("Tag %(id)s (%(name)s) is kept by its rule.") % {"id": tag.pk, "name": tag.name})
    by_group: dict[int, list[Tag]] = {}
    for tag in chosen:
        if not tag.group.multiple:
            by_group.setdefault(tag.group_id, []).append(tag)
    for tags in by_group.values():
        if len(tags) > 1:
            errors.append(
                _("%(group)s is single-choice: choose one of %(tags)s.")
                % {"group": tags[0].group.name, "tags": ", ".join(t.name for t in tags)}
            )
    return errors


def _lock_single_groups(group_ids: Iterable[int]) -> None:
    ids = sorted(set(group_ids))
    if ids:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_advisory_xact_lock(%s, g::int)) FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(g, n)",
                [_GROUP_LOCK, ids],
            )


def _members_sql(members, actor) -> tuple[str, list, list[int] | None]:
    """(sql yielding `id`, params, the ids asked for) for a list of ids or a Member queryset, scoped
    to the actor. Ids the actor cannot reach are a NotInScope error naming them."""
    if isinstance(members, QuerySet):
        queryset = scope(members.model.live.filter(pk__in=members.values("pk")), actor)
        sql, params = queryset.order_by().values("id").query.sql_with_params()
        return sql, list(params), None
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in members):
        raise InvalidInput(details={"members": [_("Expected a list of member ids.")]})
    ids = list(dict.fromkeys(members))
    if len(ids) > MAX_IDS:
        raise InvalidInput(details={"members": [_("At most %(max)d members at a time.") % {"max": MAX_IDS}]})
    found = set(scope(Member.live.filter(pk__in=ids), actor).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotInScope(
            _("These members do not exist or are not yours to change."), details={"members": missing}
        )
    return "SELECT unnest(%s::bigint[]) AS id", [ids], ids


TAG_ADDED, TAG_REMOVED = "member.tag_added", "member.tag_removed"


def tag_event_select(rows: str) -> str:
    """SELECT (member_id, store_id, data) of the member.tag_added / member.tag_removed events of
    `rows`, a relation of (member_id, tag_id) pairs: the tag's id, name and group, the member's store."""
    return f"""SELECT x.member_id, m.home_store_id,
        jsonb_build_object('tag', jsonb_build_object('id', t.id, 'name', t.name,
                                                     'group', jsonb_build_object('id', g.id, 'name', g.name)))
        FROM {rows} x JOIN {msql.MEMBER} m ON m.id = x.member_id JOIN {msql.TAG} t ON t.id = x.tag_id
        JOIN {msql.TAG_GROUP} g ON g.id = t.group_id
        ORDER BY x.member_id, x.tag_id"""


def _insert_with_events(cursor, insert_sql: str, params: list, *, fetch: bool):
    """Run an INSERT of member tags (RETURNING member_id, tag_id) and record member.tag_added for
    each row it added, in the same statement. Returns the (member_id, tag_id) pairs, or with
    fetch=False only how many (a segment's millions stay in PostgreSQL)."""
    ev, ev_params = events.insert_sql(TAG_ADDED, tag_event_select("added"))
    tail = "SELECT member_id, tag_id FROM added" if fetch else "SELECT count(*) FROM added"
    cursor.execute(f"WITH added AS ({insert_sql}), ev AS ({ev}) {tail}", [*params, *ev_params])
    return cursor.fetchall() if fetch else cursor.fetchone()[0]


def _delete_recording(cursor, delete_sql: str, params: list, *, actor, now, source: str = "") -> int:
    """Run a DELETE of members_membertag rows (aliased mt) and record one 'tag removed' event per row
    removed, in the same statement, for the member's timeline and the event log (member.tag_removed).
    Returns the rows removed; with a `source`, the pairs removed are reported to
    members.hooks.on_tags_changed."""
    user, label = actors.actor_user(actor), actors.actor_label(actor)
    ev, ev_params = events.insert_sql(TAG_REMOVED, tag_event_select("gone"))
    cursor.execute(
        f"""WITH gone AS ({delete_sql} RETURNING mt.member_id, mt.tag_id, mt.source, mt.added_at),
        ev AS ({ev})
        INSERT INTO members_memberevent (member_id, kind, data, actor_id, actor_label, created_at)
        SELECT gone.member_id, 'tag_removed',
               jsonb_build_object('tag', gone.tag_id, 'name', g.name || ' · ' || t.name, 'source', gone.source,
                                  'added_at', gone.added_at),
               %s, %s, %s
        FROM gone JOIN members_tag t ON t.id = gone.tag_id JOIN members_taggroup g ON g.id = t.group_id
        {"RETURNING member_id, (data->>'tag')::bigint" if source else ""}""",
        [*params, *ev_params, getattr(user, "pk", None), label, now],
    )
    if not source:
        return cursor.rowcount
    removed = cursor.fetchall()
    hooks.tags_changed(removed=removed, source=source)
    return len(removed)


def apply_pairs(pairs, *, actor, source: str) -> int:
    """Tag (member_id, Tag) pairs, already checked; replaces other tags of single-choice groups.
    For callers holding a transaction (upserts). Returns the number of new rows."""
    pairs = list(dict.fromkeys((m, t.pk, t.group_id, t.group.multiple) for m, t in pairs))
    if not pairs:
        return 0
    _lock_single_groups(g for _m, _t, g, multiple in pairs if not multiple)
    user, label, now = actors.actor_user(actor), actors.actor_label(actor), timezone.now()
    with connection.cursor() as cursor:
        single = [(m, t) for m, t, _g, multiple in pairs if not multiple]
        if single:
            _delete_recording(
                cursor,
                """DELETE FROM members_membertag mt
                USING unnest(%s::bigint[], %s::bigint[]) AS v(member_id, tag_id), members_tag vt, members_tag t
                WHERE vt.id = v.tag_id AND mt.member_id = v.member_id AND t.id = mt.tag_id
                  AND t.group_id = vt.group_id AND mt.tag_id <> v.tag_id AND t.rule IS NULL""",
                [[m for m, _t in single], [t for _m, t in single]],
                actor=actor, now=now, source=source,
            )
        added = _insert_with_events(
            cursor,
            """INSERT INTO members_membertag (member_id, tag_id, source, added_by_id, added_by_label, added_at)
            SELECT v.member_id, v.tag_id, %s, %s, %s, %s
            FROM unnest(%s::bigint[], %s::bigint[]) AS v(member_id, tag_id)
            ORDER BY 1, 2
            ON CONFLICT (member_id, tag_id) DO NOTHING
            RETURNING member_id, tag_id""",
            [source, getattr(user, "pk", None), label, now, [p[0] for p in pairs], [p[1] for p in pairs]],
            fetch=True,
        )
        hooks.tags_changed(added=added, source=source)
        return len(added)


@transaction.atomic
def tag_members(*, tag: Tag, members, actor, source: str = TagSource.BULK) -> TagResult:
    """Add `tag` to members (a list of ids, or a Member queryset such as a segment's). With ids, any
    the actor cannot reach makes the whole call a NotInScope error naming them, and nothing is written."""
    tag = Tag.objects.select_related("group").get(pk=tag.pk)
    _require_manual(tag, source)
    member_sql, params, ids = _members_sql(members, actor)
    report = source if ids is not None else ""  # a queryset's members are not reported one by one
    user, label, now = actors.actor_user(actor), actors.actor_label(actor), timezone.now()
    replaced = 0
    with connection.cursor() as cursor:
        if not tag.group.multiple:
            _lock_single_groups([tag.group_id])
            replaced = _delete_recording(
                cursor,
                f"""DELETE FROM members_membertag mt USING members_tag t
                WHERE t.id = mt.tag_id AND t.group_id = %s AND mt.tag_id <> %s AND t.rule IS NULL
                  AND mt.member_id IN ({member_sql})""",
                [tag.group_id, tag.pk, *params],
                actor=actor, now=now, source=report,
            )
        added = _insert_with_events(
            cursor,
            f"""INSERT INTO members_membertag (member_id, tag_id, source, added_by_id, added_by_label, added_at)
            SELECT m.id, %s, %s, %s, %s, %s FROM ({member_sql}) AS m ORDER BY 1
            ON CONFLICT (member_id, tag_id) DO NOTHING RETURNING member_id, tag_id""",
            [tag.pk, source, getattr(user, "pk", None), label, now, *params],
            fetch=bool(report),
        )
        if not report:
            return TagResult(tag_id=tag.pk, changed=added, replaced=replaced)
        hooks.tags_changed(added=added, source=source)
        return TagResult(tag_id=tag.pk, changed=len(added), replaced=replaced)


@transaction.atomic
def untag_members(*, tag: Tag, members, actor, source: str = TagSource.BULK) -> TagResult:
    """Remove `tag` from members (ids or a queryset), with the same checks as tag_members."""
    tag = Tag.objects.select_related("group").get(pk=tag.pk)
    _require_manual(tag, source)
    member_sql, params, ids = _members_sql(members, actor)
    with connection.cursor() as cursor:
        removed = _delete_recording(
            cursor, f"DELETE FROM members_membertag mt WHERE mt.tag_id = %s AND mt.member_id IN ({member_sql})",
            [tag.pk, *params], actor=actor, now=timezone.now(), source=source if ids is not None else "",
        )
        return TagResult(tag_id=tag.pk, changed=removed)


@transaction.atomic
def tag_member(*, member: Member, tag_ids, actor, source: str = TagSource.MANUAL) -> int:
    """Add several tags to one member (unknown or rule tags are an error naming them)."""
    ids = clean_tag_ids(tag_ids)
    tags = fetch_tags(ids)
    errors = check_tags(ids, tags, source=source)
    if errors:
        raise InvalidInput(details={"tags": errors})
    if not scope(Member.live.filter(pk=member.pk), actor).exists():
        raise NotInScope(details={"members": [member.pk]})
    return apply_pairs([(member.pk, tags[i]) for i in ids], actor=actor, source=source)


@transaction.atomic
def untag_member(*, member: Member, tag: Tag, actor, source: str = TagSource.MANUAL) -> int:
    return untag_members(tag=tag, members=[member.pk], actor=actor, source=source).changed


# --- the vocabulary ------------------------------------------------------------------------------


def _require_brand_wide(actor) -> None:
    require_write(actor, "tags")  # the brand's vocabulary: operators and brand-wide keys


def _members_with_several(group: TagGroup) -> int:
    return (
        MemberTag.objects.filter(tag__group=group)
        .values("member_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )


@transaction.atomic
def create_group(*, actor, name: str, description: str = "", multiple: bool = True, sort_order: int = 0) -> TagGroup:
    _require_brand_wide(actor)
    if TagGroup.objects.filter(name=name).exists():
        raise InvalidInput(details={"name": [_("A tag group with this name already exists.")]})
    return TagGroup.objects.create(name=name, description=description, multiple=multiple, sort_order=sort_order)


@transaction.atomic
def update_group(*, group: TagGroup, actor, **fields) -> TagGroup:
    """Rename, describe, reorder, or switch between single and multiple choice (to single only when
    no member carries two of its tags)."""
    _require_brand_wide(actor)
    unknown = set(fields) - {"name", "description", "multiple", "sort_order"}
    if unknown:
        raise TypeError(f"update_group() got unknown fields {sorted(unknown)}")
    group = TagGroup.objects.select_for_update().get(pk=group.pk)
    if "name" in fields and TagGroup.objects.filter(name=fields["name"]).exclude(pk=group.pk).exists():
        raise InvalidInput(details={"name": [_("A tag group with this name already exists.")]})
    if fields.get("multiple") is False and group.multiple:
        several = _members_with_several(group)
        if several:
            raise InvalidInput(details={"multiple": [
                _("%(count)d members carry several tags of this group; remove them first.") % {"count": several}
            ]})
    for name, value in fields.items():
        setattr(group, name, value)
    group.save()
    return group


@transaction.atomic
def delete_group(*, group: TagGroup, actor) -> None:
    _require_brand_wide(actor)
    if group.tags.exists():
        raise Conflict(_("Delete or move the group's tags first."), code="group_not_empty")
    group.delete()


@transaction.atomic
def create_tag(*, actor, group: TagGroup, name: str) -> Tag:
    _require_brand_wide(actor)
    if Tag.objects.filter(group=group, name=name).exists():
        raise InvalidInput(details={"name": [_("The group already has a tag with this name.")]})
    return Tag.objects.create(group=group, name=name, created_by=actors.actor_user(actor))


@transaction.atomic
def update_tag(*, tag: Tag, actor, **fields) -> Tag:
    """Rename a tag or move it to another group (into a single-choice group only when no member would
    then carry two of its tags)."""
    _require_brand_wide(actor)
    unknown = set(fields) - {"name", "group"}
    if unknown:
        raise TypeError(f"update_tag() got unknown fields {sorted(unknown)}")
    tag = Tag.objects.select_for_update().get(pk=tag.pk)
    group = fields.get("group", tag.group)
    name = fields.get("name", tag.name)
    if Tag.objects.filter(group=group, name=name).exclude(pk=tag.pk).exists():
        raise InvalidInput(details={"name": [_("The group already has a tag with this name.")]})
    if group.pk != tag.group_id and not group.multiple:
        clash = MemberTag.objects.filter(tag=tag, member__member_tags__tag__group=group).exists()
        if clash:
            raise InvalidInput(details={"group": [
                _("%(group)s is single-choice and members carry one of its tags and this one.") % {"group": group.name}
            ]})
    tag.group, tag.name = group, name
    tag.save()
    return tag


@transaction.atomic
def delete_tag(*, tag: Tag, actor) -> None:
    """Delete a tag and every member's use of it (each member who carried it hears member.tag_removed)."""
    _require_brand_wide(actor)
    _emit_removed_all(tag)
    tag.delete()


def _emit_removed_all(tag: Tag) -> int:
    """member.tag_removed for every member carrying `tag`, before the tag's rows go with it."""
    return events.emit_sql(TAG_REMOVED, tag_event_select(
        f"(SELECT member_id, tag_id FROM {msql.MEMBER_TAG} WHERE tag_id = %s)"), [tag.pk])


@transaction.atomic
def merge_tags(*, source: Tag, target: Tag, actor) -> TagResult:
    """Fold `source` into `target`: every member carrying `source` carries `target` (keeping who added
    it and when), then `source` is deleted. Rule tags are kept by their rules and cannot be merged;
    into a single-choice group only when no member would then carry two of its tags."""
    _require_brand_wide(actor)
    if source.pk == target.pk:
        raise InvalidInput(details={"target": [_("Choose another tag to merge into.")]})
    locked = {t.pk: t for t in Tag.objects.select_for_update().select_related("group")
              .filter(pk__in=[source.pk, target.pk]).order_by("pk")}
    if len(locked) != 2:
        raise NotInScope(_("One of the tags was deleted meanwhile."))
    source, target = locked[source.pk], locked[target.pk]
    if source.is_rule or target.is_rule:
        raise InvalidInput(details={"target": [_("Rule tags are kept by their rules and cannot be merged.")]},
                           code="rule_tag")
    if not target.group.multiple:
        clash = MemberTag.objects.filter(tag=source, member__member_tags__tag__group=target.group).exclude(
            member__member_tags__tag=target).exists()
        if clash:
            raise InvalidInput(details={"target": [
                _("%(group)s is single-choice and members carry one of its tags and this one.")
                % {"group": target.group.name}
            ]})
    with connection.cursor() as cursor:
        changed = _insert_with_events(
            cursor,
            """INSERT INTO members_membertag (member_id, tag_id, source, added_by_id, added_by_label, added_at)
            SELECT member_id, %s, source, added_by_id, added_by_label, added_at FROM members_membertag
            WHERE tag_id = %s ORDER BY member_id ON CONFLICT (member_id, tag_id) DO NOTHING
            RETURNING member_id, tag_id""",
            [target.pk, source.pk],
            fetch=False,
        )
    _emit_removed_all(source)
    source.delete()
    return TagResult(tag_id=target.pk, changed=changed)
