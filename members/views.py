"""Member screens: the dashboard list and the staff phone list."""

from __future__ import annotations

import time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from members import queries
from members.filters import MemberFilterSet
from members.forms import AudienceForm, SaveSegmentForm
from members.models import Member, MemberTag, NoteKind, ServiceNote, Tag
from members.segments import queries as segment_queries
from members.segments import services as segment_services
from members.segments.models import Segment
from members.services import notes as notes_service
from members.services import tags as tags_service
from scrm.dashboard import ScopedDetailView, ScopedListView
from scrm.errors import ServiceError
from scrm.models import Role
from scrm.scoping import scope


class MemberListView(ScopedListView):
    """Members, narrowed by the audience builder (a segment definition, counted from the bitmap
    index) and by the search box; the builder's audience can be saved as a segment."""

    queryset = Member.live.select_related("home_store", "owner")
    filterset_class = MemberFilterSet
    template_name = "members/member_list.html"
    partial_template_name = "members/_member_rows.html"
    allowed_roles = (Role.OPERATOR, Role.STORE_MANAGER, Role.STORE_STAFF)
    audience = None

    def narrow(self, queryset):
        self.audience = AudienceForm(self.request.GET or None, user=self.request.user)
        self.audience_count = self.audience_ms = None
        if not self.audience.active:
            return queryset
        definition = self.audience.definition()
        started = time.perf_counter()
        self.audience_count = self.known_count = segment_queries.count(definition, self.request.user)
        self.audience_ms = round((time.perf_counter() - started) * 1000, 1)
        return queryset & segment_queries.member_queryset(definition, self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(_builder_context(self.request, self.audience))
        context.update(_preview(self.request, self.audience))
        context.update(audience_count=self.audience_count, audience_ms=self.audience_ms)
        return context


def _builder_context(request, audience: AudienceForm) -> dict:
    segment = audience.segment
    return {
        "audience": audience, "tree": audience.decorate(), "filter_choices": audience.filter_choices(),
        "save_form": SaveSegmentForm(initial={"name": segment.name} if segment else None),
        "editing": segment, "can_update": segment is not None and segment_services.can_change(segment, request.user),
        "can_save": request.user.role in (Role.OPERATOR, Role.STORE_MANAGER),
    }


PREVIEW_SAMPLE = 5


@login_required
def audience_builder(request):
    """The builder's htmx endpoint. With `action` (add / group / remove a row) or `tree`: the
    re-rendered builder, and the preview out of band; otherwise the live count and a small sample."""
    audience = AudienceForm(request.GET, user=request.user)
    action = request.GET.get("action")
    audience.apply(action)
    preview = _preview(request, audience)
    if action or request.GET.get("tree"):
        context = {**_builder_context(request, audience), **preview, "oob": True}
        return render(request, "members/_audience_builder.html", context)
    return render(request, "members/_audience_preview.html", preview)


def _preview(request, audience: AudienceForm) -> dict:
    if audience.conditions == 0:
        return {"preview": None, "audience": audience}
    if not audience.is_valid():
        return {"preview": None, "audience": audience, "preview_errors": audience.all_errors()}
    result = segment_queries.preview(audience.definition(), request.user, n=PREVIEW_SAMPLE)
    return {"preview": result, "audience": audience}


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
    return get_object_or_404(scope(Member.live.select_related("home_store"), request.user), pk=pk)


@login_required
@require_POST
def toggle_tag(request, pk):
    """One tap on a tag chip adds or removes it; answers with the refreshed chips (htmx)."""
    member = _member_in_scope(request, pk)
    tag = get_object_or_404(Tag.objects.select_related("group"), pk=request.POST.get("tag") or 0)
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


@login_required
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


@login_required
@require_POST
def save_segment(request):
    """Save the builder's audience (posted with the builder's fields) as a new segment, or with
    `update` as the segment being edited."""
    if request.user.role not in (Role.OPERATOR, Role.STORE_MANAGER):
        raise PermissionDenied
    audience = AudienceForm(request.POST, user=request.user)
    form = SaveSegmentForm(request.POST)
    back = f"{reverse('member-list')}?{_builder_query(request.POST)}"
    if not form.is_valid() or audience.conditions == 0:
        messages.error(request, _("Give the segment a name and at least one condition."))
        return _go(request, back)
    if not audience.is_valid():
        messages.error(request, " ".join(audience.all_errors()))
        return _go(request, back)
    try:
        if request.POST.get("update") and audience.segment is not None:
            segment = segment_services.update_segment(
                segment=audience.segment, actor=request.user, name=form.cleaned_data["name"],
                description=form.cleaned_data["description"] or audience.segment.description,
                definition=audience.definition(),
            )
        else:
            segment = segment_services.create_segment(
                actor=request.user, name=form.cleaned_data["name"], description=form.cleaned_data["description"],
                definition=audience.definition(),
            )
    except (ServiceError, ValidationError, ValueError) as exc:
        messages.error(request, str(getattr(exc, "message", exc)))
        return _go(request, back)
    messages.success(request, _("Segment %(name)s saved.") % {"name": segment.name})
    return _go(request, f"{reverse('member-list')}?segment={segment.pk}")


def _builder_query(data) -> str:
    query = data.copy()
    for key in ("csrfmiddlewaretoken", "name", "description", "update", "action"):
        query.pop(key, None)
    return query.urlencode()


def _go(request, url):
    """A redirect; htmx requests get HX-Redirect so the whole page moves."""
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


class SegmentListView(ScopedListView):
    """Saved segments: the store's own and the brand-wide ones (read-only for store managers, counted
    for their store only); open one in the builder, export, recount or snapshot it."""

    allowed_roles = (Role.OPERATOR, Role.STORE_MANAGER)
    queryset = Segment.objects.select_related("store", "created_by").order_by("-updated_at", "-id")
    template_name = "members/segment_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["rows"] = [
            {"segment": s, "editable": segment_services.can_change(s, user),
             "own_count": segment_queries.sees_whole_audience(s, user)}
            for s in context["object_list"]
        ]
        return context


@login_required
def segment_count(request, pk):
    """A segment's count as the reader sees it (their store's part of a brand-wide one), for htmx."""
    if request.user.role not in (Role.OPERATOR, Role.STORE_MANAGER):
        raise PermissionDenied
    segment = get_object_or_404(scope(Segment.objects.all(), request.user), pk=pk)
    try:
        n = segment_queries.count(segment.definition, request.user, store_id=segment.store_id)
    except segment_queries.DefinitionError:
        return HttpResponse("—")
    return HttpResponse(f"{n:,}")


@login_required
@require_POST
def segment_action(request, pk, action):
    if request.user.role not in (Role.OPERATOR, Role.STORE_MANAGER):
        raise PermissionDenied
    segment = get_object_or_404(scope(Segment.objects.all(), request.user), pk=pk)
    try:
        if action == "recount":
            n = segment_services.recount_segment(segment=segment, actor=request.user)
            messages.success(request, _("%(name)s: %(n)s members.") % {"name": segment.name, "n": f"{n:,}"})
        elif action == "snapshot":
            snap = segment_services.snapshot_segment(segment=segment, actor=request.user)
            messages.success(
                request,
                _("Snapshot of %(name)s taken: %(n)s members.") % {"name": segment.name, "n": f"{snap.member_count:,}"},
            )
        elif action == "delete":
            segment_services.delete_segment(segment=segment, actor=request.user)
            messages.success(request, _("Segment %(name)s deleted.") % {"name": segment.name})
        else:
            raise Http404
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("segment-list")
