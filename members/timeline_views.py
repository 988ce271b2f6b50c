"""The member timeline's own screen: the history section of the member page, filtered by kind and
paged by cursor (the section's htmx partial and the full page come from this one view)."""

from __future__ import annotations

from members import timeline
from members.models import Member
from scrm.dashboard import ScopedDetailView


class MemberTimelineView(ScopedDetailView):
    queryset = Member.live.select_related("home_store")
    template_name = "members/member_timeline.html"
    context_object_name = "member"

    def get_template_names(self):
        if getattr(self.request, "htmx", False) and not self.request.htmx.boosted:
            return ["members/_timeline_entries.html" if "cursor" in self.request.GET else "members/_timeline.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        query = self.request.GET
        context["timeline"] = timeline.page(
            self.object,
            self.request.user,
            kinds=query.getlist("kind"),
            cursor=query.get("cursor") or None,
            limit=timeline.clean_limit(query.get("limit")),
        )
        return context
