"""Figures API: the same figures as the Figures page, scoped to the caller's stores (insights.queries
cuts every figure to what the actor it is handed may see)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from insights import queries
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
