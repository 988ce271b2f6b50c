"""API: communities and their members (/api/v1/communities/), events (/api/v1/events/) with their
sign-ups and check-ins beneath them. Every rule is the services'; store accounts reach their own
store's communities and events (and brand-wide events)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from communities import queries
from communities.api import serializers as s
from communities.filters import (
    CheckInFilterSet,
    CommunityFilterSet,
    EventFilterSet,
    MembershipFilterSet,
    SignUpFilterSet,
)
from communities.models import CheckIn, Community, CommunityMembership, Event, EventFeedback, InvitationBatch, SignUp
from communities.services import automatic, checkins, door_sync, entry, feedback, invitations, signups
from communities.services import communities as community_services
from communities.services import events as event_services
from members.models import Tag
from scrm.api.idempotency import idempotent
from scrm.api.pagination import cursor_ordered_by
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS, path_id
from scrm.api.viewsets import NestedScopedMixin, ScopedQuerysetMixin
from scrm.errors import InvalidInput
from scrm.models import Store, User

CONFLICT = {409: OpenApiResponse(description="Refused by the current state (full, closed, cancelled, no seat and "
                                             "no walk-ins, not enough points); the error's code says which.")}
COMMUNITY_ID = path_id("community_id", "Community id.")
EVENT_ID = path_id("event_id", "Event id.")


def _valid(serializer_class, request, *, partial=False) -> dict:
    serializer = serializer_class(data=request.data, partial=partial)  # a JSON null body is refused
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _store(code) -> Store | None:
    if code is None:
        return None
    store = Store.objects.filter(code=code).first()
    if store is None:
        raise InvalidInput(details={"store": [_("No store with the code %(code)s.") % {"code": code}]})
    return store


def _staff(ids, field) -> list[User]:
    found = {u.pk: u for u in User.objects.filter(pk__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(details={field: [_("No staff member %(ids)s.") % {"ids": ", ".join(map(str, missing))}]})
    return [found[i] for i in ids]


class _Base(ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    parser_classes = [JSONParser]


@extend_schema_view(
    list=extend_schema(summary="Communities (filter by store, kind, status, owner)"),
    retrieve=extend_schema(summary="A community"),
    create=extend_schema(summary="Start a community in a store (operators, the store's manager)",
                         request=s.CommunityInputSerializer, responses={201: s.CommunitySerializer, **ERRORS}),
    partial_update=extend_schema(summary="Edit a community (its owner, assistants, manager, operators); auto_segment "
                                         "sets its standing rule (applied at once and daily)",
                                 request=s.CommunityPatchSerializer, responses={200: s.CommunitySerializer, **ERRORS}),
    figures=extend_schema(summary="A community's figures: members, growth, active share, events, attendance, "
                                  "repeat attendees, its members' purchases against the store's other members",
                          responses={200: s.CommunityFiguresSerializer, **ERRORS}),
    suggestions=extend_schema(
        summary="Members of a segment to invite: how many of its live members of the community's store are not in "
                "it yet, and the newest 20 (an unknown segment is a 400, never everyone)",
        parameters=[s.SegmentEntryQuerySerializer], responses={200: s.SegmentSuggestionSerializer, **ERRORS}),
    add_segment=extend_schema(
        summary="Add a segment's members of the community's store to it at once (source segment); past its capacity "
                "nobody is added (409)",
        request=s.SegmentEntryInputSerializer, responses={200: s.SegmentAddedSerializer, **ERRORS, **CONFLICT}),
)
class CommunityViewSet(_Base, mixins.CreateModelMixin):
    queryset = Community.objects.select_related("store").prefetch_related("assistants").order_by("id")
    serializer_class = s.CommunitySerializer
    filterset_class = CommunityFilterSet
    scope_resource = "communities"
    pagination_class = cursor_ordered_by("id")
    http_method_names = ["get", "post", "patch", "head", "options"]

    def create(self, request, *args, **kwargs):
        data = _valid(s.CommunityInputSerializer, request)
        owner = _staff([data["owner"]], "owner")[0]
        community = community_services.create_community(actor=request.user, data=community_services.CommunityInput(
            store=_store(data["store"]), name=data["name"], owner=owner, kind=data["kind"],
            description=data["description"], capacity=data["capacity"],
            assistants=_staff(data["assistants"], "assistants"), wecom_chat_id=data["wecom_chat_id"],
        ))
        return Response(s.CommunitySerializer(community).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        community = self.get_object()
        values = _valid(s.CommunityPatchSerializer, request, partial=True)
        if "owner" in values:
            values["owner"] = _staff([values["owner"]], "owner")[0]
        if "assistants" in values:
            values["assistants"] = _staff(values["assistants"], "assistants")
        rule = values.pop("auto_segment", False)
        if values:
            community = community_services.update_community(community=community, actor=request.user, **values)
        if rule is not False:
            community = automatic.set_rule(community=community, actor=request.user, segment_id=rule)
        return Response(s.CommunitySerializer(community).data)

    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def figures(self, request, *args, **kwargs):
        community = self.get_object()
        figures = queries.community_figures([community.pk])[community.pk]
        return Response(s.CommunityFiguresSerializer({"community": community.pk, **figures}).data)

    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def suggestions(self, request, *args, **kwargs):
        community = self.get_object()
        query = s.SegmentEntryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = entry.suggest(community=community, segment_id=query.validated_data["segment"], actor=request.user)
        return Response(s.SegmentSuggestionSerializer({
            "segment": found.segment.pk, "count": found.count,
            "sample": [{"id": m.pk, "name": m.name} for m in found.sample]}).data)

    @action(detail=True, methods=["post"], url_path="add-segment", filterset_class=None, pagination_class=None)
    @idempotent
    def add_segment(self, request, *args, **kwargs):
        community = self.get_object()
        data = _valid(s.SegmentEntryInputSerializer, request)
        done = entry.add_segment(community=community, segment_id=data["segment"], actor=request.user,
                                 role=data["role"])
        return Response(s.SegmentAddedSerializer({"segment": done.segment.pk, "added": done.added,
                                                  "members": done.members}).data)


@extend_schema_view(
    list=extend_schema(summary="A community's members (filter by member, current)", parameters=[COMMUNITY_ID]),
    retrieve=extend_schema(summary="One membership", parameters=[COMMUNITY_ID]),
    create=extend_schema(summary="Add a member to the community (joining twice answers the open membership)",
                         parameters=[COMMUNITY_ID], request=s.JoinInputSerializer,
                         responses={201: s.MembershipSerializer, 200: s.MembershipSerializer, **ERRORS, **CONFLICT}),
    leave=extend_schema(summary="The member leaves the community", parameters=[COMMUNITY_ID], request=None,
                        responses={200: s.MembershipSerializer, **ERRORS}),
)
class CommunityMemberViewSet(NestedScopedMixin, _Base, mixins.CreateModelMixin):
    queryset = CommunityMembership.objects.select_related("community").order_by("id")
    serializer_class = s.MembershipSerializer
    filterset_class = MembershipFilterSet
    scope_resource = "communities"
    pagination_class = cursor_ordered_by("id")
    parent_queryset = Community.objects.all()
    parent_kwarg = "community_id"
    parent_field = "community"
    parent_attr = "community"

    @idempotent
    def create(self, request, *args, **kwargs):
        data = _valid(s.JoinInputSerializer, request)
        membership, created = community_services.join(community=self.community, member_id=data["member"],
                                                      actor=request.user, role=data["role"], source=data["source"])
        return Response(s.MembershipSerializer(membership).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @action(detail=True, methods=["post"], filterset_class=None)
    def leave(self, request, *args, **kwargs):
        membership = community_services.leave(membership=self.get_object(), actor=request.user)
        return Response(s.MembershipSerializer(membership).data)


@extend_schema_view(
    list=extend_schema(summary="A community's invitation batches, newest first, with how many were invited, "
                               "handed to the channel and joined", parameters=[COMMUNITY_ID]),
    retrieve=extend_schema(summary="One invitation batch", parameters=[COMMUNITY_ID]),
    create=extend_schema(
        summary="Invite picked members or a segment's members of the store: each gets a message through the notices' "
                "channel (marketing: consent and caps apply) with their own join link; members already in or "
                "invited still are skipped",
        parameters=[COMMUNITY_ID], request=s.InvitationInputSerializer,
        responses={201: s.InvitationBatchSerializer, **ERRORS, **CONFLICT}),
)
class CommunityInvitationViewSet(NestedScopedMixin, _Base, mixins.CreateModelMixin):
    queryset = queries.batches_with_counts(InvitationBatch.objects.all()).order_by("-created_at", "-id")
    serializer_class = s.InvitationBatchSerializer
    filterset_class = None
    scope_resource = "communities"
    pagination_class = cursor_ordered_by("-created_at", "-id")
    parent_queryset = Community.objects.all()
    parent_kwarg = "community_id"
    parent_field = "community"
    parent_attr = "community"

    @idempotent
    def create(self, request, *args, **kwargs):
        data = _valid(s.InvitationInputSerializer, request)
        done = invitations.invite(community=self.community, actor=request.user, member_ids=data.get("members"),
                                  segment_id=data.get("segment"), message=data["message"], days=data["days"])
        batch = queries.batches_with_counts(InvitationBatch.objects.filter(pk=done.batch.pk)).get()
        return Response(s.InvitationBatchSerializer(batch).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="Events (filter by store, community, status, start)"),
    retrieve=extend_schema(summary="An event with its seats taken and left"),
    create=extend_schema(summary="Create an event in a community (or brand-wide: operators)",
                         request=s.EventInputSerializer, responses={201: s.EventSerializer, **ERRORS, **CONFLICT}),
    partial_update=extend_schema(summary="Edit an event: a larger capacity offers the new seats to the waitlist",
                                 request=s.EventPatchSerializer, responses={200: s.EventSerializer, **ERRORS}),
    cancel=extend_schema(summary="Cancel the event and its sign-ups", request=None,
                         responses={200: s.EventSerializer, **ERRORS}),
    photos=extend_schema(summary="Set the event's photos (http(s) links with captions) once it has started; the "
                                 "list replaces the one before", request=s.PhotosInputSerializer,
                         responses={200: s.EventSerializer, **ERRORS, **CONFLICT}),
)
class EventViewSet(_Base, mixins.CreateModelMixin):
    queryset = Event.objects.select_related("store", "community").order_by("-starts_at", "-id")
    serializer_class = s.EventSerializer
    filterset_class = EventFilterSet
    scope_resource = "events"
    pagination_class = cursor_ordered_by("-starts_at", "-id")
    http_method_names = ["get", "post", "patch", "head", "options"]

    def create(self, request, *args, **kwargs):
        data = _valid(s.EventInputSerializer, request)
        community = None
        if data["community"] is not None:
            community = Community.objects.visible_to(request.user).filter(pk=data["community"]).first()
            if community is None:
                raise InvalidInput(details={"community": [_("No such community, or not yours to reach.")]})
        tag = None
        if data["attendance_tag"] is not None:
            tag = Tag.objects.filter(pk=data["attendance_tag"]).first()
            if tag is None:
                raise InvalidInput(details={"attendance_tag": [_("No such tag.")]})
        event = event_services.create_event(actor=request.user, data=event_services.EventInput(
            community=community, store=_store(data["store"]), title=data["title"], description=data["description"],
            place=data["place"], starts_at=data["starts_at"], ends_at=data["ends_at"], capacity=data["capacity"],
            signup_opens_at=data["signup_opens_at"], signup_closes_at=data["signup_closes_at"],
            offer_minutes=data["offer_minutes"], walk_ins_allowed=data["walk_ins_allowed"], attendance_tag=tag,
            points_price=data["points_price"], ask_feedback=data["ask_feedback"],
        ))
        return Response(s.EventSerializer(event).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        event = event_services.update_event(event=self.get_object(), actor=request.user,
                                            **_valid(s.EventPatchSerializer, request, partial=True))
        return Response(s.EventSerializer(event).data)

    @action(detail=True, methods=["post"], filterset_class=None)
    def cancel(self, request, pk=None):
        return Response(s.EventSerializer(event_services.cancel_event(event=self.get_object(),
                                                                      actor=request.user)).data)

    @action(detail=True, methods=["post"], filterset_class=None)
    def photos(self, request, pk=None):
        event = self.get_object()  # another store's event is a 404 before the body is read
        data = _valid(s.PhotosInputSerializer, request)
        return Response(s.EventSerializer(feedback.set_photos(event=event, actor=request.user,
                                                              photos=[dict(p) for p in data["photos"]])).data)


class _EventChild(NestedScopedMixin, _Base):
    scope_resource = "events"
    parent_queryset = Event.objects.all()
    parent_kwarg = "event_id"
    parent_field = "event"
    parent_attr = "event"


@extend_schema_view(
    list=extend_schema(summary="An event's sign-ups (filter by state, member), in order", parameters=[EVENT_ID]),
    retrieve=extend_schema(summary="One sign-up", parameters=[EVENT_ID]),
    create=extend_schema(summary="Sign a member up: a seat if one is free, else the waitlist (signing up twice "
                                 "answers the sign-up)", parameters=[EVENT_ID], request=s.SignUpInputSerializer,
                         responses={201: s.SignUpSerializer, 200: s.SignUpSerializer, **ERRORS, **CONFLICT}),
    cancel=extend_schema(summary="Cancel a sign-up: its seat goes to the first on the waitlist",
                         parameters=[EVENT_ID], request=s.SignUpCancelInputSerializer,
                         responses={200: s.SignUpSerializer, **ERRORS, **CONFLICT}),
    confirm=extend_schema(summary="Take the seat offered from the waitlist (before the offer lapses)",
                          parameters=[EVENT_ID], request=None,
                          responses={200: s.SignUpSerializer, **ERRORS, **CONFLICT}),
)
class EventSignUpViewSet(_EventChild, mixins.CreateModelMixin):
    queryset = SignUp.objects.order_by("id")
    serializer_class = s.SignUpSerializer
    filterset_class = SignUpFilterSet
    pagination_class = cursor_ordered_by("id")

    @idempotent
    def create(self, request, *args, **kwargs):
        data = _valid(s.SignUpInputSerializer, request)
        result = signups.sign_up(event=self.event, member_id=data["member"], actor=request.user, source=data["source"])
        return Response(s.SignUpSerializer(result.signup).data,
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def cancel(self, request, *args, **kwargs):
        data = _valid(s.SignUpCancelInputSerializer, request)
        return Response(s.SignUpSerializer(signups.cancel(signup=self.get_object(), actor=request.user,
                                                          by=data["by"])).data)

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def confirm(self, request, *args, **kwargs):
        return Response(s.SignUpSerializer(signups.confirm_offer(signup=self.get_object(), actor=request.user)).data)


@extend_schema_view(
    list=extend_schema(summary="An event's check-ins (filter by how, walk-in)", parameters=[EVENT_ID]),
    retrieve=extend_schema(summary="One check-in", parameters=[EVENT_ID]),
    create=extend_schema(
        summary="Check a member in by ticket code or member id: 201 the first time; 200 with the first check-in "
                "(when, by whom) for any repeat",
        parameters=[EVENT_ID], request=s.CheckInInputSerializer,
        responses={201: s.CheckInAnswerSerializer, 200: s.CheckInAnswerSerializer, **ERRORS, **CONFLICT}),
    batch=extend_schema(
        summary="Sync a phone's offline scans: each applied in its own time order, the earlier scan of a member "
                "wins and the later is kept as a conflict; one answer per scan",
        parameters=[EVENT_ID], request=s.CheckInBatchInputSerializer,
        responses={200: s.CheckInBatchAnswerSerializer, **ERRORS, **CONFLICT}),
)
class EventCheckInViewSet(_EventChild, mixins.CreateModelMixin):
    queryset = CheckIn.objects.select_related("staff").order_by("id")
    serializer_class = s.CheckInSerializer
    filterset_class = CheckInFilterSet
    pagination_class = cursor_ordered_by("id")

    @idempotent
    def create(self, request, *args, **kwargs):
        data = _valid(s.CheckInInputSerializer, request)
        result = checkins.check_in(event=self.event, actor=request.user, source=data["source"],
                                   code=data.get("code"), member_id=data.get("member"), device=data["device"])
        body = {"created": result.created, "message": checkins.answer(result),
                "checkin": s.CheckInSerializer(result.checkin).data}
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    @action(detail=False, methods=["post"], filterset_class=None, pagination_class=None)
    @idempotent
    def batch(self, request, *args, **kwargs):
        data = _valid(s.CheckInBatchInputSerializer, request)
        scans = [door_sync.Scan(at=x["at"], source=x["source"], code=x.get("code"), member_id=x.get("member"),
                                device=x["device"]) for x in data["scans"]]
        results = door_sync.sync_scans(event=self.event, actor=request.user, scans=scans)
        return Response(s.CheckInBatchAnswerSerializer({"results": [
            {"index": r.index, "outcome": r.outcome, "message": r.message, "checkin": r.checkin} for r in results
        ]}).data)


@extend_schema_view(
    list=extend_schema(summary="An event's feedback (ratings 1 to 5, comments)", parameters=[EVENT_ID]),
    retrieve=extend_schema(summary="One attendee's feedback", parameters=[EVENT_ID]),
    create=extend_schema(
        summary="Enter an attendee's rating (staff): once per member, again within the days after the event "
                "changes it (200)",
        parameters=[EVENT_ID], request=s.FeedbackInputSerializer,
        responses={201: s.FeedbackSerializer, 200: s.FeedbackSerializer, **ERRORS, **CONFLICT}),
)
class EventFeedbackViewSet(_EventChild, mixins.CreateModelMixin):
    queryset = EventFeedback.objects.order_by("id")
    serializer_class = s.FeedbackSerializer
    filterset_class = None
    pagination_class = cursor_ordered_by("id")

    def create(self, request, *args, **kwargs):  # a repeat changes the same row: no key needed
        data = _valid(s.FeedbackInputSerializer, request)
        given = feedback.give(event=self.event, member_id=data["member"], rating=data["rating"],
                              comment=data["comment"], actor=request.user)
        return Response(s.FeedbackSerializer(given.feedback).data,
                        status=status.HTTP_201_CREATED if given.created else status.HTTP_200_OK)
