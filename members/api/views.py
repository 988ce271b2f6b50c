"""Member API: members (list, search, detail, create, edit, upsert by identity, bulk upsert, merge,
duplicates, export, erase, attributes), each member's identities, tags, notes, relations, consents
and timeline, plus identities, tag groups, tags (with bulk tagging) and attribute definitions.

Views stay thin: they find the object through the scoped queryset (404 across stores), hand the
request body to one service, and shape the answer. Service errors keep their status, code and
details in the one error shape."""

from __future__ import annotations

from django.db.models import Prefetch, prefetch_related_objects
from django.http import QueryDict
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from members import sql as members_sql
from members.api import serializers as s
from members.filters import IdentityFilterSet, MemberFilterSet, TagFilterSet
from members.models import (
    AttributeDefinition,
    Consent,
    ConsentRecord,
    Identity,
    Member,
    MemberEvent,
    MemberTag,
    ServiceNote,
    StaffRelation,
    Tag,
    TagGroup,
)
from members.phones import looks_like_phone
from members.services import attributes as attribute_service
from members.services import consent, disclosure, identities, notes, privacy, relations, tags
from members.services import merge as merge_service
from members.services import upsert as upsert_service
from scrm.api.body import json_object
from scrm.api.idempotency import idempotent
from scrm.api.pagination import cursor_ordered_by
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS, ErrorSerializer, path_id
from scrm.api.viewsets import NestedScopedMixin, ScopedModelViewSet, ScopedQuerysetMixin, ScopedReadOnlyViewSet
from scrm.errors import InvalidInput, NotInScope
from scrm.models import User

CONFLICT = {409: OpenApiResponse(ErrorSerializer, description="identity_conflict: details name the identities "
                                 "and the members holding them; merge them first.")}
MEMBER_ID = path_id("member_id", "Member id.")


def _ip(request):
    return request.META.get("REMOTE_ADDR")


SEARCH_PATH = "/api/v1/members/search/"
NOT_IN_URL = _("A phone number does not go in a URL: search by phone with POST %(path)s and {\"q\": ...}.")
REVEAL_ERRORS = {404: ERRORS[404], 429: OpenApiResponse(ErrorSerializer, description="throttled: the caller's "
                 "hourly reveals are used up.")}


def record_read(view, request, members: int) -> None:
    """One audit row for this answer of members' personal data (how many, whether unmasked)."""
    disclosure.record_bulk_read(
        actor=request.user, endpoint=f"{view.basename}.{view.action}", members=members,
        unmasked=disclosure.sees_full_identifiers(request.user), ip=_ip(request),
    )


def _refuse_phone_in_url(request, *names: str) -> None:
    for name in names:
        if looks_like_phone(request.query_params.get(name, "")):
            raise InvalidInput(NOT_IN_URL % {"path": SEARCH_PATH}, details={name: [NOT_IN_URL % {"path": SEARCH_PATH}]})


def _filter_data(body: dict) -> QueryDict:
    """A search body as the member FilterSet reads a query string; unknown keys are refused."""
    known = set(MemberFilterSet.base_filters)
    unknown = sorted(set(body) - known)
    if unknown:
        raise InvalidInput(details={key: [_("Unknown filter; known: %(known)s.") % {"known": ", ".join(sorted(known))}]
                                    for key in unknown})
    data = QueryDict(mutable=True)
    for key, value in body.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
            raise InvalidInput(details={key: [_("Expected text, a number or a list of them.")]})
        data.setlist(key, [str(v) for v in values])
    return data


def member_detail(member: Member) -> Member:
    """Load what the detail serializer shows, in a fixed number of queries."""
    prefetch_related_objects(
        [member],
        Prefetch("identities", queryset=Identity.objects.order_by("id")),
        Prefetch("member_tags", queryset=MemberTag.objects.select_related("tag__group", "added_by").order_by("id")),
        Prefetch("consents", queryset=Consent.objects.order_by("purpose", "channel")),
        Prefetch("relations", queryset=StaffRelation.objects.select_related("staff", "store").order_by("id")),
    )
    member.notes_count = ServiceNote.objects.filter(member=member).count()
    return member


