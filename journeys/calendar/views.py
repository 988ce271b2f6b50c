"""The content calendar's screens: the month calendar (a list of the month's posts on a phone-sized
screen), the post form, a post's page with each sender's completion and the share done, and the
phone page of the posts a staff member should publish today."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from journeys.calendar import queries, services
from journeys.calendar.filters import PostFilterSet
from journeys.calendar.forms import PostForm
from journeys.calendar.models import PlannedPost, PostState
from scrm.dashboard import ScopedDetailView, ScopedListView, ScopedTemplateView, scoped_view
from scrm.errors import InvalidInput
from scrm.models import Role
from scrm.scoping import get_visible_or_404

MANAGERS = (Role.OPERATOR, Role.STORE_MANAGER)


def _month(value: str | None) -> dt.date:
    today = timezone.localdate()
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        return dt.date(year, month, 1) if 2000 <= year <= 2100 else today.replace(day=1)
    except ValueError:
        return today.replace(day=1)


class MonthView(ScopedListView):
    """A month of planned posts: a calendar on a desktop, a list by day on a phone."""

    allowed_roles = MANAGERS
    queryset = PlannedPost.objects.select_related("store")
    filterset_class = PostFilterSet
    template_name = "content_calendar/month.html"
    paginate_by = queries.MONTH_MAX_POSTS

    def narrow(self, queryset):
        self.first = _month(self.request.GET.get("month"))
        last = (self.first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        start, end = queries.local_bounds(self.first, last)
        return queryset.filter(publish_at__gte=start, publish_at__lt=end).order_by("publish_at", "id")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = list(context["object_list"])
        weeks = queries.month(PlannedPost.objects.filter(pk__in=[p.pk for p in rows]).select_related("store"),
                              self.first.year, self.first.month)
        previous = (self.first - dt.timedelta(days=1)).replace(day=1)
        following = (self.first + dt.timedelta(days=32)).replace(day=1)
        context.update(weeks=weeks, first=self.first, previous=previous, following=following,
                       days=[d for week in weeks for d in week if d.in_month and d.posts],
                       can_plan=services.can_plan(self.request.user))
        return context


class PostView(ScopedDetailView):
    allowed_roles = MANAGERS
    queryset = PlannedPost.objects.select_related("store")
    template_name = "content_calendar/post.html"
    context_object_name = "post"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        post = context["post"]
        context.update(completion=queries.completion(post, self.request.user),
                       senders=queries.senders(post, self.request.user)[: queries.SENDERS_SHOWN],
                       can_change=services.can_change(self.request.user, post), images=services.images_of(post))
        return context


class PhoneView(ScopedTemplateView):
    """The posts I should publish today, with their text and link to copy into WeCom."""

    template_name = "content_calendar/m_today.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["rows"] = list(queries.today_for(self.request.user)[: queries.PHONE_SHOWN])
        return context


def _form_page(request, form, post=None):
    return render(request, "content_calendar/form.html", {"form": form, "post": post})


def _save(request, post=None):
    form = PostForm(request.POST, request.FILES, user=request.user, post=post)
    if not form.is_valid():
        return _form_page(request, form, post)
    try:
        post = services.save_post(actor=request.user, data=form.to_input(), post=post,
                                  schedule=request.POST.get("action") != "draft", files=form.cleaned_data["images"])
    except InvalidInput as exc:
        fields = {"publish_at": "date", "staff": "staff", "tags": "tags", "store": "store", "text": "text",
                  "title": "title", "audience": "audience", "link_url": "link_url", "image_url": "image_url",
                  "link_title": "link_title", "kind": "kind", "images": "images"}
        for name, problems in (exc.details or {}).items():
            for problem in problems if isinstance(problems, list) else [problems]:
                form.add_error(fields.get(name), str(problem))
        return _form_page(request, form, post)
    messages.success(request, _("Saved: %(title)s (%(state)s).") % {"title": post.title,
                                                                      "state": post.get_state_display()})
    return HttpResponseRedirect(reverse("calendar-post", args=[post.pk]))


@scoped_view
def post_new(request):
    if not services.can_plan(request.user):
        raise PermissionDenied
    if request.method == "POST":
        return _save(request)
    initial = {}
    if request.GET.get("date"):
        initial["date"] = request.GET["date"][:10]
    return _form_page(request, PostForm(user=request.user, initial=initial))


@scoped_view(pk=PlannedPost)
def post_edit(request, pk: int):
    post = get_visible_or_404(PlannedPost, request.user, pk=pk)
    if not services.can_change(request.user, post):
        raise PermissionDenied
    if request.method == "POST":
        return _save(request, post)
    return _form_page(request, PostForm(user=request.user, post=post, initial=PostForm.initial_for(post)), post)


@require_POST
@scoped_view(pk=PlannedPost)
def post_cancel(request, pk: int):
    post = get_visible_or_404(PlannedPost, request.user, pk=pk)
    post = services.cancel_post(actor=request.user, post=post)
    if post.state == PostState.CANCELLED:
        messages.success(request, _("Cancelled: %(title)s.") % {"title": post.title})
    return HttpResponseRedirect(reverse("calendar-post", args=[post.pk]))


urlpatterns = [
    path("calendar/", MonthView.as_view(), name="calendar-month"),
    path("calendar/new/", post_new, name="calendar-new"),
    path("calendar/m/", PhoneView.as_view(), name="calendar-phone"),
    path("calendar/<int:pk>/", PostView.as_view(), name="calendar-post"),
    path("calendar/<int:pk>/edit/", post_edit, name="calendar-edit"),
    path("calendar/<int:pk>/cancel/", post_cancel, name="calendar-cancel"),
]
