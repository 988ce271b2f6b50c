"""The Figures page and the cockpit (with its tables' exports): operators see the brand (or one
store of it), store managers their store; clerks neither."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from insights import queries, services
from insights.cockpit import base as cockpit_base
from insights.cockpit import exports
from insights.cockpit.base import open_cockpit, parse_period
from scrm.dashboard import scoped_view
from scrm.errors import InvalidInput
from scrm.models import Store


@scoped_view
def figures(request):
    if not services.can_read_figures(request.user):
        raise PermissionDenied
    days = queries.period(request.GET.get("days"))
    context = {**queries.figures(request.user, days=days), "periods": queries.PERIODS}
    return render(request, "insights/figures.html", context)


def _cockpit(request):
    if not services.can_read_figures(request.user):
        raise PermissionDenied
    period = parse_period(request.GET)
    return open_cockpit(request.user, period=period, store_id=request.GET.get("store") or None)


def _page(request, page: str):
    board = _cockpit(request)
    # The store page shows one store: an operator who has not chosen one is asked to.
    read = [] if page == "store" and board.store is None else cockpit_base.read(board, page=page)
    charts = {c.key: c.as_dict() for _s, data in read for c in data.charts}
    stores = Store.objects.visible_to(request.user).order_by("code") if services.can_read_brand(request.user) else []
    context = {
        "cockpit": board, "sections": read, "charts": charts, "presets": cockpit_base.PRESETS, "stores": stores,
        "period_query": urlencode({k: v for k, v in request.GET.items() if k in ("days", "start", "end")}),
        "currency": settings.SIYU_CURRENCIES[0], "page": page,
    }
    return render(request, "insights/cockpit/page.html", context)


@scoped_view
def cockpit(request):
    """The cockpit: members, the 5A funnel, buyers and sales, campaigns, tasks, communities, KOC output
    and WeCom churn of a period against the period before; operators the brand or one store, store
    managers their store."""
    return _page(request, "cockpit")


@scoped_view
def store_page(request):
    """One store's members (potential, converted, served), staff leaderboard and overdue tasks:
    operators choose the store, store managers read theirs."""
    return _page(request, "store")


@require_GET
@scoped_view
def cockpit_export(request):
    """One table of the cockpit (?table=...) as CSV or XLSX (?format=), for the same period and store."""
    board = _cockpit(request)
    page = request.GET.get("page") or "cockpit"
    if page not in cockpit_base.PAGES:
        raise InvalidInput(details={"page": [_("The page is one of: %(pages)s.") % {
            "pages": ", ".join(cockpit_base.PAGES)}]})
    read = cockpit_base.read(board, page=page)
    table = exports.find_table([data for _s, data in read], request.GET.get("table"))
    file_format = request.GET.get("format", "csv")
    body = exports.export(table, file_format)
    response = HttpResponse(body, content_type=exports.CONTENT_TYPES[file_format])
    name = f"cockpit-{table.key}-{board.period.start}-{board.period.end}.{file_format}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