def _reload(member_id: int) -> Member:
    return member_detail(Member.objects.select_related("home_store", "owner").get(pk=member_id))


@extend_schema_view(
    list=extend_schema(summary="List and search members", description="Filters and `q` (a name, a phone in any "
                       "common form, or its last digits). Store roles and store-bound keys see their store only."),
    retrieve=extend_schema(summary="A member with identities, tags, consents and relations",
                           responses={200: s.MemberDetailSerializer, 404: ERRORS[404]}),
    create=extend_schema(summary="Create a member", request=s.MemberInputSerializer,
                         responses={201: s.MemberDetailSerializer, **ERRORS, **CONFLICT}),
    partial_update=extend_schema(summary="Edit profile fields", request=s.ProfileInputSerializer,
                                 responses={200: s.MemberDetailSerializer, **ERRORS, **CONFLICT}),
)
class MemberViewSet(ScopedModelViewSet):
    queryset = Member.live.select_related("home_store", "owner")
    serializer_class = s.MemberSerializer
    filterset_class = MemberFilterSet
    scope_resource = "members"
    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "patch", "head", "options"]
    reads_only = False  # set on the POST actions that only read (search, reveal)

    def get_serializer_class(self):
        if self.action == "retrieve":
            return s.MemberDetailSerializer
        return super().get_serializer_class()

    def _detail(self, member) -> dict:
        """The member as MemberDetailSerializer shows it, without attribute values the caller may not see."""
        data = s.MemberDetailSerializer(member, context=self.get_serializer_context()).data
        data["attributes"] = attribute_service.visible_attributes(data["attributes"], self.request.user)
        return data

    def list(self, request, *args, **kwargs):
        _refuse_phone_in_url(request, "q")
        response = super().list(request, *args, **kwargs)
        record_read(self, request, len(response.data["results"]))
        return response

    def retrieve(self, request, *args, **kwargs):
        body = self._detail(member_detail(self.get_object()))
        record_read(self, request, 1)
        return Response(body)

    @extend_schema(summary="Search members by a request body (phones stay out of URLs)",
                   request=s.MemberSearchInputSerializer, responses={200: s.MemberSerializer(many=True), **ERRORS},
                   description="The list's filters (`q`: a name, a phone in any common form or its last digits) "
                   "in a JSON body, with the list's scoping and paging: POST the same body to the `next` link.")
    @action(detail=False, methods=["post"], reads_only=True, filterset_class=None)
    def search(self, request):
        body = json_object(request, s.MemberSearchInputSerializer)
        filters = MemberFilterSet(data=_filter_data(body), queryset=self.get_queryset(),
                                  request=request)
        if not filters.is_valid():
            raise InvalidInput(details=filters.errors)
        page = self.paginate_queryset(filters.qs)
        data = self.get_serializer(page, many=True).data
        record_read(self, request, len(page))
        return self.get_paginated_response(data)

    @extend_schema(summary="The member's full phone and phone and e-mail identities (audited)", request=None,
                   responses={200: s.RevealSerializer, **REVEAL_ERRORS},
                   description="For a caller who sees them masked. Each call is recorded (who, which member, "
                   "when) and counted against the caller's hourly limit; the answer is never cached.")
    @action(detail=True, methods=["post"], reads_only=True, filterset_class=None)
    def reveal(self, request, pk=None):
        revealed = disclosure.reveal_identifiers(member=self.get_object(), actor=request.user, ip=_ip(request),
                                                 via="api")
        response = Response(s.RevealSerializer(revealed).data)
        response["Cache-Control"] = "no-store"
        return response

    def create(self, request, *args, **kwargs):
        data = json_object(request, s.MemberInputSerializer)
        result = upsert_service.create_member(
            identities=data.pop("identities", None), tags=data.pop("tags", None), profile=data, actor=request.user
        )
        return Response(self._detail(_reload(result.member_id)), status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        profile = json_object(request, s.ProfileInputSerializer)
        member = upsert_service.update_member(member=self.get_object(), profile=profile, actor=request.user)
        return Response(self._detail(member_detail(member)))

    @extend_schema(summary="Create or update a member by identity", request=s.UpsertInputSerializer,
                   description="Any identity (or the phone) finds the member; none found creates one. Identities "
                   "of two members are a 409 identity_conflict naming them.",
                   responses={200: s.UpsertResponseSerializer, 201: s.UpsertResponseSerializer, **ERRORS,
                              **CONFLICT})
    @action(detail=False, methods=["post"])
    @idempotent
    def upsert(self, request):
        data = json_object(request, s.UpsertInputSerializer)
        result = upsert_service.upsert_member(
            identities=data.pop("identities", None), tags=data.pop("tags", None), profile=data, actor=request.user
        )
        body = {"created": result.created, "member": self._detail(_reload(result.member_id))}
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    @extend_schema(summary="Upsert up to 1,000 members at once", request=s.BulkUpsertInputSerializer,
                   description="With `atomic: true` (the default), all or nothing: any invalid item "
                   "(details.items.<index>.<field>), an identity in two items, or an identity conflict means "
                   "nothing is written. With `atomic: false`, as orders/batch: the valid items are written and "
                   "each result says created, updated, invalid or conflict (with its errors).",
                   responses={200: s.BulkUpsertResponseSerializer, **ERRORS, **CONFLICT})
    @action(detail=False, methods=["post"], url_path="bulk-upsert")
    @idempotent
    def bulk_upsert(self, request):
        body = json_object(request, s.BulkUpsertInputSerializer, nested=False)
        atomic = body.get("atomic", True)
        if not isinstance(atomic, bool):
            raise InvalidInput(details={"atomic": [_("Expected true or false.")]})
        if atomic:
            outcome = upsert_service.BatchOutcome(
                upsert_service.bulk_upsert_members(items=body.get("items"), actor=request.user), {}, frozenset()
            )
        else:
            outcome = upsert_service.bulk_upsert_members_per_item(items=body.get("items"), actor=request.user)
        return Response(s.BulkUpsertResponseSerializer(_bulk_body(outcome)).data)
    @extend_schema(summary="Merge a duplicate into this member", request=s.MergeInputSerializer,
                   responses={200: s.MemberMergeSerializer, **ERRORS})
    @action(detail=True, methods=["post"], scope_resource="merges")
    def merge(self, request, pk=None):
        survivor = self.get_object()
        data = json_object(request, s.MergeInputSerializer)
        duplicate_id = data.get("duplicate")
        if not isinstance(duplicate_id, int) or isinstance(duplicate_id, bool):
            raise InvalidInput(details={"duplicate": [_("Expected a member id.")]})
        duplicate = Member.objects.visible_to(request.user).filter(pk=duplicate_id).first()
        if duplicate is None:
            raise NotInScope(details={"duplicate": [_("Unknown member %(id)s.") % {"id": duplicate_id}]})
        record = merge_service.merge_members(survivor=survivor, duplicate=duplicate, actor=request.user,
                                     reason=data.get("reason", "manual"))
        return Response(s.MemberMergeSerializer(record).data)

    @extend_schema(summary="Candidate duplicates (same phone, same WeChat unionid)",
                   parameters=[
                       OpenApiParameter("rule", str, enum=[merge_service.SAME_PHONE, merge_service.SAME_UNIONID]),
                       OpenApiParameter("limit", int, description="Groups per rule, at most 500."),
                   ],
                   responses={200: s.DuplicateCandidateSerializer(many=True)})
    @action(detail=False, methods=["get"], scope_resource="merges", pagination_class=None, filterset_class=None)
    def duplicates(self, request):
        rule = request.query_params.get("rule") or None
        if rule not in (None, merge_service.SAME_PHONE, merge_service.SAME_UNIONID):
            raise InvalidInput(details={"rule": [_("Either same_phone or same_unionid.")]})
        try:
            limit = min(max(int(request.query_params.get("limit", 100)), 1), 500)
        except ValueError:
            raise InvalidInput(details={"limit": [_("Expected a number.")]}) from None
        found = merge_service.duplicate_candidates(actor=request.user, rule=rule, limit=limit)
        return Response(s.DuplicateCandidateSerializer(found, many=True).data)

    @extend_schema(summary="Export everything held about the member (audited)",
                   responses={200: OpenApiTypes.OBJECT, 404: ERRORS[404]})
    @action(detail=True, methods=["get"], scope_resource="privacy")
    def export(self, request, pk=None):
        return Response(privacy.export_member_data(member=self.get_object(), actor=request.user, ip=_ip(request)))

    @extend_schema(summary="Erase the member's personal data (audited; an anonymous row stays)",
                   request=s.EraseInputSerializer, responses={204: None, **ERRORS})
    @action(detail=True, methods=["post"], scope_resource="privacy")
    def erase(self, request, pk=None):
        member = self.get_object()
        reason = json_object(request, s.EraseInputSerializer).get("reason", "")
        privacy.erase_member(member=member, actor=request.user, reason=reason, ip=_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], summary="The member's custom attributes", responses={200: OpenApiTypes.OBJECT})
    @extend_schema(methods=["PATCH"], summary="Set custom attributes (null removes one)",
                   request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT, **ERRORS})
    @action(detail=True, methods=["get", "patch"])
    def attributes(self, request, pk=None):
        member = self.get_object()
        if request.method == "PATCH":
            member = attribute_service.set_attributes(member=member, values=request.data, actor=request.user)
        return Response(attribute_service.visible_attributes(member.attributes, request.user))


