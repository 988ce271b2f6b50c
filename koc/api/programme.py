"""API of the KOC programme's pyramid under /api/v1/koc/: the ladder (GET, PUT the whole ladder),
benefits, launches and who may buy them early, tier runs (POST: recalculate now), level changes,
what a creator's next level needs and their mentor's templates. Every rule is the services'."""

from __future__ import annotations

import datetime

import django_filters
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from koc.api import programme_serializers as s
from koc.models import Benefit, BenefitKind, Creator, Launch, Level, LevelChange, MentorTemplate, TierRun
from koc.services import levels as level_services
from koc.services import rights, tiers
from members.models import Member
from scrm.api.idempotency import idempotent
from scrm.api.pagination import cursor_ordered_by
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS, AutoSchema, path_id
from scrm.api.viewsets import NestedScopedMixin, ScopedQuerysetMixin, ScopedViewSet
from scrm.errors import InvalidInput
from scrm.scoping import scope

CREATOR_ID = path_id("creator_id", "Creator id.")


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class _Base(ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    parser_classes = [JSONParser]


# --- filters --------------------------------------------------------------------------------------


class BenefitFilterSet(django_filters.FilterSet):
    level = django_filters.NumberFilter(field_name="level_id", label=gettext_lazy("Level"))
    kind = django_filters.ChoiceFilter(choices=BenefitKind.choices, label=gettext_lazy("Kind"))
    active = django_filters.BooleanFilter(label=gettext_lazy("Active"))

    class Meta:
        model = Benefit
        fields = ["level", "kind", "active"]


class LevelChangeFilterSet(django_filters.FilterSet):
    creator = django_filters.NumberFilter(field_name="creator_id", label=gettext_lazy("Creator"))
    reason = django_filters.CharFilter(label=gettext_lazy("Reason"))
    run = django_filters.NumberFilter(field_name="run_id", label=gettext_lazy("Recalculation"))

    class Meta:
        model = LevelChange
        fields = ["creator", "reason", "run"]


# --- levels ---------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="The ladder of levels, base first, with how many creators (in reach) hold each"),
    retrieve=extend_schema(summary="A level"),
)
class LevelViewSet(_Base):
    queryset = Level.objects.order_by("rank")
    serializer_class = s.LevelSerializer
    scope_resource = "koc_programme"
    pagination_class = cursor_ordered_by("rank")
    filterset_class = None

    @classmethod
    def as_view(cls, actions=None, **initkwargs):
        # PUT on the list route replaces the ladder as a whole (the router maps GET and POST there only).
        if actions and actions.get("get") == "list":
            actions = {**actions, "put": "replace"}
        return super().as_view(actions, **initkwargs)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["counts"] = self._counts()
        return context

    def _counts(self) -> dict[int, int]:
        held = scope(Creator.objects.filter(level__isnull=False, status="active"), self.request.user)
        return dict(held.values_list("level_id").annotate(n=Count("id")))

    @extend_schema(
        summary="Replace the whole ladder (brand-wide actors)",
        description="Every level to keep (with its id) or add (without); one left out is removed. Ranks run 1..n "
                    "without gap or repeat, each level asks at least as much as the one below in every minimum and "
                    "more in at least one, names are unique, and a level creators hold cannot be removed: errors "
                    "name the level as levels[i].field and nothing changes. Everyone is recalculated in the background "
                    "after the change.",
        request=s.LadderInputSerializer, responses={200: s.LadderSerializer, **ERRORS})
    def replace(self, request, *args, **kwargs):
        data = _valid(s.LadderInputSerializer, request)
        saved = level_services.save_ladder(actor=request.user, levels=[dict(item) for item in data["levels"]])
        return Response(s.LadderSerializer({"levels": saved}, context={"counts": self._counts()}).data)


# --- benefits and launches ------------------------------------------------------------------------


def _benefit_args(data: dict) -> dict:
    return {"level_id": data["level"], "kind": data["kind"], "name": data["name"],
            "description": data["description"], "early_days": data["early_days"],
            "community_id": data["community"], "active": data["active"]}


