"""Member screens: the dashboard list (with the audience builder of members/segments), the member 360
page, its quick tag and note actions, and the staff phone views."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from members import queries
from members.filters import MemberFilterSet
from members.models import Member, MemberTag, NoteKind, ServiceNote, Tag
from members.segments.forms import AudienceForm
from members.segments.views import builder_context, preview_context
from members.services import notes as notes_service
from members.services import tags as tags_service
from scrm.dashboard import ScopedDetailView, ScopedListView, scoped_view
from scrm.errors import ServiceError
from scrm.models import Role
from scrm.scoping import get_visible_or_404


class MemberListView(ScopedListView):
    """Members, narrowed by the audience builder (a segment definition, counted from the bitmap
    index) and by the search box; the builder's audience can be saved as a segment."""

    queryset = Member.live.select_related("home_store", "owner")
    filterset_class = MemberFilterSet
    template_name = "members/member_list.html"
    partial_template_name = "members/_member_rows.html"
    allowed_roles = (Role.OPERATOR, Role.STORE_MANAGER, Role.STORE_STAFF)
    audience = None

    audience_incomplete = False

    def narrow(self, queryset):
        # Listing is asking for the audience's members: every condition shows what is wrong with it.
        self.audience = AudienceForm(self.request.GET or None, user=self.request.user, attempted=True)
        self.audience_count = self.audience_ms = None
        self.audience_incomplete = self.audience.incomplete
        if self.audience_incomplete:
            # An audience we cannot fully understand lists no one, never everyone: the builder shows
            # what is wrong on its rows.
            self.known_count = 0
            return queryset.none()
        if not self.audience.active:
            return queryset
        audience = self.audience.audience()  # evaluated once: the count, this list and the preview
        self.audience_count = self.known_count = audience.count
        self.audience_ms = audience.ms
        return queryset & audience.queryset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(builder_context(self.request, self.audience))
        context.update(preview_context(self.audience))
        context.update(audience_count=self.audience_count, audience_ms=self.audience_ms,
                       audience_incomplete=self.audience_incomplete)
        return context


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


def _member_in_scope(request, pk) -> Member:
    return get_visible_or_404(Member.live.select_related("home_store"), request.user, pk=pk)


@scoped_view(pk=Member)
@require_POST
def toggle_tag(request, pk):
    """One tap on a tag chip adds or removes it; answers with the refreshed chips (htmx)."""
    member = _member_in_scope(request, pk)
    tag = get_visible_or_404(Tag.objects.select_related("group"), request.user, pk=request.POST.get("tag") or 0)
    error = None
    try:
        if MemberTag.objects.filter(member=member, tag=tag).exists():
            tags_service.untag_member(member=member, tag=tag, actor=request.user)
        else:
            tags_service.tag_member(member=member, tag_ids=[tag.pk], actor=request.user)
    except ServiceError as exc:
        error = exc.message
    context = {
        "member": member, "tag_board": queries.tag_board(member), "tag_error": error,
        "origin": request.POST.get("from"),
    }
    if request.htmx:
        return render(request, "members/_quick_tags.html", context)
    return redirect(_back(request, member))


@scoped_view(pk=Member)
@require_POST
def add_note(request, pk):
    member = _member_in_scope(request, pk)
    error = None
    try:
        notes_service.add_note(
            member=member, body=request.POST.get("body", ""), kind=request.POST.get("kind") or "note",
            actor=request.user,
        )
    except ServiceError as exc:
        error = " ".join(str(m) for msgs in exc.details.values() for m in msgs) or exc.message
    context = {
        "member": member,
        "notes": list(ServiceNote.objects.filter(member=member).select_related("author", "store")[:50]),
        "note_kinds": NoteKind.choices,
        "note_error": error,
        "note_body": request.POST.get("body", "") if error else "",
        "origin": request.POST.get("from"),
    }
    if request.htmx:
        return render(request, "members/_notes.html", context)
    return redirect(_back(request, member))


def _back(request, member) -> str:
    name = "mobile-member-detail" if request.POST.get("from") == "mobile" else "member-detail"
    return reverse(name, args=[member.pk])
