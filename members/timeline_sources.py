"""The member centre's own entries of the member timeline (members.timeline): profile and identity
changes, tags added and removed, service notes, consent, staff relations and merges. Registered
from members/plugins.py like every other app's."""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext_lazy as _

from members import timeline
from members.models import (
    AttributeDefinition,
    ConsentChannel,
    ConsentPurpose,
    Member,
    MemberEvent,
    MemberTag,
    NoteKind,
    ServiceNote,
    Source,
    Tag,
    TagSource,
)
from members.timeline import Entry, Window

NOTE_PREVIEW = 200  # characters of a note's text in the timeline; the notes panel has the rest

PROFILE_MESSAGES = {
    "created": _("Became a member (source: %(source)s)"),
    "updated": _("Profile updated: %(fields)s"),
    "attributes": _("Attributes changed: %(changes)s"),
    "attributes_dropped": _("Attributes removed after consent was withdrawn: %(attributes)s"),
    "identity_added": _("Identity added: %(identities)s"),
    "identity_removed": _("Identity removed: %(identities)s"),
    "stage": _("5A stage changed"),
    "exported": _("Personal data exported"),
    "erased": _("Personal data erased"),
}
RELATION_MESSAGES = {
    "added": _("Added as a contact by %(staff)s"),
    "updated": _("Contact details with %(staff)s updated"),
    "deleted_by_staff": _("%(staff)s removed the member as a contact"),
    "deleted_by_member": _("The member removed %(staff)s as a contact"),
    "owner": _("Owner changed from %(old)s to %(new)s"),
    "other": _("Staff relation with %(staff)s changed"),
}
CONSENT_MESSAGES = {
    "granted": _("Consent given: %(purpose)s (%(channel)s)"),
    "withdrawn": _("Consent withdrawn: %(purpose)s (%(channel)s)"),
}
MERGE_MESSAGES = {
    "merged": _("Duplicate profile %(duplicate)s merged into this one"),
}
TAG_MESSAGES = {
    "added": _("Tag added: %(tag)s (%(how)s)"),
    "removed": _("Tag removed: %(tag)s (added %(added_at)s)"),
}
NOTE_MESSAGES = {
    "note": _("%(kind)s: %(body)s"),
}

# A member's joining is told from the member row (imports create members without an event).
PROFILE_KINDS = [
    MemberEvent.Kind.UPDATED,
    MemberEvent.Kind.IDENTITY_ADDED,
    MemberEvent.Kind.IDENTITY_REMOVED,
    MemberEvent.Kind.STAGE,
    MemberEvent.Kind.EXPORTED,
    MemberEvent.Kind.ERASED,
]


def _label(choices, value) -> object:
    try:
        return choices(value).label
    except ValueError:
        return value or "—"


def _field_label(name: str) -> object:
    try:
        return Member._meta.get_field(name).verbose_name
    except FieldDoesNotExist:
        return name


def _events(window: Window, kinds) -> list[MemberEvent]:
    queryset = MemberEvent.objects.filter(member=window.member, kind__in=kinds).select_related("actor")
    return list(window.page(queryset))


def _entry(event: MemberEvent, code: str, params: dict) -> Entry:
    return Entry(
        at=event.created_at,
        pk=event.pk,
        code=code,
        params=params,
        actor_user=event.actor,
        actor_label=event.actor_label,
    )


# --- profile ------------------------------------------------------------------------------------


def _attribute_changes(changes: dict, window: Window) -> list[str]:
    definitions = {d.code: d for d in AttributeDefinition.objects.filter(code__in=list(changes))}
    shown = []
    for code, change in sorted(changes.items()):
        definition = definitions.get(code)
        name = definition.label if definition is not None else code
        sensitive = definition is not None and (definition.sensitive or definition.requires_guardian)
        if isinstance(change, dict) or (sensitive and not window.sees_sensitive):
            shown.append(str(_("%(name)s (value not shown)") % {"name": name}))
        else:
            before, after = change
            shown.append(f"{name}: {'—' if before in (None, '') else before} → {'—' if after in (None, '') else after}")
    return shown


def _profile_entry(event: MemberEvent, window: Window) -> Entry:
    data = event.data or {}
    kind = event.kind
    if kind == MemberEvent.Kind.CREATED:
        return _entry(event, "created", {"source": _label(Source, data.get("source", ""))})
    if kind == MemberEvent.Kind.UPDATED:
        if data.get("reason", "").startswith("consent_withdrawn"):
            return _entry(event, "attributes_dropped", {"attributes": sorted(data.get("attributes", {}))})
        if "attributes" in data:
            return _entry(event, "attributes", {"changes": _attribute_changes(data["attributes"], window)})
        return _entry(event, "updated", {"fields": [_field_label(f) for f in sorted(data.get("changes", {}))]})
    if kind in (MemberEvent.Kind.IDENTITY_ADDED, MemberEvent.Kind.IDENTITY_REMOVED):
        return _entry(event, kind, {"identities": list(data.get("identities", []))})
    return _entry(event, kind, {})


