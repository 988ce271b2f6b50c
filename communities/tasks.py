"""Celery entry points of communities: thin triggers over the database, safe to run twice or late."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="communities.tasks.expire_offers", ignore_result=True, soft_time_limit=50, time_limit=58)
def expire_offers() -> int:
    """For the beat schedule: lapse waitlist offers not confirmed in time; their seats go to the next in line."""
    from communities.services import reminders, signups

    lapsed = signups.expire_offers()
    reminders.hand_over()  # the next in line hears of their seat within the minute
    return lapsed


@shared_task(name="communities.tasks.send_reminders", ignore_result=True, soft_time_limit=240, time_limit=270)
def send_reminders() -> int:
    """For the beat schedule: remind members of their seats a day and two hours before the event, ask
    attendees for their feedback after it, and hand every waiting notice (reminders, freed seats
    offered, feedback requests) to the campaigns' engine."""
    from communities.services import feedback_requests, invitations, reminders

    written = reminders.remind_due() + feedback_requests.ask_due()
    handed = reminders.hand_over() + feedback_requests.hand_over()
    return written + handed + invitations.hand_over()  # invitations a lost trigger left waiting


@shared_task(name="communities.tasks.send_invitations", ignore_result=True, acks_late=True, soft_time_limit=240,
             time_limit=270)
def send_invitations() -> int:
    """Queued when invitations are written: hand them to the campaigns' engine (send_reminders catches
    up any a lost trigger left)."""
    from communities.services import invitations

    return invitations.hand_over()


@shared_task(name="communities.tasks.apply_membership_rules", ignore_result=True, soft_time_limit=540,
             time_limit=590)
def apply_membership_rules(community_id: int | None = None) -> int:
    """For the beat schedule (daily), and queued when a community's rule is saved: the standing rules'
    segments' members join automatically, and those who left the segment leave (automatic ones only)."""
    from communities.services import automatic

    return automatic.apply_all(community_ids=[community_id] if community_id else None)


@shared_task(name="communities.tasks.mirror_wecom_groups", ignore_result=True, soft_time_limit=240, time_limit=270)
def mirror_wecom_groups() -> int:
    """For the beat schedule: communities linked to a WeCom customer group follow its members (a
    missed callback is caught up here)."""
    from communities.services import wecom_groups

    done = wecom_groups.mirror()
    return done.joined + done.left
