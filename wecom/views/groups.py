"""Screens: WeCom customer groups. The list (filter by store, owner, status; member counts), scoped:
store roles see their store's groups; and a group's page with its members, each customer linking to
their member page when the reader may see that member."""

from __future__ import annotations

from django.urls import path

from members.models import Member
from scrm.dashboard import ScopedListView
from wecom.filters import CustomerGroupFilterSet, CustomerGroupMemberFilterSet
from wecom.models import CustomerGroup, CustomerGroupMember


class GroupListView(ScopedListView):
    queryset = CustomerGroup.objects.select_related("owner__user", "store").order_by("store__code", "name", "id")
    filterset_class = CustomerGroupFilterSet
    template_name = "wecom/groups_list.html"
    partial_template_name = "wecom/groups_rows.html"


class GroupDetailView(ScopedListView):
    """A group's page: what WeCom says of it, and its members (present first), paged."""

    queryset = CustomerGroupMember.objects.select_related("member", "staff__user").order_by(
        "left_at", "kind", "joined_at", "id")
    filterset_class = CustomerGroupMemberFilterSet
    parent_queryset = CustomerGroup.objects.select_related("owner__user", "store")
    parent_field = "group"
    parent_attr = "group"
    paginate_by = 100
    template_name = "wecom/group_detail.html"
    partial_template_name = "wecom/group_members.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = list(context["object_list"])
        ids = {r.member_id for r in rows if r.member_id}
        context["visible_members"] = set(
            Member.live.visible_to(self.request.user).filter(pk__in=ids).values_list("pk", flat=True))
        context["rows"] = rows
        context["group"] = self.group
        context["left"] = self.group.members.filter(left_at__isnull=False).count()
        return context


urlpatterns = [
    path("wecom/groups/", GroupListView.as_view(), name="wecom-group-list"),
    path("wecom/groups/<int:pk>/", GroupDetailView.as_view(), name="wecom-group-detail"),
]
