"""Figures API: the same figures as the Figures page, scoped to the caller's stores (insights.queries
cuts every figure to what the actor it is handed may see)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from insights import queries
from insights.cockpit import base as cockpit_base
from scrm.api.viewsets import ScopedViewSet
from scrm.errors import InvalidInput


class FiguresViewSet(ScopedViewSet):
    scope_resource = "insights"

    @extend_schema(
        summary="Sales, repurchase, order value, GMV share, RFM segments, tiers and points liability",
        parameters=[OpenApiParameter("days", int, enum=list(queries.PERIODS), description="Period (default 30).")],
        responses={200: OpenApiTypes.OBJECT},
    )
    def list(self, request):
        raw = request.query_params.get("days")
        if raw is not None and raw not in {str(days) for days in queries.PERIODS}:
            message = _("The period is one of %(periods)s days.") % {
                "periods": ", ".join(str(days) for days in queries.PERIODS)
            }
            raise InvalidInput(details={"days": [message]})
        return Response(queries.figures(self.actor, days=queries.period(raw)))


class CockpitViewSet(ScopedViewSet):
    """The cockpit's figures, as on /insights/cockpit/: each with its previous period's value, the
    change, when it was counted and the segment definition of the members it counts (POST it to
    the segments API, or count it, and get the same members)."""

    scope_resource = "insights"
    QUERY = ("days", "start", "end", "store", "page", "section")

    @extend_schema(
        summary="The cockpit (pool, 5A funnel, buyers and sales, campaigns, tasks, communities, KOC, WeCom churn) "
                "or one store's page, with drill-down definitions",
        parameters=[
            OpenApiParameter("days", int, enum=list(cockpit_base.PRESETS), description="Preset period (default 30)."),
            OpenApiParameter("start", OpenApiTypes.DATE, description="First day of a custom period (with end)."),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Last day of a custom period, today at the latest."),
            OpenApiParameter("store", int, description="One store's figures (brand-wide callers)."),
            OpenApiParameter("page", str, enum=list(cockpit_base.PAGES),
                             description="cockpit (default), or store: one store's members, staff leaderboard and "
                                         "overdue tasks (brand-wide callers name the store)."),
            OpenApiParameter("section", str, description="Only this section of the page (e.g. pool, funnel, sales, "
                                                         "campaigns, tasks, communities, koc, churn)."),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def list(self, request):
        # The screen's form sends its empty fields; an API caller naming a parameter gives it a value.
        empty = {name: [_("Give a value, or leave the parameter out.")] for name in CockpitViewSet.QUERY
                 if name in request.query_params and request.query_params[name] == ""}
        if empty:
            raise InvalidInput(details=empty)
        period = cockpit_base.parse_period(request.query_params)
        page = request.query_params.get("page") or "cockpit"
        if page not in cockpit_base.PAGES:
            raise InvalidInput(details={"page": [_("The page is one of: %(pages)s.") % {
                "pages": ", ".join(cockpit_base.PAGES)}]})
        board = cockpit_base.open_cockpit(self.actor, period=period, store_id=request.query_params.get("store"))
        only = request.query_params.get("section") or None
        known = [s.key for s in cockpit_base.sections(page)]
        if only is not None and only not in known:
            raise InvalidInput(details={"section": [_("Unknown section; known sections: %(keys)s.") % {
                "keys": ", ".join(known)}]})
        if page == "store" and board.store is None:
            raise InvalidInput(details={"store": [_("Choose a store: the store page shows one store.")]})
        sections = cockpit_base.read(board, only=only, page=page)
        return Response({
            "page": page, "period": period.as_dict(), "previous": period.previous.as_dict(),
            "store": board.store.pk if board.store is not None else None,
            "sections": [data.as_dict() for _section, data in sections],
        })