def _bulk_body(outcome) -> dict:
    """A bulk upsert's answer in orders/batch's shape: one result per item, in order, and the counts."""
    rows = [{"index": r.index, "status": "created" if r.created else "updated", "id": r.member_id,
             "member": r.member_id, "created": r.created, "changed": r.changed,
             "identities_added": r.identities_added} for r in outcome.results]
    rows += [{"index": i, "status": "conflict" if i in outcome.conflicts else "invalid", "id": None, "member": None,
              "created": False, "changed": [], "identities_added": [], "errors": e} for i, e in outcome.errors.items()]
    rows.sort(key=lambda row: row["index"])
    created = sum(r.created for r in outcome.results)
    return {"created": created, "updated": len(outcome.results) - created, "conflict": len(outcome.conflicts),
            "invalid": len(outcome.errors) - len(outcome.conflicts), "results": rows}


class MemberChildMixin(NestedScopedMixin):
    """Routes under /members/{member_id}/...: the member comes from the scoped queryset (404 across
    stores), and rows are those of that member."""

    scope_resource = "members"
    parser_classes = [JSONParser]
    parent_queryset = Member.live.all()
    parent_kwarg = "member_id"
    parent_field = "member"
    parent_attr = "member"


@extend_schema_view(
    list=extend_schema(summary="A member's identities", parameters=[MEMBER_ID]),
    create=extend_schema(summary="Add an identity", parameters=[MEMBER_ID], request=s.IdentitySerializer,
                         responses={201: s.IdentitySerializer, **ERRORS, **CONFLICT}),
    destroy=extend_schema(summary="Remove an identity", parameters=[MEMBER_ID]),
)
class MemberIdentityViewSet(MemberChildMixin, ScopedQuerysetMixin, mixins.ListModelMixin, mixins.CreateModelMixin,
                            mixins.DestroyModelMixin, viewsets.GenericViewSet):
    queryset = Identity.objects.order_by("id")
    serializer_class = s.IdentitySerializer
    pagination_class = cursor_ordered_by("id")

    def create(self, request, *args, **kwargs):
        data = json_object(request, s.IdentitySerializer)
        identity = identities.add_identity(
            member=self.member, channel=data.get("channel"), namespace=data.get("namespace") or "",
            external_id=data.get("external_id"), actor=request.user,
        )
        return Response(s.IdentitySerializer(identity, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        record_read(self, request, 1 if response.data["results"] else 0)
        return response

    def perform_destroy(self, instance):
        identities.remove_identity(identity=instance, actor=self.request.user)


@extend_schema_view(
    list=extend_schema(summary="A member's tags, with who added them and when", parameters=[MEMBER_ID]),
    create=extend_schema(summary="Tag the member", parameters=[MEMBER_ID], request=s.TagIdsSerializer,
                         responses={200: s.MemberTagSerializer(many=True), **ERRORS}),
    destroy=extend_schema(summary="Untag the member", parameters=[MEMBER_ID, path_id("id", "The tag's id.")]),
)
class MemberTagViewSet(MemberChildMixin, ScopedQuerysetMixin, mixins.ListModelMixin, mixins.CreateModelMixin,
                       mixins.DestroyModelMixin, viewsets.GenericViewSet):
    queryset = MemberTag.objects.select_related("tag__group", "added_by").order_by("id")
    serializer_class = s.MemberTagSerializer
    pagination_class = cursor_ordered_by("id")
    lookup_field = "tag_id"
    lookup_url_kwarg = "id"  # /members/{member_id}/tags/{id}/: the member's tag is named by the tag's id
    unpaged_actions = ("create",)  # tagging answers all the member's tags, not a page

    def create(self, request, *args, **kwargs):
        tag_ids = json_object(request, s.TagIdsSerializer).get("tags")
        tags.tag_member(member=self.member, tag_ids=tag_ids, actor=request.user,
                        source=_tag_source(request))
        rows = self.filter_queryset(self.get_queryset())
        return Response(s.MemberTagSerializer(rows, many=True).data)

    def destroy(self, request, *args, **kwargs):
        row = self.get_object()
        tags.untag_member(member=self.member, tag=row.tag, actor=request.user, source=_tag_source(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _tag_source(request) -> str:
    from members.models import TagSource

    return TagSource.API if getattr(request.user, "api_key", None) is not None else TagSource.MANUAL


@extend_schema_view(
    list=extend_schema(summary="A member's service notes, pinned first", parameters=[MEMBER_ID]),
    create=extend_schema(summary="Add a note", parameters=[MEMBER_ID], request=s.ServiceNoteSerializer,
                         responses={201: s.ServiceNoteSerializer, **ERRORS}),
    partial_update=extend_schema(summary="Pin, unpin or edit a note", parameters=[MEMBER_ID],
                                 request=s.ServiceNoteSerializer, responses={200: s.ServiceNoteSerializer, **ERRORS}),
)
class MemberNoteViewSet(MemberChildMixin, ScopedQuerysetMixin, mixins.ListModelMixin, mixins.CreateModelMixin,
                        mixins.UpdateModelMixin, viewsets.GenericViewSet):
    queryset = ServiceNote.objects.select_related("author", "store")
    serializer_class = s.ServiceNoteSerializer
    pagination_class = cursor_ordered_by("-pinned", "-created_at")
    http_method_names = ["get", "post", "patch", "head", "options"]

    def create(self, request, *args, **kwargs):
        data = json_object(request, s.ServiceNoteSerializer)
        note = notes.add_note(member=self.member, body=data.get("body"), kind=data.get("kind", "note"),
                              pinned=data.get("pinned", False), actor=request.user)
        return Response(s.ServiceNoteSerializer(note).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        data = json_object(request, s.ServiceNoteSerializer)
        note = notes.update_note(note=self.get_object(), actor=request.user, pinned=data.get("pinned"),
                                 body=data.get("body"), kind=data.get("kind"))
        return Response(s.ServiceNoteSerializer(note).data)


def _staff(value, request) -> User:
    staff = User.objects.visible_to(request.user).filter(username=value).first() if isinstance(value, str) else None
    if staff is None:
        raise InvalidInput(details={"staff": [_("Unknown staff %(value)s.") % {"value": value}]})
    return staff


@extend_schema_view(
    list=extend_schema(summary="Staff following the member", parameters=[MEMBER_ID]),
    create=extend_schema(summary="A staff member added the member", parameters=[MEMBER_ID],
                         request=s.RelationInputSerializer, responses={201: s.StaffRelationSerializer, **ERRORS}),
    partial_update=extend_schema(summary="Change the remark, record a deletion, or make this staff the owner",
                                 parameters=[MEMBER_ID], request=s.RelationUpdateSerializer,
                                 responses={200: s.StaffRelationSerializer, **ERRORS}),
)
class MemberRelationViewSet(MemberChildMixin, ScopedQuerysetMixin, mixins.ListModelMixin, mixins.CreateModelMixin,
                            mixins.UpdateModelMixin, viewsets.GenericViewSet):
    queryset = StaffRelation.objects.select_related("staff", "store").order_by("id")
    serializer_class = s.StaffRelationSerializer
    pagination_class = cursor_ordered_by("id")
    http_method_names = ["get", "post", "patch", "head", "options"]

    def create(self, request, *args, **kwargs):
        data = json_object(request, s.RelationInputSerializer)
        params = s.RelationInputSerializer(data=data)
        params.is_valid(raise_exception=True)
        values = dict(params.validated_data)
        values["staff"] = _staff(values["staff"], request)
        if values.get("referrer") is not None:
            values["referrer"] = Member.live.visible_to(request.user).filter(pk=values["referrer"]).first()
            if values["referrer"] is None:
                raise InvalidInput(details={"referrer": [_("Unknown member %(value)s.") % {"value": data["referrer"]}]})
        relation = relations.add_relation(member=self.member, actor=request.user, **values)
        return Response(s.StaffRelationSerializer(relation).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        relation = self.get_object()
        params = s.RelationUpdateSerializer(data=json_object(request))
        params.is_valid(raise_exception=True)
        values = params.validated_data
        if "remark" in values or "description" in values:
            relation = relations.update_relation(relation=relation, actor=request.user,
                                                 remark=values.get("remark", relations.UNSET),
                                                 description=values.get("description", relations.UNSET))
        if values.get("deleted_by"):
            relation = relations.mark_deleted(relation=relation, by=values["deleted_by"], at=values.get("deleted_at"),
                                              actor=request.user)
        if values.get("is_owner"):
            relations.set_owner(member=self.member, staff=relation.staff, actor=request.user)
        return Response(s.StaffRelationSerializer(self.get_object()).data)


@extend_schema_view(
    list=extend_schema(summary="The member's current consents", parameters=[MEMBER_ID]),
    create=extend_schema(summary="Grant or withdraw a consent", parameters=[MEMBER_ID],
                         request=s.ConsentInputSerializer, responses={201: s.ConsentSerializer, **ERRORS}),
)
class MemberConsentViewSet(MemberChildMixin, ScopedQuerysetMixin, mixins.ListModelMixin, mixins.CreateModelMixin,
                           viewsets.GenericViewSet):
    queryset = Consent.objects.order_by("purpose", "channel")
    serializer_class = s.ConsentSerializer
    pagination_class = cursor_ordered_by("purpose", "channel")

    def create(self, request, *args, **kwargs):
        data = json_object(request, s.ConsentInputSerializer)
        current = consent.set_consent(
            member=self.member, purpose=data.get("purpose"), channel=data.get("channel", "all"),
            granted=data.get("granted"), source=data.get("source", ""), evidence=data.get("evidence", ""),
            actor=request.user,
        )
        return Response(s.ConsentSerializer(current).data, status=status.HTTP_201_CREATED)


@extend_schema_view(list=extend_schema(summary="The member's consent history", parameters=[MEMBER_ID]))
class MemberConsentRecordViewSet(MemberChildMixin, ScopedQuerysetMixin, mixins.ListModelMixin,
                                 viewsets.GenericViewSet):
    queryset = ConsentRecord.objects.select_related("recorded_by")
    serializer_class = s.ConsentRecordSerializer


@extend_schema_view(list=extend_schema(summary="The member's timeline", parameters=[MEMBER_ID]))
class MemberEventViewSet(MemberChildMixin, ScopedQuerysetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = MemberEvent.objects.select_related("actor")
    serializer_class = s.MemberEventSerializer


class IdentityViewSet(ScopedReadOnlyViewSet):
    """Identities across members: find who is behind a platform's id."""

    queryset = Identity.objects.filter(members_sql.live_q("member"))
    serializer_class = s.IdentitySerializer
    filterset_class = IdentityFilterSet
    scope_resource = "members"

    def list(self, request, *args, **kwargs):
        if request.query_params.get("channel") in disclosure.DIRECT_CHANNELS:
            _refuse_phone_in_url(request, "external_id")
        response = super().list(request, *args, **kwargs)
        record_read(self, request, len({row["member"] for row in response.data["results"]}))
        return response

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        record_read(self, request, 1)
        return response


class TagGroupViewSet(ScopedModelViewSet):
    """Tag groups: operators define them, store roles read them."""

    queryset = TagGroup.objects.all()
    serializer_class = s.TagGroupSerializer
    scope_resource = "tags"
    pagination_class = cursor_ordered_by("sort_order", "name")

    def perform_create(self, serializer):
        serializer.instance = tags.create_group(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = tags.update_group(group=serializer.instance, actor=self.request.user,
                                                **serializer.validated_data)

    def perform_destroy(self, instance):
        tags.delete_group(group=instance, actor=self.request.user)


class TagViewSet(ScopedModelViewSet):
    """Tags: operators define them, store roles read them; tagging members in bulk needs members:write
    and reaches only the caller's members."""

    queryset = Tag.objects.select_related("group")
    serializer_class = s.TagSerializer
    filterset_class = TagFilterSet
    scope_resource = "tags"

    def perform_create(self, serializer):
        serializer.instance = tags.create_tag(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = tags.update_tag(tag=serializer.instance, actor=self.request.user,
                                              **serializer.validated_data)

    def perform_destroy(self, instance):
        tags.delete_tag(tag=instance, actor=self.request.user)

    @extend_schema(methods=["POST"], summary="Tag members in bulk", request=s.MemberIdsSerializer,
                   responses={200: s.TaggingResultSerializer, **ERRORS},
                   description="Members outside the caller's store (or unknown) are a 404 listing them in "
                   "details.members, and nothing is written. Rule tags cannot be added by hand.")
    @extend_schema(methods=["DELETE"], summary="Untag members in bulk", request=s.MemberIdsSerializer,
                   responses={200: s.TaggingResultSerializer, **ERRORS})
    @action(detail=True, methods=["post", "delete"], scope_resource="members", parser_classes=[JSONParser],
            filterset_class=None)
    def members(self, request, pk=None):
        tag = self.get_object()
        ids = json_object(request, s.MemberIdsSerializer).get("members")
        if not isinstance(ids, list):
            raise InvalidInput(details={"members": [_("Expected a list of member ids.")]})
        work = tags.tag_members if request.method == "POST" else tags.untag_members
        result = work(tag=tag, members=ids, actor=request.user, source=tags.TagSource.BULK)
        return Response(s.TaggingResultSerializer(
            {"tag": result.tag_id, "changed": result.changed, "replaced": result.replaced}
        ).data)


class AttributeDefinitionViewSet(ScopedModelViewSet):
    """Custom attributes operators declare; values are set on members (PATCH /members/{id}/attributes/)."""

    queryset = AttributeDefinition.objects.all()
    serializer_class = s.AttributeDefinitionSerializer
    scope_resource = "attributes"
    lookup_field = "code"
    lookup_url_kwarg = "id"  # /attributes/{id}/, where a definition's id is its code
    pagination_class = cursor_ordered_by("sort_order", "code")

    def perform_create(self, serializer):
        serializer.instance = attribute_service.create_definition(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = attribute_service.update_definition(
            definition=serializer.instance, actor=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        attribute_service.delete_definition(definition=instance, actor=self.request.user)
