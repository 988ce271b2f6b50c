"""The Figures page: operators see the brand, store managers their store."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from insights import queries, services
from scrm.dashboard import scoped_view


@scoped_view
def figures(request):
    if not services.can_read_figures(request.user):
        raise PermissionDenied
    days = queries.period(request.GET.get("days"))
    context = {**queries.figures(request.user, days=days), "periods": queries.PERIODS}
    return render(request, "insights/figures.html", context)
