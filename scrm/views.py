"""Dashboard and staff phone views of the organisation, and the health endpoint."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from scrm import queries
from scrm.dashboard import ScopedListView
from scrm.filters import StaffFilterSet, StoreFilterSet
from scrm.models import Role, Store, User
from scrm.services import health


@require_GET
@never_cache
def healthz(request):
    """200 when the database and the broker answer, 503 naming what does not."""
    problems = [p for p in (health.check_database(), health.check_broker()) if p]
    if problems:
        return JsonResponse({"status": "unavailable", "problems": problems}, status=503)
    return JsonResponse({"status": "ok"})


@login_required
def home(request):
    if request.user.role == Role.STORE_STAFF:
        return redirect("mobile-home")
    return render(request, "scrm/home.html", {"figures": queries.home_figures(request.user)})


@login_required
def mobile_home(request):
    return render(request, "scrm/mobile_home.html", {"figures": queries.staff_home_figures(request.user)})


class StoreListView(ScopedListView):
    allowed_roles = (Role.OPERATOR, Role.STORE_MANAGER)
    queryset = Store.objects.select_related("region").order_by("code")
    filterset_class = StoreFilterSet
    template_name = "scrm/store_list.html"
    partial_template_name = "scrm/_store_rows.html"


class StaffListView(ScopedListView):
    allowed_roles = (Role.OPERATOR, Role.STORE_MANAGER)
    queryset = User.objects.select_related("store").order_by("store__code", "username")
    filterset_class = StaffFilterSet
    template_name = "scrm/staff_list.html"
    partial_template_name = "scrm/_staff_rows.html"
