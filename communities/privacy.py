"""Communities' part of a member's data-subject export and erasure, and how their rows follow a
merge. The export lists the member's memberships, sign-ups, check-ins, event notices, scan
conflicts, invitations, requests for feedback and event feedback. The rows hold no free text about
the person but the feedback's comment, so erasure keeps them (an event's counts and ratings stay
true), blanks the comments, drops invitations and feedback requests not yet sent, and gives up the
seats the member still holds or waits for at events not yet started: they go to the next in line."""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from django.utils import timezone

from communities.models import (
    ACTIVE,
    CancelledBy,
    CheckIn,
    CommunityMembership,
    EventFeedback,
    EventReminder,
    FeedbackRequest,
    Invitation,
    ScanConflict,
    SignUp,
    SignUpState,
)
from members.privacy_registry import ErasureSubject
from scrm.actors import SystemActor

ERASURE_ACTOR = SystemActor("communities:erasure")
MERGE_ACTOR = SystemActor("communities:merge")
UPCOMING = [s for s in ACTIVE if s != SignUpState.ATTENDED]


def export_communities(member, actor) -> dict:
    memberships = list(CommunityMembership.objects.filter(member=member).order_by("joined_at", "id").values(
        "community_id", "community__name", "community__store__code", "role", "source", "joined_at", "left_at"))
    signups = list(SignUp.objects.filter(member=member).order_by("created_at", "id").values(
        "event_id", "event__title", "event__starts_at", "state", "position", "code", "source", "created_at",
        "confirmed_at", "offered_at", "offer_expires_at", "cancelled_at", "cancelled_by"))
    checkins = list(CheckIn.objects.filter(member=member).order_by("at", "id").values(
        "event_id", "event__title", "walk_in", "source", "at"))
    notices = list(EventReminder.objects.filter(member=member).order_by("created_at", "id").values(
        "event_id", "kind", "text", "created_at", "handed_at"))
    conflicts = list(ScanConflict.objects.filter(member=member).order_by("at", "id").values(
        "event_id", "source", "device", "at", "found_at"))
    invitations = list(Invitation.objects.filter(member=member).order_by("created_at", "id").values(
        "community_id", "community__name", "batch__expires_at", "created_at", "handed_at", "joined_at"))
    asked = list(FeedbackRequest.objects.filter(member=member).order_by("created_at", "id").values(
        "event_id", "event__title", "created_at", "handed_at"))
    feedback = list(EventFeedback.objects.filter(member=member).order_by("created_at", "id").values(
        "event_id", "event__title", "rating", "comment", "source", "created_at", "updated_at"))
    return {"memberships": memberships, "signups": signups, "checkins": checkins, "notices": notices,
            "scan_conflicts": conflicts, "invitations": invitations, "feedback_requests": asked, "feedback": feedback}


def erase(subject: ErasureSubject) -> dict:
    """Inside the erasure's transaction; idempotent (a second run finds no seat left to give up)."""
    from communities.services import signups as signup_services

    upcoming = SignUp.objects.filter(member_id__in=subject.member_ids, state__in=UPCOMING,
                                     event__starts_at__gt=timezone.now()).order_by("event_id", "id")
    released = 0
    for signup in upcoming:
        signup_services.cancel(signup=signup, actor=ERASURE_ACTOR, by=CancelledBy.MEMBER)
        released += 1
    left = CommunityMembership.objects.filter(member_id__in=subject.member_ids, left_at__isnull=True).update(
        left_at=timezone.now())
    # Notices not yet handed to the campaigns' engine are not sent to an erased member.
    unsent, _kinds = EventReminder.objects.filter(member_id__in=subject.member_ids, handed_at__isnull=True).delete()
    uninvited, _kinds = Invitation.objects.filter(member_id__in=subject.member_ids, handed_at__isnull=True).delete()
    unasked, _kinds = FeedbackRequest.objects.filter(member_id__in=subject.member_ids, handed_at__isnull=True).delete()
    blanked = EventFeedback.objects.filter(member_id__in=subject.member_ids).exclude(comment="").update(comment="")
    return {"signups_cancelled": released, "memberships_ended": left, "notices_dropped": unsent,
            "invitations_dropped": uninvited, "feedback_requests_dropped": unasked,
            "feedback_comments_blanked": blanked}


def merge_signups(survivor_id: int, duplicate_id: int) -> int:
    """A duplicate's sign-ups move to the survivor; where both hold one at the same event, the
    duplicate's is cancelled first (its seat goes to the next in line), so no one holds two."""
    from communities.services import signups as signup_services

    survivor_has = SignUp.objects.filter(member_id=survivor_id, event_id=OuterRef("event_id"), state__in=ACTIVE)
    for signup in SignUp.objects.filter(member_id=duplicate_id, state__in=UPCOMING).filter(Exists(survivor_has)):
        signup_services.cancel(signup=signup, actor=MERGE_ACTOR, by=CancelledBy.MEMBER)
    return _move_signups(survivor_id, duplicate_id)


def _move_signups(survivor_id: int, duplicate_id: int) -> int:
    """Every sign-up of the duplicate but an active one beside the survivor's (one already attended)."""
    clash = SignUp.objects.filter(member_id=survivor_id, event_id=OuterRef("event_id"), state__in=ACTIVE)
    active_clashing = SignUp.objects.filter(member_id=duplicate_id, state__in=ACTIVE).filter(Exists(clash))
    return SignUp.objects.filter(member_id=duplicate_id).exclude(pk__in=active_clashing.values("pk")).update(
        member_id=survivor_id)


def register() -> None:
    from members import privacy_registry
    from members.services import merge

    privacy_registry.register_export_part("communities", export_communities)
    privacy_registry.register_erasure_step("communities", erase)
    merge.register_handler(SignUp, "member", merge_signups)
