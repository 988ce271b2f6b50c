"""Read side of communities: counts beside lists, the staff phone's own communities and today's
events. Every list comes in already scoped (visible_to) or is scoped here by the user."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from communities.models import Community, CommunityMembership, Event, SignUp, SignUpState
from scrm.models import Role


def member_counts(community_ids) -> dict[int, int]:
    rows = (CommunityMembership.objects.filter(community_id__in=list(community_ids), left_at__isnull=True)
            .values("community_id").annotate(n=Count("id")))
    return {r["community_id"]: r["n"] for r in rows}


def signup_counts(event_ids) -> dict[int, dict[str, int]]:
    """Sign-ups by state for each event, one query."""
    counts: dict[int, dict[str, int]] = {pk: dict.fromkeys(SignUpState.values, 0) for pk in event_ids}
    rows = SignUp.objects.filter(event_id__in=list(event_ids)).values("event_id", "state").annotate(n=Count("id"))
    for r in rows:
        counts[r["event_id"]][r["state"]] = r["n"]
    return counts


def my_communities(user, *, whole_store: bool = False) -> QuerySet:
    """A clerk's communities (owner or assistant; `whole_store`: all of the store's); a manager's:
    the store's; an operator's: all."""
    queryset = Community.objects.visible_to(user).select_related("store")
    if getattr(user, "role", None) == Role.STORE_STAFF and not whole_store:
        queryset = queryset.filter(Q(owner=user) | Q(assistants=user)).distinct()
    return queryset.order_by("name")


def todays_events(user, *, now=None) -> QuerySet:
    """Events starting today (local time) or running now, that the user may check people in at."""
    now = timezone.localtime(now or timezone.now())
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    queryset = Event.objects.visible_to(user).filter(
        Q(starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=1)) | Q(starts_at__lte=now, ends_at__gt=now),
        status="open",
    )
    if getattr(user, "store_id", None) is not None:
        queryset = queryset.filter(store_id=user.store_id)  # the doors of their own store
    return queryset.select_related("community", "store").order_by("starts_at", "id")


def door_list(event: Event, user) -> QuerySet:
    """The seated sign-ups of an event for the door, by name, with their check-in if any."""
    return (SignUp.objects.visible_to(user).filter(
        event=event, state__in=[SignUpState.CONFIRMED, SignUpState.OFFERED, SignUpState.ATTENDED])
        .select_related("member").order_by("member__name", "id"))


def manageable_communities(user) -> QuerySet:
    """The active communities the user may hold events in (communities.services.access in one
    query): every one for brand-wide actors, the store's for its manager, their own for a clerk."""
    from scrm.scoping import access_for

    queryset = Community.objects.visible_to(user).filter(status="active").select_related("store")
    if not access_for(user).all_stores and getattr(user, "role", None) == Role.STORE_STAFF:
        queryset = queryset.filter(Q(owner=user) | Q(assistants=user)).distinct()
    return queryset.order_by("store__name", "name")