def joined_source(window: Window):
    """The first entry of every history: when and how the member joined."""
    found = window.page(Member.objects.filter(pk=window.member.pk).only("pk", "created_at", "source"))
    return [Entry(at=m.created_at, pk=m.pk, code="created", params={"source": _label(Source, m.source)}) for m in found]


def profile_source(window: Window):
    return [_profile_entry(e, window) for e in _events(window, PROFILE_KINDS)]


def relation_source(window: Window):
    entries = []
    for event in _events(window, [MemberEvent.Kind.RELATION]):
        data = event.data or {}
        action = data.get("action", "")
        if action == "owner":
            old, new = (list(data.get("owner") or []) + [None, None])[:2]
            entries.append(_entry(event, "owner", {"old": old or "—", "new": new or "—"}))
        else:
            code = action if action in RELATION_MESSAGES else "other"
            entries.append(_entry(event, code, {"staff": data.get("staff", "—")}))
    return entries


def consent_source(window: Window):
    return [
        _entry(
            event,
            "granted" if (event.data or {}).get("granted") else "withdrawn",
            {
                "purpose": _label(ConsentPurpose, (event.data or {}).get("purpose")),
                "channel": _label(ConsentChannel, (event.data or {}).get("channel")),
            },
        )
        for event in _events(window, [MemberEvent.Kind.CONSENT])
    ]


def merge_source(window: Window):
    return [
        _entry(event, "merged", {"duplicate": (event.data or {}).get("duplicate", "—")})
        for event in _events(window, [MemberEvent.Kind.MERGED])
    ]


# --- tags ---------------------------------------------------------------------------------------


def tags_added_source(window: Window):
    """Tags the member carries, at the time they were added (a removed tag's addition is told by
    its removal)."""
    rows = window.page(
        MemberTag.objects.filter(member=window.member).select_related("tag__group", "added_by"), at="added_at"
    )
    return [
        Entry(
            at=mt.added_at,
            pk=mt.pk,
            code="added",
            params={"tag": f"{mt.tag.group.name} · {mt.tag.name}", "how": _label(TagSource, mt.source)},
            actor_user=mt.added_by,
            actor_label=mt.added_by_label,
        )
        for mt in rows
    ]


def tags_removed_source(window: Window):
    events = _events(window, [MemberEvent.Kind.TAG_REMOVED])
    tags = Tag.objects.select_related("group").in_bulk([(e.data or {}).get("tag") for e in events])
    entries = []
    for event in events:
        data = event.data or {}
        tag = tags.get(data.get("tag"))
        name = f"{tag.group.name} · {tag.name}" if tag else data.get("name", "—")
        added = timeline.parse_moment(data.get("added_at"))
        entries.append(_entry(event, "removed", {"tag": name, "added_at": added or "—"}))
    return entries


# --- notes --------------------------------------------------------------------------------------


def notes_source(window: Window):
    rows = window.page(ServiceNote.objects.filter(member=window.member).select_related("author"))
    return [
        Entry(
            at=n.created_at,
            pk=n.pk,
            code="note",
            params={
                "kind": _label(NoteKind, n.kind),
                "body": n.body if len(n.body) <= NOTE_PREVIEW else n.body[:NOTE_PREVIEW] + "…",
            },
            actor_user=n.author,
            actor_label=n.author_label,
        )
        for n in rows
    ]


def register() -> None:
    timeline.register("profile", profile_source, label=_("Profile"), messages=PROFILE_MESSAGES, order=10)
    timeline.register("profile", joined_source, name="profile.joined", messages=PROFILE_MESSAGES)
    timeline.register("tags", tags_added_source, label=_("Tags"), messages=TAG_MESSAGES, order=20)
    timeline.register("tags", tags_removed_source, name="tags.removed", messages=TAG_MESSAGES)
    timeline.register("notes", notes_source, label=_("Notes"), messages=NOTE_MESSAGES, order=30)
    timeline.register("consent", consent_source, label=_("Consent"), messages=CONSENT_MESSAGES, order=40)
    timeline.register("relations", relation_source, label=_("Staff relations"), messages=RELATION_MESSAGES, order=45)
    timeline.register("merges", merge_source, label=_("Merges"), messages=MERGE_MESSAGES, order=90)
