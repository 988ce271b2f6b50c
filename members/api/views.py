from __future__ import annotations

from members.api.serializers import MemberSerializer
from members.filters import MemberFilterSet
from members.models import Member
from scrm.api.viewsets import ScopedReadOnlyViewSet


class MemberViewSet(ScopedReadOnlyViewSet):
    queryset = Member.live.select_related("home_store", "owner")
    serializer_class = MemberSerializer
    filterset_class = MemberFilterSet
    scope_resource = "members"
