"""The Figures page: operators see the brand, store managers their store."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from insights import queries
from scrm.models import Role


@login_required
def figures(request):
    if request.user.role not in (Role.OPERATOR, Role.STORE_MANAGER):
        raise PermissionDenied
    days = queries.period(request.GET.get("days"))
    context = {**queries.figures(request.user, days=days), "periods": queries.PERIODS}
    return render(request, "insights/figures.html", context)