@extend_schema_view(
    list=extend_schema(summary="Benefits (filter by level, kind, active)"),
    retrieve=extend_schema(summary="A benefit with how many creators hold it"),
    create=extend_schema(summary="Add a benefit to a level (brand-wide actors); grants follow at once",
                         request=s.BenefitInputSerializer, responses={201: s.BenefitSerializer, **ERRORS}),
    update=extend_schema(summary="Edit a benefit (the whole body); grants follow at once",
                         request=s.BenefitInputSerializer, responses={200: s.BenefitSerializer, **ERRORS}),
    destroy=extend_schema(summary="Remove a benefit nobody ever held (otherwise switch it off)",
                          responses={204: None, **ERRORS}),
)
class BenefitViewSet(_Base, mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin):
    queryset = Benefit.objects.annotate(
        holders=Count("grants", filter=Q(grants__revoked_at__isnull=True))).order_by("level__rank", "name", "id")
    serializer_class = s.BenefitSerializer
    filterset_class = BenefitFilterSet
    scope_resource = "koc_programme"
    pagination_class = cursor_ordered_by("id")
    http_method_names = ["get", "post", "put", "delete", "head", "options"]

    def _answer(self, benefit, code=status.HTTP_200_OK):
        return Response(s.BenefitSerializer(self.get_queryset().get(pk=benefit.pk)).data, status=code)

    @idempotent
    def create(self, request, *args, **kwargs):
        benefit = rights.save_benefit(actor=request.user, **_benefit_args(_valid(s.BenefitInputSerializer, request)))
        return self._answer(benefit, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        benefit = self.get_object()
        benefit = rights.save_benefit(actor=request.user, benefit=benefit,
                                      **_benefit_args(_valid(s.BenefitInputSerializer, request)))
        return self._answer(benefit)

    def destroy(self, request, *args, **kwargs):
        rights.delete_benefit(actor=request.user, benefit=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


MEMBER_ID_QUERY = OpenApiParameter("member_id", OpenApiTypes.INT, OpenApiParameter.QUERY, required=True,
                                   description="The member asking to buy.")


@extend_schema_view(
    list=extend_schema(summary="Launches, latest public date first"),
    retrieve=extend_schema(summary="A launch"),
    create=extend_schema(summary="Add a launch (brand-wide actors)", request=s.LaunchInputSerializer,
                         responses={201: s.LaunchSerializer, **ERRORS}),
    update=extend_schema(summary="Edit a launch", request=s.LaunchInputSerializer,
                         responses={200: s.LaunchSerializer, **ERRORS}),
    destroy=extend_schema(summary="Remove a launch", responses={204: None, **ERRORS}),
    early_access=extend_schema(
        summary="Whether a member may buy the launch now: anyone once it is public; before that an active "
                "creator whose early access covers the days left", parameters=[MEMBER_ID_QUERY],
        responses={200: s.EarlyAccessSerializer, **ERRORS}),
)
class LaunchViewSet(_Base, mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin):
    queryset = Launch.objects.order_by("-public_at", "-id")
    serializer_class = s.LaunchSerializer
    filterset_class = None
    scope_resource = "koc_programme"
    pagination_class = cursor_ordered_by("-public_at", "-id")
    http_method_names = ["get", "post", "put", "delete", "head", "options"]

    @idempotent
    def create(self, request, *args, **kwargs):
        launch = rights.save_launch(actor=request.user, **_valid(s.LaunchInputSerializer, request))
        return Response(s.LaunchSerializer(launch).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        launch = rights.save_launch(actor=request.user, launch=self.get_object(),
                                    **_valid(s.LaunchInputSerializer, request))
        return Response(s.LaunchSerializer(launch).data)

    def destroy(self, request, *args, **kwargs):
        rights.delete_launch(actor=request.user, launch=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["get"], url_path="early-access", filterset_class=None, pagination_class=None)
    def early_access(self, request, *args, **kwargs):
        launch = self.get_object()
        raw = request.query_params.get("member_id", "")
        if not raw.isdigit():
            raise InvalidInput(details={"member_id": [_("The member's id is needed (a whole number).")]})
        member = Member.objects.visible_to(request.user).filter(pk=int(raw)).first()
        if member is None:
            raise InvalidInput(details={"member_id": [_("No such member, or not yours to reach.")]})
        at = timezone.now()
        creator = Creator.objects.filter(member=member).first()
        days = rights.early_days_of(creator.pk) if creator is not None and creator.status == "active" else None
        opens = launch.public_at - datetime.timedelta(days=days) if days else launch.public_at
        return Response(s.EarlyAccessSerializer({
            "launch": launch.pk, "member": member.pk, "at": at, "public_at": launch.public_at,
            "can_buy": rights.can_buy_early(member=member, launch=launch, at=at), "early_days": days,
            "opens_at": opens}).data)


# --- tier runs and history ------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Tier recalculations, newest first"),
    retrieve=extend_schema(summary="A tier recalculation"),
    create=extend_schema(
        summary="Recalculate every creator's level now (brand-wide actors)",
        description="Runs at once and answers the run. Promotions apply; demotions only at a period's end "
                    "(`period_end`, or decided by the date). Idempotent: a second run changes nothing; send an "
                    "Idempotency-Key to have a retry answer the first run.",
        request=s.TierRunInputSerializer, responses={201: s.TierRunSerializer, **ERRORS}),
)
class TierRunViewSet(_Base, mixins.CreateModelMixin):
    queryset = TierRun.objects.order_by("-started_at", "-id")
    serializer_class = s.TierRunSerializer
    filterset_class = None
    scope_resource = "koc_programme"
    pagination_class = cursor_ordered_by("-started_at", "-id")

    @idempotent
    def create(self, request, *args, **kwargs):
        data = _valid(s.TierRunInputSerializer, request)
        run = tiers.recalculate(actor=request.user, period_end=data["period_end"], trigger="api")
        return Response(s.TierRunSerializer(run).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="Creators' level changes, newest first (filter by creator, reason, run)"),
    retrieve=extend_schema(summary="A level change"),
)
class LevelChangeViewSet(_Base):
    queryset = LevelChange.objects.order_by("-at", "-id")
    serializer_class = s.LevelChangeSerializer
    filterset_class = LevelChangeFilterSet
    scope_resource = "koc_creators"
    pagination_class = cursor_ordered_by("-at", "-id")


# --- a creator's next level and their mentor's templates ------------------------------------------


def _brief(level):
    return None if level is None else {"id": level.pk, "rank": level.rank, "name": level.name}


class OneObjectSchema(AutoSchema):
    def _is_list_view(self, serializer=None) -> bool:
        return False


@extend_schema_view(
    list=extend_schema(summary="What the creator's next level needs: per minimum, what they have (counted by the "
                               "last recalculation), need and miss", parameters=[CREATOR_ID],
                       responses={200: s.NextLevelSerializer, **ERRORS}),
)
class NextLevelViewSet(NestedScopedMixin, ScopedViewSet):
    schema = OneObjectSchema()  # its list answers one object, not a page
    scope_resource = "koc_creators"
    parent_queryset = Creator.objects.select_related("level")
    parent_kwarg = "creator_id"
    parent_attr = "creator"

    def list(self, request, creator_id=None):
        needs = level_services.next_level_needs(self.creator)
        return Response(s.NextLevelSerializer({
            "creator": self.creator.pk, "current": _brief(needs.current), "next": _brief(needs.next),
            "at_top": needs.at_top, "counted_at": needs.counted_at,
            "needs": [{"minimum": n.minimum, "label": n.label, "have": n.have, "need": n.need,
                       "missing": n.missing, "met": n.met} for n in needs.needs]}).data)


@extend_schema_view(
    list=extend_schema(summary="The templates of the creator's mentor, newest first", parameters=[CREATOR_ID]),
    create=extend_schema(summary="Share a template as this creator, a mentor (staff managing the creator)",
                         parameters=[CREATOR_ID], request=s.TemplateInputSerializer,
                         responses={201: s.TemplateSerializer, **ERRORS}),
)
class TemplateViewSet(NestedScopedMixin, ScopedQuerysetMixin, mixins.ListModelMixin, mixins.CreateModelMixin,
                      viewsets.GenericViewSet):
    # The creator's mentor's templates: those whose mentor has this creator among their mentees.
    queryset = MentorTemplate.objects.order_by("-created_at", "-id")
    serializer_class = s.TemplateSerializer
    scope_resource = "koc_creators"
    filterset_class = None
    pagination_class = cursor_ordered_by("-created_at", "-id")
    parser_classes = [JSONParser]
    parent_queryset = Creator.objects.select_related("member")
    parent_kwarg = "creator_id"
    parent_field = "mentor__mentees"
    parent_attr = "creator"

    @idempotent
    def create(self, request, *args, **kwargs):
        template = rights.share_template(mentor=self.creator, actor=request.user,
                                         **_valid(s.TemplateInputSerializer, request))
        return Response(s.TemplateSerializer(template).data, status=status.HTTP_201_CREATED)


def register(router) -> None:
    router.register("koc/levels", LevelViewSet, basename="koc-level")
    router.register("koc/benefits", BenefitViewSet, basename="koc-benefit")
    router.register("koc/launches", LaunchViewSet, basename="koc-launch")
    router.register("koc/tier-runs", TierRunViewSet, basename="koc-tier-run")
    router.register("koc/level-changes", LevelChangeViewSet, basename="koc-level-change")
    router.register(r"koc/creators/(?P<creator_id>[0-9]+)/next-level", NextLevelViewSet,
                    basename="koc-creator-next-level")
    router.register(r"koc/creators/(?P<creator_id>[0-9]+)/templates", TemplateViewSet,
                    basename="koc-creator-template")
