"""Communities' entries on the member timeline: joined a community, invited to one, signed up for an
event (or joined its waitlist), checked in at one, rated one."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from communities.models import CheckIn, CommunityMembership, EventFeedback, Invitation, SignUp
from members.timeline import Entry, Window
from scrm.scoping import scope

MESSAGES = {
    "joined": _("Joined the community %(community)s"),
    "signed_up": _("Signed up for %(event)s"),
    "waitlisted": _("Joined the waitlist of %(event)s (position %(position)s)"),
    "checked_in": _("Checked in at %(event)s"),
    "invited": _("Invited to the community %(community)s"),
    "rated": _("Rated %(event)s %(rating)s of 5"),
}


def memberships_source(window: Window):
    rows = scope(CommunityMembership.objects.filter(member=window.member), window.reader).select_related("community")
    return [Entry(at=m.joined_at, pk=m.pk, code="joined", params={"community": m.community.name})
            for m in window.page(rows, at="joined_at", pk="id")]


def signups_source(window: Window):
    rows = scope(SignUp.objects.filter(member=window.member), window.reader).select_related("event")
    entries = []
    for s in window.page(rows, at="created_at", pk="id"):
        waiting = s.position is not None  # a position is given only to those who joined the waitlist
        entries.append(Entry(at=s.created_at, pk=s.pk, code="waitlisted" if waiting else "signed_up",
                             params={"event": s.event.title, "position": s.position}))
    return entries


def checkins_source(window: Window):
    rows = scope(CheckIn.objects.filter(member=window.member), window.reader).select_related("event")
    return [Entry(at=c.at, pk=c.pk, code="checked_in", params={"event": c.event.title})
            for c in window.page(rows, at="at", pk="id")]


def invitations_source(window: Window):
    rows = scope(Invitation.objects.filter(member=window.member), window.reader).select_related("community")
    return [Entry(at=i.created_at, pk=i.pk, code="invited", params={"community": i.community.name})
            for i in window.page(rows, at="created_at", pk="id")]


def feedback_source(window: Window):
    rows = scope(EventFeedback.objects.filter(member=window.member), window.reader).select_related("event")
    return [Entry(at=f.created_at, pk=f.pk, code="rated", params={"event": f.event.title, "rating": f.rating})
            for f in window.page(rows, at="created_at", pk="id")]


def register() -> None:
    from members import timeline

    timeline.register("communities", memberships_source, label=_("Communities and events"), messages=MESSAGES,
                      name="communities-memberships", order=60)
    timeline.register("communities", signups_source, messages=MESSAGES, name="communities-signups")
    timeline.register("communities", checkins_source, messages=MESSAGES, name="communities-checkins")
    timeline.register("communities", invitations_source, messages=MESSAGES, name="communities-invitations")
    timeline.register("communities", feedback_source, messages=MESSAGES, name="communities-feedback")
