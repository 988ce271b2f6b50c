"""Member screens: the dashboard list and the staff phone list."""

from __future__ import annotations

from members import queries
from members.filters import MemberFilterSet
from members.models import Member
from scrm.dashboard import ScopedDetailView, ScopedListView
from scrm.models import Role


class MemberListView(ScopedListView):
    queryset = Member.live.select_related("home_store", "owner")
    filterset_class = MemberFilterSet
    template_name = "members/member_list.html"
    partial_template_name = "members/_member_rows.html"
    allowed_roles = (Role.OPERATOR, Role.STORE_MANAGER, Role.STORE_STAFF)


class MobileMemberListView(MemberListView):
    """"My members" on a phone: the members a clerk owns first, searchable by name or phone."""

    template_name = "members/mobile_member_list.html"
    partial_template_name = "members/_mobile_member_rows.html"
    paginate_by = 30

    def get_filterset_kwargs(self) -> dict:
        kwargs = super().get_filterset_kwargs()
        data = self.request.GET.copy()
        if "all" not in data:
            data["owner"] = str(self.request.user.pk)
        kwargs["data"] = data
        return kwargs


class MemberDetailView(ScopedDetailView):
    """The member 360 page: profile, identities, tags, attributes, consent, staff, notes, history."""

    queryset = Member.live.select_related("home_store", "owner")
    template_name = "members/member_detail.html"
    context_object_name = "member"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(queries.member_360(self.object, self.request.user))
        return context


class MobileMemberDetailView(MemberDetailView):
    template_name = "members/mobile_member_detail.html"
