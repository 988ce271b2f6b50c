"""API of the KOC programme's content under /api/v1/koc/: creators and their platform accounts,
applications (approve, reject), candidates, posts with their metric snapshots (one at a time or a
batch of up to 1,000), official reposts, topics (open, close, join) and who takes part (reward),
the programme's settings and the platforms' rates. Every rule is the services'; store accounts
reach their own store's creators and posts, and read the brand's topics, settings and rates."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import filters, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from koc.api import serializers as s
from koc.filters import (
    POST_ORDERINGS,
    AccountFilterSet,
    ApplicationFilterSet,
    CreatorFilterSet,
    ParticipationFilterSet,
    PostFilterSet,
    SnapshotFilterSet,
    TopicFilterSet,
)
from koc.models import (
    Account,
    Application,
    Creator,
    MetricSnapshot,
    Participation,
    Platform,
    PlatformRate,
    Post,
    Programme,
    Topic,
)
from koc.services import candidates as candidate_services
from koc.services import creators as creator_services
from koc.services import posts as post_services
from koc.services import settings as settings_services
from koc.services import topics as topic_services
from scrm.api.body import json_object
from scrm.api.filters import COMMON_QUERY_PARAMS, StrictFilterBackend, refuse_unknown_params
from scrm.api.idempotency import idempotent
from scrm.api.pagination import cursor_ordered_by
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS, FORBIDDEN, path_id
from scrm.api.viewsets import NestedScopedMixin, ScopedQuerysetMixin, ScopedViewSet
from scrm.errors import InvalidInput
from scrm.models import Store

CONFLICT = {409: OpenApiResponse(description="Refused by the current state (already recorded, already a creator, "
                                             "an application pending, a topic not open); the error's code says "
                                             "which and details name what exists.")}
CREATOR_ID = path_id("creator_id", "Creator id.")
POST_ID = path_id("post_id", "Post id.")
TOPIC_ID = path_id("topic_id", "Topic id.")


def _valid(serializer_class, request, *, partial=False) -> dict:
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class _Base(ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    parser_classes = [JSONParser]


# --- creators, accounts, applications, candidates -------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Creators (filter by level, status, store, mentor)"),
    retrieve=extend_schema(summary="A creator with their level and what the last recalculation counted"),
    partial_update=extend_schema(summary="Change a creator's status (active, paused, left), mentor or bio",
                                 request=s.CreatorPatchSerializer,
                                 responses={200: s.CreatorSerializer, **ERRORS, 403: FORBIDDEN}),
)
class CreatorViewSet(_Base):
    queryset = Creator.objects.select_related("member__home_store", "level", "approved_by").order_by("-id")
    serializer_class = s.CreatorSerializer
    filterset_class = CreatorFilterSet
    scope_resource = "koc_creators"
    http_method_names = ["get", "patch", "head", "options"]

    def partial_update(self, request, *args, **kwargs):
        creator = self.get_object()
        values = dict(_valid(s.CreatorPatchSerializer, request, partial=True))
        creator = creator_services.update_creator(creator=creator, actor=request.user, **values)
        return Response(s.CreatorSerializer(creator).data)


@extend_schema_view(
    list=extend_schema(summary="A creator's platform accounts", parameters=[CREATOR_ID]),
    retrieve=extend_schema(summary="One platform account", parameters=[CREATOR_ID]),
    create=extend_schema(summary="Add a platform account (one per platform; a handle belongs to one creator)",
                         parameters=[CREATOR_ID], request=s.AccountInputSerializer,
                         responses={201: s.AccountSerializer, **ERRORS, **CONFLICT}),
    partial_update=extend_schema(summary="Change an account's handle, link or follower count",
                                 parameters=[CREATOR_ID], request=s.AccountPatchSerializer,
                                 responses={200: s.AccountSerializer, **ERRORS, **CONFLICT}),
    destroy=extend_schema(summary="Remove a platform account", parameters=[CREATOR_ID]),
)
class AccountViewSet(NestedScopedMixin, _Base, mixins.CreateModelMixin, mixins.UpdateModelMixin,
                     mixins.DestroyModelMixin):
    queryset = Account.objects.order_by("id")
    serializer_class = s.AccountSerializer
    filterset_class = AccountFilterSet
    scope_resource = "koc_creators"
    pagination_class = cursor_ordered_by("id")
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    parent_queryset = Creator.objects.all()
    parent_kwarg = "creator_id"
    parent_field = "creator"
    parent_attr = "creator"

    @idempotent
    def create(self, request, *args, **kwargs):
        data = _valid(s.AccountInputSerializer, request)
        account = creator_services.add_account(creator=self.creator, actor=request.user, **data)
        return Response(s.AccountSerializer(account).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        account = self.get_object()
        values = dict(_valid(s.AccountPatchSerializer, request, partial=True))
        account = creator_services.update_account(account=account, actor=request.user, **values)
        return Response(s.AccountSerializer(account).data)

    def destroy(self, request, *args, **kwargs):
        creator_services.remove_account(account=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="Applications to join (filter by state, member, store)"),
    retrieve=extend_schema(summary="An application"),
    create=extend_schema(summary="A member applies, or staff propose them (one pending per member)",
                         request=s.ApplicationInputSerializer,
                         responses={201: s.ApplicationSerializer, **ERRORS, **CONFLICT}),
    approve=extend_schema(summary="Approve: the member becomes a creator (again approving answers the creator)",
                          request=s.ApproveInputSerializer,
                          responses={200: s.CreatorSerializer, **ERRORS, 403: FORBIDDEN, **CONFLICT}),
    reject=extend_schema(summary="Reject, saying why", request=s.RejectInputSerializer,
                         responses={200: s.ApplicationSerializer, **ERRORS, 403: FORBIDDEN, **CONFLICT}),
)
class ApplicationViewSet(_Base, mixins.CreateModelMixin):
    queryset = Application.objects.select_related("member__home_store", "proposed_by", "decided_by").order_by("-id")
    serializer_class = s.ApplicationSerializer
    filterset_class = ApplicationFilterSet
    scope_resource = "koc_creators"
    http_method_names = ["get", "post", "head", "options"]

    @idempotent
    def create(self, request, *args, **kwargs):
        data = _valid(s.ApplicationInputSerializer, request)
        application = creator_services.apply(member_id=data["member"], actor=request.user,
                                             motivation=data["motivation"], platforms=data["platforms"],
                                             proposed=data["proposed"], score=data["score"])
        return Response(s.ApplicationSerializer(application).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def approve(self, request, *args, **kwargs):
        application = self.get_object()
        data = _valid(s.ApproveInputSerializer, request)
        creator = creator_services.approve(application=application, actor=request.user,
                                           mentor_id=data["mentor"])
        creator = Creator.objects.select_related("member__home_store", "level", "approved_by").get(pk=creator.pk)
        return Response(s.CreatorSerializer(creator).data)

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def reject(self, request, *args, **kwargs):
        application = self.get_object()
        data = _valid(s.RejectInputSerializer, request)
        application = creator_services.reject(application=application, actor=request.user,
                                              reason=data["reason"])
        return Response(s.ApplicationSerializer(application).data)


CANDIDATE_PARAMS = [
    OpenApiParameter("store", OpenApiTypes.STR, description="One store's members (a code); default: the caller's."),
    OpenApiParameter("limit", OpenApiTypes.INT, description=f"How many, 1 to {candidate_services.MAX_LIMIT} "
                                                            "(default 100)."),
]


class CandidateViewSet(ScopedViewSet):
    scope_resource = "koc_creators"

    @extend_schema(summary="Members to invite, best first: spend, engagement, referrals and community activity, "
                           "each a percentile, weighted by the programme's score weights",
                   parameters=CANDIDATE_PARAMS, responses={200: s.CandidateSerializer(many=True), **ERRORS})
    def list(self, request):
        refuse_unknown_params(request.query_params, COMMON_QUERY_PARAMS | {"store", "limit"})
        store_id = None
        if (code := request.query_params.get("store")) is not None:
            store_id = Store.objects.filter(code=code).values_list("pk", flat=True).first()
            if store_id is None:
                raise InvalidInput(details={"store": [_("No store with the code %(code)s.") % {"code": code[:40]}]})
        raw = request.query_params.get("limit", "100")
        if not raw.isdigit() or len(raw) > 4:
            raise InvalidInput(details={"limit": [_("A whole number from 1 to %(max)d.")
                                                  % {"max": candidate_services.MAX_LIMIT}]})
        rows = candidate_services.candidates(actor=self.actor, store_id=store_id, limit=int(raw))
        return Response(s.CandidateSerializer(rows, many=True).data)


# --- posts, metrics, reposts ----------------------------------------------------------------------


class PostOrdering(filters.OrderingFilter):
    """?ordering=published_at, interactions or media_value (a leading '-' for highest first); the
    cursor pages in that order. A field it does not offer is refused, not ignored."""

    ordering_fields = POST_ORDERINGS
    ordering_description = "published_at, interactions or media_value; '-' first for highest first (default " \
                           "-published_at)."

    def get_ordering(self, request, queryset, view):
        raw = request.query_params.get(self.ordering_param)
        if raw is None:
            return None
        if raw.lstrip("-") not in POST_ORDERINGS:
            raise InvalidInput(details={self.ordering_param: [_("One of %(fields)s, with '-' for highest first.")
                                                              % {"fields": ", ".join(POST_ORDERINGS)}]})
        return (raw, "-id" if raw.startswith("-") else "id")


@extend_schema_view(
    list=extend_schema(summary="Posts (filter by creator, platform, topic, viral, store, published; order by "
                               "published_at, interactions or media_value)"),
    retrieve=extend_schema(summary="A post with its latest metrics, interactions, rate, viral flag and media value"),
    create=extend_schema(summary="Record a creator's post by its link (the same post twice, however spelt, is a "
                                 "409 naming the first)", request=s.PostInputSerializer,
                         responses={201: s.PostSerializer, **ERRORS, **CONFLICT}),
    repost=extend_schema(summary="The brand's official repost: recorded (to a community or in a campaign), or with "
                                 "`draft` written as a draft campaign (to a segment, or a WeCom group message to the "
                                 "community's customer group) to approve and send as any campaign",
                         request=s.RepostInputSerializer,
                         responses={201: s.RepostSerializer, **ERRORS, 403: FORBIDDEN}),
)
class PostViewSet(_Base, mixins.CreateModelMixin):
    queryset = Post.objects.select_related("submitted_by").order_by("-published_at", "-id")
    serializer_class = s.PostSerializer
    filterset_class = PostFilterSet
    filter_backends = [StrictFilterBackend, PostOrdering]
    extra_query_params = ("ordering",)
    scope_resource = "koc_posts"
    pagination_class = cursor_ordered_by("-published_at", "-id")
    http_method_names = ["get", "post", "head", "options"]

    @idempotent
    def create(self, request, *args, **kwargs):
        data = _valid(s.PostInputSerializer, request)
        post = post_services.record_post(creator=data["creator"], actor=request.user, url=data["url"],
                                         published_at=data["published_at"], platform=data["platform"],
                                         title=data["title"], topic_id=data["topic"], source=data["source"])
        return Response(s.PostSerializer(post).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def repost(self, request, *args, **kwargs):
        post = self.get_object()
        data = _valid(s.RepostInputSerializer, request)
        made = topic_services.repost(post=post, actor=request.user, community_id=data["community"],
                                     campaign_id=data["campaign"], draft=data["draft"], segment_id=data["segment"],
                                     channel=data["channel"])
        return Response(s.RepostSerializer(made).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="A post's metric snapshots, oldest first", parameters=[POST_ID]),
    retrieve=extend_schema(summary="One snapshot", parameters=[POST_ID]),
    create=extend_schema(summary="Record the post's counters as read at taken_at (never lower than before, nor "
                                 "higher than after; the newest updates the post)", parameters=[POST_ID],
                         request=s.MetricSnapshotInputSerializer,
                         responses={201: s.MetricSnapshotSerializer, **ERRORS, **CONFLICT}),
)
class SnapshotViewSet(NestedScopedMixin, _Base, mixins.CreateModelMixin):
    queryset = MetricSnapshot.objects.order_by("taken_at", "id")
    serializer_class = s.MetricSnapshotSerializer
    filterset_class = SnapshotFilterSet
    scope_resource = "koc_posts"
    pagination_class = cursor_ordered_by("taken_at", "id")
    parent_queryset = Post.objects.all()
    parent_kwarg = "post_id"
    parent_field = "post"
    parent_attr = "parent_post"  # not `post`: that is the view's POST handler

    @idempotent
    def create(self, request, *args, **kwargs):
        data = _valid(s.MetricSnapshotInputSerializer, request)
        snapshot = post_services.record_metrics(post=self.parent_post, actor=request.user, **data)
        return Response(s.MetricSnapshotSerializer(snapshot).data, status=status.HTTP_201_CREATED)


class MetricBatchViewSet(ScopedViewSet):
    scope_resource = "koc_posts"
    parser_classes = [JSONParser]

    @extend_schema(summary="Record up to 1,000 snapshots at once, all or none (errors name each row by its index "
                           "and field)", request=s.BatchInputSerializer,
                   responses={201: s.BatchAnswerSerializer, **ERRORS})
    @action(detail=False, methods=["post"])
    @idempotent
    def batch(self, request):
        body = json_object(request)
        unknown = [key for key in body if key != "rows"]
        if unknown:
            raise InvalidInput(details={key: [_("Unknown field; known: rows.")] for key in unknown})
        rows = body.get("rows")
        if not isinstance(rows, list) or not 1 <= len(rows) <= post_services.MAX_BATCH:
            raise InvalidInput(details={"rows": [_("A list of 1 to %(max)d snapshots.")
                                                 % {"max": post_services.MAX_BATCH}]})
        valid, errors = [], {}
        for index, row in enumerate(rows):
            serializer = s.BatchRowSerializer(data=row)
            if serializer.is_valid():
                valid.append(dict(serializer.validated_data))
            else:
                errors[str(index)] = serializer.errors
        if errors:
            raise InvalidInput(_("%(n)d of %(total)d rows are refused; nothing was recorded.")
                               % {"n": len(errors), "total": len(rows)}, details=errors)
        snapshots = post_services.record_metrics_batch(actor=self.actor, rows=valid)
        body = {"recorded": len(snapshots), "snapshots": s.MetricSnapshotSerializer(snapshots, many=True).data}
        return Response(body, status=status.HTTP_201_CREATED)


# --- topics and participations --------------------------------------------------------------------


def _topic_values(data: dict) -> dict:
    values = dict(data)
    if "min_level" in values:
        values["min_level_id"] = values.pop("min_level")
    return values


@extend_schema_view(
    list=extend_schema(summary="Topics (filter by status, platform)"),
    retrieve=extend_schema(summary="A topic"),
    create=extend_schema(summary="A new topic, as a draft (operators)", request=s.TopicInputSerializer,
                         responses={201: s.TopicSerializer, **ERRORS, 403: FORBIDDEN}),
    partial_update=extend_schema(summary="Change a topic (not once closed)", request=s.TopicPatchSerializer,
                                 responses={200: s.TopicSerializer, **ERRORS, 403: FORBIDDEN, **CONFLICT}),
    open=extend_schema(summary="Open the topic to creators", request=None,
                       responses={200: s.TopicSerializer, **ERRORS, **CONFLICT}),
    close=extend_schema(summary="Close the topic", request=None, responses={200: s.TopicSerializer, **ERRORS}),
    join=extend_schema(summary="A creator takes part (open topics, at their level; again answers the same)",
                       request=s.TopicJoinInputSerializer,
                       responses={201: s.ParticipationSerializer, **ERRORS, **CONFLICT}),
)
class TopicViewSet(_Base, mixins.CreateModelMixin):
    queryset = Topic.objects.select_related("created_by").order_by("-starts_at", "-id")
    serializer_class = s.TopicSerializer
    filterset_class = TopicFilterSet
    scope_resource = "koc_programme"
    pagination_class = cursor_ordered_by("-starts_at", "-id")
    http_method_names = ["get", "post", "patch", "head", "options"]

    @idempotent
    def create(self, request, *args, **kwargs):
        data = _topic_values(_valid(s.TopicInputSerializer, request))
        topic = topic_services.create_topic(actor=request.user, **data)
        return Response(s.TopicSerializer(topic).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        topic = self.get_object()
        values = _topic_values(_valid(s.TopicPatchSerializer, request, partial=True))
        topic = topic_services.update_topic(topic=topic, actor=request.user, **values)
        return Response(s.TopicSerializer(topic).data)

    @action(detail=True, methods=["post"], filterset_class=None)
    def open(self, request, *args, **kwargs):
        return Response(s.TopicSerializer(topic_services.open_topic(topic=self.get_object(),
                                                                    actor=request.user)).data)

    @action(detail=True, methods=["post"], filterset_class=None)
    def close(self, request, *args, **kwargs):
        return Response(s.TopicSerializer(topic_services.close_topic(topic=self.get_object(),
                                                                     actor=request.user)).data)

    @action(detail=True, methods=["post"], filterset_class=None, scope_resource="koc_posts")
    @idempotent
    def join(self, request, *args, **kwargs):
        topic = self.get_object()
        data = _valid(s.TopicJoinInputSerializer, request)
        participation = topic_services.join(topic=topic, creator=data["creator"], actor=request.user)
        return Response(s.ParticipationSerializer(participation).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="Who takes part in a topic (filter by creator, rewarded)", parameters=[TOPIC_ID]),
    retrieve=extend_schema(summary="One participation", parameters=[TOPIC_ID]),
    reward=extend_schema(summary="Give the topic's reward points to a creator who posted for it, once (again "
                                 "answers the first reward)", parameters=[TOPIC_ID], request=None,
                         responses={200: s.ParticipationSerializer, **ERRORS, 403: FORBIDDEN, **CONFLICT}),
)
class ParticipationViewSet(NestedScopedMixin, _Base):
    queryset = Participation.objects.order_by("id")
    serializer_class = s.ParticipationSerializer
    filterset_class = ParticipationFilterSet
    scope_resource = "koc_programme"
    pagination_class = cursor_ordered_by("id")
    parent_queryset = Topic.objects.all()
    parent_kwarg = "topic_id"
    parent_field = "topic"
    parent_attr = "topic"

    # The reward is the brand's (the service asks koc_programme:write); the route asks what reaching a
    # creator's participation asks, so another store's participation is a 404 before that refusal.
    @action(detail=True, methods=["post"], filterset_class=None, scope_resource="koc_posts")
    @idempotent
    def reward(self, request, *args, **kwargs):
        participation = topic_services.reward(participation=self.get_object(), actor=request.user)
        return Response(s.ParticipationSerializer(participation).data)


# --- settings and rates ---------------------------------------------------------------------------


class ProgrammeViewSet(ScopedQuerysetMixin, viewsets.GenericViewSet):
    """The programme's one settings row, at /koc/settings/current/ (its only address: GET, PATCH)."""

    queryset = Programme.objects.all()
    serializer_class = s.ProgrammeSerializer
    scope_resource = "koc_programme"
    parser_classes = [JSONParser]
    pagination_class = None
    filterset_class = None

    @extend_schema(summary="The programme's settings, with the media-value formula in words",
                   responses={200: s.ProgrammeSerializer})
    @action(detail=False, methods=["get"])
    def current(self, request):
        return Response(s.ProgrammeSerializer(Programme.current()).data)

    @extend_schema(summary="Change the programme's settings (operators); posts' figures are recomputed when the "
                           "weights or the viral bars change", request=s.ProgrammePatchSerializer,
                   responses={200: s.ProgrammeSerializer, **ERRORS, 403: FORBIDDEN})
    @current.mapping.patch
    def change_current(self, request):
        values = dict(_valid(s.ProgrammePatchSerializer, request, partial=True))
        programme = settings_services.update_programme(actor=request.user, **values)
        return Response(s.ProgrammeSerializer(programme).data)


