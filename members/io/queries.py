"""Read side of import and export: the members an export covers, and the import that committed a dry run."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from members.filters import MemberFilterSet
from members.io.models import ImportJob
from members.models import Member
from scrm.scoping import scope


class ExportFilterError(ValueError):
    def __init__(self, errors: dict) -> None:
        super().__init__(_("The filters are not valid."))
        self.errors = errors


def segment_members(segment_id, actor) -> QuerySet:
    """The live members of saved segment `segment_id` the actor may see: a segment outside the
    actor's reach is reported like an unknown one (no hint that it exists). A store actor exporting
    a brand-wide segment gets their own store's part of it."""
    from members.segments.audience import Audience
    from members.segments.models import Segment

    try:
        segment = scope(Segment.objects.all(), actor).filter(pk=int(segment_id)).first()
    except (TypeError, ValueError):
        segment = None
    if segment is None:
        raise ExportFilterError({"segment": [_("Unknown segment %(id)s.") % {"id": segment_id}]})
    audience = Audience.of_segment(segment, actor=actor)
    if not audience.is_valid:  # a definition naming something deleted since
        raise ExportFilterError({"segment": [str(audience.error)]})
    return audience.queryset


def audience_members(definition, actor) -> QuerySet:
    """The members of an unsaved audience (the builder's definition) the actor may see; a definition
    that is not valid is refused, never read as "everyone"."""
    from members.segments.audience import Audience

    audience = Audience(definition, actor=actor)
    if not audience.is_valid:
        raise ExportFilterError({"audience": [str(audience.error)]})
    return audience.queryset


def export_queryset(*, actor, params, segment_id: int | None = None, definition: dict | None = None) -> QuerySet:
    """The live members `actor` may see, narrowed by MemberFilterSet `params` (a QueryDict or dict),
    optionally a segment and optionally an unsaved audience `definition`. Always scoped: a store
    role never reaches another store's members."""
    if segment_id is not None:
        queryset = scope(segment_members(segment_id, actor), actor)
    else:
        queryset = scope(Member.live.all(), actor)
    if definition is not None:
        queryset = queryset & audience_members(definition, actor)
    filterset = MemberFilterSet(data=params, queryset=queryset)
    refuse_unknown_filters(params, known=set(filterset.filters))
    if not filterset.is_valid():
        raise ExportFilterError({k: [str(m) for m in v] for k, v in filterset.errors.items()})
    return filterset.qs


def refuse_unknown_filters(params, *, known: set[str]) -> None:
    """A parameter no filter reads is an error, never ignored: ignoring `home_store=2` (the filter is
    `store`) would export every member the actor may see."""
    unknown = [name for name in params if name not in known]
    if unknown:
        raise ExportFilterError({
            name: [_("Unknown filter \"%(key)s\"; known filters: %(known)s.")
                   % {"key": name, "known": ", ".join(sorted(known))}]
            for name in unknown})


def commit_of(job: ImportJob) -> ImportJob | None:
    """The import that committed dry run `job`, if one did."""
    return ImportJob.objects.filter(commit_of=job).first()
