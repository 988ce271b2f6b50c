"""Read-side figures for the dashboard home and the staff phone home."""

from __future__ import annotations

from datetime import timedelta

from django.core.cache import cache
from django.db.models import Count, Q
from django.utils import timezone

from members.models import Member, Stage
from scrm.models import Store, User
from scrm.scoping import access_for, scope
from scrm.services.health import heartbeats

FIGURES_TTL = 60  # seconds; member counts over tens of millions of rows are not worth redoing per view


def home_figures(user) -> dict:
    access = access_for(user)
    key = f"home-figures:{'all' if access.all_stores else access.store_id}"
    figures = cache.get(key)
    if figures is None:
        figures = _compute_home_figures(user)
        cache.set(key, figures, FIGURES_TTL)
    figures["heartbeats"] = service_status()
    return figures


def _compute_home_figures(user) -> dict:
    now = timezone.now()
    members = scope(Member.live.all(), user)
    totals = members.aggregate(
        total=Count("id"),
        new_7d=Count("id", filter=Q(created_at__gte=now - timedelta(days=7))),
        new_30d=Count("id", filter=Q(created_at__gte=now - timedelta(days=30))),
    )
    stage_counts = dict(members.values_list("stage").annotate(n=Count("id")).order_by())
    stages = [
        {"code": code, "label": label, "count": stage_counts.get(code, 0)}
        for code, label in Stage.choices
    ]
    top_stores = list(
        scope(Store.objects.filter(is_active=True), user)
        .annotate(
            member_count=Count(
                "members", filter=Q(members__merged_into__isnull=True, members__erased_at__isnull=True)
            )
        )
        .select_related("region")
        .order_by("-member_count", "code")[:8]
        .values("id", "code", "name", "city", "region__name", "member_count")
    )
    return {
        "members_total": totals["total"],
        "members_new_7d": totals["new_7d"],
        "members_new_30d": totals["new_30d"],
        "stores_active": scope(Store.objects.filter(is_active=True), user).count(),
        "staff_active": scope(User.objects.filter(is_active=True), user).count(),
        "stages": stages,
        "stage_max": max([s["count"] for s in stages] + [1]),
        "top_stores": top_stores,
        "computed_at": now,
    }


def service_status() -> list[dict]:
    """Worker and scheduler liveness from their heartbeats (beat ticks every 30 s)."""
    seen = heartbeats()
    now = timezone.now()
    rows = []
    for name in ("worker", "beat"):
        at = seen.get(name)
        rows.append({"name": name, "seen_at": at, "ok": at is not None and now - at < timedelta(seconds=90)})
    return rows


def staff_home_figures(user) -> dict:
    now = timezone.now()
    mine = Member.live.filter(owner=user)
    store_members = scope(Member.live.all(), user)
    week = now - timedelta(days=7)
    return {
        "my_members": mine.count(),
        "my_new_7d": mine.filter(created_at__gte=week).count(),
        "store_members": store_members.count(),
        "recent": list(mine.select_related("home_store").order_by("-id")[:10]),
    }