@extend_schema_view(
    list=extend_schema(summary="Platforms' ad rates (CPM, CPE) the media value is counted with"),
    retrieve=extend_schema(summary="One platform's rate",
                           parameters=[OpenApiParameter("id", OpenApiTypes.STR, OpenApiParameter.PATH,
                                                        description="The platform, e.g. xiaohongshu.")]),
    create=extend_schema(summary="Set a platform's rate (operators); its posts' media value is recomputed",
                         request=s.RateInputSerializer, responses={200: s.RateSerializer, **ERRORS, 403: FORBIDDEN}),
    update=extend_schema(summary="Set this platform's rate (operators); its posts' media value is recomputed",
                         parameters=[OpenApiParameter("id", OpenApiTypes.STR, OpenApiParameter.PATH,
                                                      description="The platform, e.g. xiaohongshu.")],
                         request=s.RatePutSerializer, responses={200: s.RateSerializer, **ERRORS, 403: FORBIDDEN}),
)
class RateViewSet(_Base, mixins.CreateModelMixin, mixins.UpdateModelMixin):
    queryset = PlatformRate.objects.order_by("platform")
    serializer_class = s.RateSerializer
    scope_resource = "koc_programme"
    pagination_class = cursor_ordered_by("platform")
    lookup_field = "platform"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[a-z0-9_]+"
    http_method_names = ["get", "post", "put", "head", "options"]

    @idempotent
    def create(self, request, *args, **kwargs):
        data = _valid(s.RateInputSerializer, request)
        rate = settings_services.set_rate(actor=request.user, **data)
        return Response(s.RateSerializer(rate).data)

    def update(self, request, *args, **kwargs):
        platform = kwargs["id"]
        if platform not in Platform.values:
            raise InvalidInput(details={"platform": [_("Unknown platform “%(platform)s”.") % {"platform": platform}]})
        data = _valid(s.RatePutSerializer, request)
        rate = settings_services.set_rate(actor=request.user, platform=platform, **data)
        return Response(s.RateSerializer(rate).data)


def register(router) -> None:
    router.register("koc/creators", CreatorViewSet, basename="koc-creator")
    router.register(r"koc/creators/(?P<creator_id>[0-9]+)/accounts", AccountViewSet, basename="koc-account")
    router.register("koc/applications", ApplicationViewSet, basename="koc-application")
    router.register("koc/candidates", CandidateViewSet, basename="koc-candidate")
    router.register("koc/posts", PostViewSet, basename="koc-post")
    router.register(r"koc/posts/(?P<post_id>[0-9]+)/metrics", SnapshotViewSet, basename="koc-snapshot")
    router.register("koc/metrics", MetricBatchViewSet, basename="koc-metrics")
    router.register("koc/topics", TopicViewSet, basename="koc-topic")
    router.register(r"koc/topics/(?P<topic_id>[0-9]+)/participations", ParticipationViewSet,
                    basename="koc-participation")
    router.register("koc/settings", ProgrammeViewSet, basename="koc-settings")
    router.register("koc/rates", RateViewSet, basename="koc-rate")
