"""Screens of seasons, beside the send policy: the list (every role reads it, with the caps that hold
today), and for operators a new season, a season's edit page and its deletion. The rules (dates,
caps, no overlap) are campaigns.services.seasons', the same the API calls."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campaigns.forms import SeasonForm
from campaigns.models import Season
from campaigns.services import policy as policy_service
from campaigns.services import respect
from campaigns.services import seasons as service
from scrm import permissions
from scrm.dashboard import ScopedListView, scoped_view
from scrm.errors import InvalidInput
from scrm.scoping import get_visible_or_404


class SeasonListView(ScopedListView):
    queryset = Season.objects.all()
    template_name = "campaigns/seasons.html"
    paginate_by = 100

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not permissions.has_scope(
                request.user, permissions.resource(policy_service.RESOURCE).read_scope):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        today = timezone.localdate()
        rows = list(context["object_list"])
        for season in rows:
            season.span = service.span_text(season)
            season.active = season.contains(today)
        pol = respect.policy()
        daily, weekly, monthly = respect.caps_on(pol, today)
        context.update(
            rows=rows, today=today, current=service.season_on(today, rows),
            caps_today={"daily": daily, "weekly": weekly, "monthly": monthly},
            can_edit=permissions.can_write(self.request.user, policy_service.RESOURCE),
        )
        return context


def _form_page(request, *, season: Season | None):
    if not permissions.can_write(request.user, policy_service.RESOURCE):
        raise PermissionDenied
    status = 200
    if request.method == "POST":
        form = SeasonForm(request.POST)
        if form.is_valid():
            try:
                saved = service.save_season(actor=request.user, values=dict(form.cleaned_data), season=season)
            except InvalidInput as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("Season %(name)s saved; its caps hold on its days from now on.")
                                 % {"name": saved.name})
                return redirect("campaign-seasons")
        status = 400
    elif season is not None:
        form = SeasonForm(initial={name: getattr(season, name) for name in service.FIELDS})
    else:
        form = SeasonForm()
    return render(request, "campaigns/season_form.html", {"form": form, "season": season}, status=status)


@scoped_view
def season_create(request):
    return _form_page(request, season=None)


@scoped_view(pk=Season)
def season_edit(request, pk):
    return _form_page(request, season=get_visible_or_404(Season.objects.all(), request.user, pk=pk))


@scoped_view(pk=Season)
@require_POST
def season_delete(request, pk):
    season = get_visible_or_404(Season.objects.all(), request.user, pk=pk)
    service.delete_season(actor=request.user, season=season)  # Forbidden: shown by the middleware
    messages.success(request, _("Season %(name)s deleted; the send policy's caps hold on its days again.")
                     % {"name": season.name})
    return redirect("campaign-seasons")


urlpatterns = [
    path("campaigns/policy/seasons/", SeasonListView.as_view(), name="campaign-seasons"),
    path("campaigns/policy/seasons/new/", season_create, name="campaign-season-create"),
    path("campaigns/policy/seasons/<int:pk>/", season_edit, name="campaign-season-edit"),
    path("campaigns/policy/seasons/<int:pk>/delete/", season_delete, name="campaign-season-delete"),
]
