"""The KOC programme's part of a member's data-subject export and erasure, and how a creator
follows a merge.

The export lists the creator profile, applications, platform accounts, posts with their latest
metrics, topics taken part in, level changes and benefits held. Erasure removes the creator and all
that hangs from it (accounts and posts identify the person on other platforms; the programme's
figures lose them, as they should) and the member's applications. On a merge, a duplicate's
creator moves to the survivor when the survivor has none; when both have one, the duplicate's
posts, accounts on platforms the survivor lacks and topic participations move to the survivor's
creator and the duplicate's creator is removed."""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from koc.models import Account, Application, BenefitGrant, Creator, LevelChange, Participation, Post
from members.privacy_registry import ErasureSubject


def export_koc(member, actor) -> dict:
    creator = Creator.objects.filter(member=member).select_related("level").first()
    applications = list(Application.objects.filter(member=member).order_by("created_at", "id").values(
        "state", "motivation", "platforms", "created_at", "decided_at", "reason"))
    if creator is None:
        return {"creator": None, "applications": applications}
    return {
        "creator": {"status": creator.status, "level": creator.level.name if creator.level else None,
                    "level_since": creator.level_since, "joined_at": creator.joined_at, "bio": creator.bio,
                    "mentor_id": creator.mentor_id},
        "applications": applications,
        "accounts": list(Account.objects.filter(creator=creator).order_by("platform").values(
            "platform", "handle", "url", "followers", "followers_at")),
        "posts": list(Post.objects.filter(creator=creator).order_by("published_at", "id").values(
            "platform", "url", "title", "topic__title", "published_at", "views", "likes", "saves", "comments",
            "shares", "followers_gained", "interactions", "viral", "media_value", "measured_at")),
        "topics": list(Participation.objects.filter(creator=creator).order_by("joined_at").values(
            "topic__title", "joined_at", "rewarded_at")),
        "level_changes": list(LevelChange.objects.filter(creator=creator).order_by("at", "id").values(
            "from_level__name", "to_level__name", "reason", "posts", "viral", "interactions", "at")),
        "benefits": list(BenefitGrant.objects.filter(creator=creator).order_by("granted_at", "id").values(
            "benefit__name", "granted_at", "revoked_at")),
    }


def erase(subject: ErasureSubject) -> dict:
    """Inside the erasure's transaction; idempotent (a second run finds nothing left)."""
    Creator.objects.filter(mentor__member_id__in=subject.member_ids).update(mentor=None)
    creators, _ = Creator.objects.filter(member_id__in=subject.member_ids).delete()
    applications, _ = Application.objects.filter(member_id__in=subject.member_ids).delete()
    return {"creator_rows_removed": creators, "applications_removed": applications}


def merge_creator(survivor_id: int, duplicate_id: int) -> int:
    duplicate = Creator.objects.filter(member_id=duplicate_id).first()
    if duplicate is None:
        return 0
    survivor = Creator.objects.filter(member_id=survivor_id).first()
    if survivor is None:
        return Creator.objects.filter(pk=duplicate.pk).update(member_id=survivor_id)
    moved = Post.objects.filter(creator=duplicate).update(creator=survivor)
    has_platform = Account.objects.filter(creator=survivor, platform=OuterRef("platform"))
    moved += Account.objects.filter(creator=duplicate).exclude(Exists(has_platform)).update(creator=survivor)
    in_topic = Participation.objects.filter(creator=survivor, topic_id=OuterRef("topic_id"))
    moved += Participation.objects.filter(creator=duplicate).exclude(Exists(in_topic)).update(creator=survivor)
    Creator.objects.filter(mentor=duplicate).exclude(pk=survivor.pk).update(mentor=survivor)
    Creator.objects.filter(pk=duplicate.pk).delete()
    return moved


def merge_applications(survivor_id: int, duplicate_id: int) -> int:
    survivor_pending = Application.objects.filter(member_id=survivor_id, state="pending")
    rows = Application.objects.filter(member_id=duplicate_id)
    if survivor_pending.exists():
        rows.filter(state="pending").update(state="rejected", reason="merged into another member's application")
    return rows.update(member_id=survivor_id)


def register() -> None:
    from members import privacy_registry
    from members.services import merge

    privacy_registry.register_export_part("koc", export_koc)
    privacy_registry.register_erasure_step("koc", erase)
    merge.register_handler(Creator, "member", merge_creator)
    merge.register_handler(Application, "member", merge_applications)
