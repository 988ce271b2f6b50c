"""Segments API: saved segments (CRUD), a live count + sample while a definition is edited, the
members of a segment (cursor-paginated) and snapshots."""

from __future__ import annotations

from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import renderers, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from members.api.serializers import MemberSerializer
from members.api.views import record_read
from members.io.api.views import export_response
from members.segments import queries, registry, services
from members.segments.api.serializers import PreviewRequestSerializer, SegmentSerializer, SnapshotSerializer
from members.segments.models import Segment, SegmentSnapshot
from scrm.api.permissions import HasScope
from scrm.api.renderers import CsvRenderer, XlsxRenderer
from scrm.api.viewsets import ScopedModelViewSet
from scrm.permissions import scopes_of


def _missing_scopes(missing: set[str]) -> str:
    """The refusal naming every scope the caller lacks, listed in the reader's language."""
    listed = get_text_list([f"'{scope}'" for scope in sorted(missing)], _("and"))
    return ngettext("This request needs the scope %(scopes)s.", "This request needs the scopes %(scopes)s.",
                    len(missing)) % {"scopes": listed}


class ReadsSegments(HasScope):
    """A POST that only reads (a preview count) needs segments:read, like a GET."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if "segments:read" in scopes_of(request.user):
            return True
        self.message = _("This request needs the scope '%(scope)s'.") % {"scope": "segments:read"}
        return False


class ReadsSegmentMembers(HasScope):
    """Listing a segment's members shows member data: segments:read and members:read."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        missing = {"segments:read", "members:read"} - scopes_of(request.user)
        if not missing:
            return True
        self.message = _missing_scopes(missing)
        return False


PREVIEW_RESPONSE = inline_serializer(
    "SegmentPreview",
    {"count": serializers.IntegerField(), "sample": MemberSerializer(many=True), "ms": serializers.FloatField()},
)


class ExportsSegmentMembers(HasScope):
    """Exporting a segment's members: segments:read and exports:read."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        missing = {"segments:read", "exports:read"} - scopes_of(request.user)
        if not missing:
            return True
        self.message = _missing_scopes(missing)
        return False


class SegmentViewSet(ScopedModelViewSet):
    """Saved segments. Store roles make their own store's segments and read brand-wide ones (without
    changing them); every count, sample, member list and export is cut to the caller's store."""

    queryset = Segment.objects.select_related("store", "created_by")
    serializer_class = SegmentSerializer
    scope_resource = "segments"

    def handle_exception(self, exc):
        # Errors keep the API's JSON shape even when the client asked for a file (export/).
        if getattr(self.request, "accepted_renderer", None) is not None and \
                self.request.accepted_renderer.format in ("csv", "xlsx"):
            self.request.accepted_renderer = renderers.JSONRenderer()
            self.request.accepted_media_type = renderers.JSONRenderer.media_type
        return super().handle_exception(exc)

    def perform_create(self, serializer):
        serializer.instance = services.create_segment(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.update_segment(
            segment=serializer.instance, actor=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.delete_segment(segment=instance, actor=self.request.user)

    @extend_schema(request=PreviewRequestSerializer, responses=PREVIEW_RESPONSE)
    @action(detail=False, methods=["post"], permission_classes=[ReadsSegments])
    def count(self, request):
        """Live count and the newest members of an unsaved definition, with the time it took."""
        body = PreviewRequestSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        result = queries.preview(body.validated_data["definition"], request.user, n=body.validated_data["sample"])
        result["sample"] = MemberSerializer(result["sample"], many=True, context=self.get_serializer_context()).data
        record_read(self, request, len(result["sample"]))
        return Response(result)

    @extend_schema(responses=inline_serializer("SegmentFilters", {"filters": serializers.ListField()}))
    @action(detail=False, methods=["get"], permission_classes=[ReadsSegments])
    def filters(self, request):
        """The conditions a definition can use: keys, labels, operators and value types. Sensitive
        attributes are listed only for callers who may see them (not store staff or store-bound keys)."""
        return Response({"filters": registry.describe(actor=request.user)})

    @extend_schema(responses=MemberSerializer(many=True))
    @action(detail=True, methods=["get"], permission_classes=[ReadsSegmentMembers])
    def members(self, request, pk=None):
        """The segment's live members the caller may see, newest first, cursor-paginated."""
        segment = self.get_object()
        members = queries.member_queryset(segment.definition, request.user, store_id=segment.store_id)
        page = self.paginate_queryset(members.select_related("home_store", "owner"))
        record_read(self, request, len(page))
        data = MemberSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="Export the segment's members as CSV or XLSX",
        description=("The segment's live members the caller may see, as GET /exports/members/ writes them: "
                     "`format` (csv or xlsx), `columns`, and the member list's filters narrow it further. "
                     "Masked for store-bound keys, audited, formula-safe."),
        parameters=[OpenApiParameter("format", str, enum=["csv", "xlsx"]),
                    OpenApiParameter("columns", str, description="Comma-separated column keys.")],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
                   (200, XlsxRenderer.media_type): OpenApiResponse(OpenApiTypes.BINARY)},
    )
    @action(detail=True, methods=["get"], permission_classes=[ExportsSegmentMembers],
            renderer_classes=[renderers.JSONRenderer, CsvRenderer, XlsxRenderer])
    def export(self, request, pk=None):
        segment = self.get_object()
        return export_response(request, params=request.query_params, segment_id=segment.pk)

    @extend_schema(request=None, responses=inline_serializer("SegmentCount", {"count": serializers.IntegerField()}))
    @action(detail=True, methods=["post"])
    def recount(self, request, pk=None):
        """Count the saved segment now (and keep the figure on the segment)."""
        segment = self.get_object()
        return Response({"count": services.recount_segment(segment=segment, actor=request.user)})

    @extend_schema(methods=["get"], responses=SnapshotSerializer(many=True))
    @extend_schema(methods=["post"], request=None, responses={201: SnapshotSerializer, 403: OpenApiResponse()})
    @action(detail=True, methods=["get", "post"])
    def snapshots(self, request, pk=None):
        """GET: the segment's snapshots, newest first. POST: freeze its members now."""
        segment = self.get_object()
        if request.method == "POST":
            snapshot = services.snapshot_segment(segment=segment, actor=request.user)
            return Response(SnapshotSerializer(snapshot).data, status=status.HTTP_201_CREATED)
        snapshots = SegmentSnapshot.objects.filter(segment=segment).visible_to(request.user)
        page = self.paginate_queryset(snapshots.select_related("taken_by", "store"))
        return self.get_paginated_response(SnapshotSerializer(page, many=True).data)
