"""Read-side figures of the organisation for the dashboard home (the apps built on scrm add theirs
through scrm.overview), and the background services' liveness."""

from __future__ import annotations

from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone

from scrm.models import Store, User
from scrm.scoping import access_for, scope
from scrm.services.health import heartbeats

FIGURES_TTL = 60  # seconds, as the sections' own figures: the page's "as of" time holds for all of them


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
    return {
        "stores_active": scope(Store.objects.filter(is_active=True), user).count(),
        "staff_active": scope(User.objects.filter(is_active=True), user).count(),
        "computed_at": timezone.now(),
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
