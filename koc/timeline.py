"""The KOC programme's entries on the member timeline: joined the programme, moved between levels,
published a post."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from koc.models import Creator, LevelChange, Post
from members.timeline import Entry, Window
from scrm.scoping import scope

MESSAGES = {
    "joined": _("Joined the KOC programme"),
    "level": _("KOC level: %(from)s → %(to)s"),
    "post": _("Published on %(platform)s: %(title)s"),
}


def creator_source(window: Window):
    rows = scope(Creator.objects.filter(member=window.member), window.reader)
    return [Entry(at=c.joined_at, pk=c.pk, code="joined", params={})
            for c in window.page(rows, at="joined_at", pk="id")]


def level_source(window: Window):
    rows = scope(LevelChange.objects.filter(creator__member=window.member), window.reader).select_related(
        "from_level", "to_level")
    dash = "—"
    return [Entry(at=c.at, pk=c.pk, code="level",
                  params={"from": c.from_level.name if c.from_level else dash,
                          "to": c.to_level.name if c.to_level else dash})
            for c in window.page(rows, at="at", pk="id")]


def post_source(window: Window):
    rows = scope(Post.objects.filter(creator__member=window.member), window.reader)
    return [Entry(at=p.published_at, pk=p.pk, code="post",
                  params={"platform": p.get_platform_display(), "title": p.title or p.url})
            for p in window.page(rows, at="published_at", pk="id")]


def register() -> None:
    from members import timeline

    timeline.register("koc", creator_source, label=_("KOC programme"), messages=MESSAGES, name="koc-creator", order=70)
    timeline.register("koc", level_source, messages=MESSAGES, name="koc-levels")
    timeline.register("koc", post_source, messages=MESSAGES, name="koc-posts")
