"""Segment screens: the audience builder's htmx endpoint (its rows, the live count and sample), saving
the builder's audience as a segment, and the segment list with its counts and actions.

The builder sits on the member list (members/views.py), which renders it with builder_context() and
preview_context() from here.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from members.segments import queries as segment_queries
from members.segments import services as segment_services
from members.segments.audience import Audience
from members.segments.forms import AudienceForm, SaveSegmentForm
from members.segments.models import Segment
from scrm.dashboard import ScopedListView, scoped_view
from scrm.errors import ServiceError
from scrm.models import Role
from scrm.scoping import get_visible_or_404

PREVIEW_SAMPLE = 5


def builder_context(request, form: AudienceForm) -> dict:
    """What the builder's template needs: its rows, the filter picker and the save form."""
    segment = form.segment
    return {
        "audience": form, "tree": form.decorate(), "filter_choices": form.filter_choices(),
        "save_form": SaveSegmentForm(initial={"name": segment.name} if segment else None),
        "editing": segment, "can_update": segment is not None and segment_services.can_change(segment, request.user),
        "can_save": segment_services.can_use_segments(request.user),
    }


def preview_context(form: AudienceForm) -> dict:
    """The live count and a few members of the builder's audience, or what is wrong with it: the
    errors of the rows the user has tried, else a hint that some condition is not finished yet."""
    if form.conditions == 0:
        return {"preview": None, "audience": form}
    if not form.is_valid():
        return {"preview": None, "audience": form, "preview_errors": form.shown_errors(), "preview_unfinished": True}
    return {"preview": form.audience().preview(PREVIEW_SAMPLE), "audience": form}


@scoped_view
def audience_builder(request):
    """The builder's htmx endpoint. With `action` (add / group / remove a row) or `tree`: the
    re-rendered builder, and the preview out of band; otherwise the live count and a small sample,
    with each tried row's errors out of band (shown while wrong, gone once fixed)."""
    form = AudienceForm(request.GET, user=request.user)
    action = request.GET.get("action")
    form.apply(action)
    preview = preview_context(form)
    if action or request.GET.get("tree"):
        context = {**builder_context(request, form), **preview, "oob": True}
        return render(request, "segments/_audience_builder.html", context)
    return render(request, "segments/_audience_preview.html", {**preview, "row_errors": form.conditions_list()})


@scoped_view
@require_POST
def save_segment(request):
    """Save the builder's audience (posted with the builder's fields) as a new segment, or with
    `update` as the segment being edited."""
    if not segment_services.can_use_segments(request.user):
        raise PermissionDenied
    audience = AudienceForm(request.POST, user=request.user, attempted=True)
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
    template_name = "segments/segment_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["rows"] = [
            {"segment": s, "editable": segment_services.can_change(s, user),
             "own_count": segment_queries.sees_whole_audience(s, user)}
            for s in context["object_list"]
        ]
        return context


def _visible_segment(request, pk) -> Segment:
    if not segment_services.can_use_segments(request.user):
        raise PermissionDenied
    return get_visible_or_404(Segment.objects.all(), request.user, pk=pk)


@scoped_view(pk=Segment)
def segment_count(request, pk):
    """A segment's count as the reader sees it (their store's part of a brand-wide one), for htmx."""
    audience = Audience.of_segment(_visible_segment(request, pk), actor=request.user)
    if not audience.is_valid:  # a definition naming something deleted since
        return HttpResponse("—")
    return HttpResponse(f"{audience.count:,}")


@scoped_view(pk=Segment)
@require_POST
def segment_action(request, pk, action):
    segment = _visible_segment(request, pk)
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
