"""Screens of webhooks (operators only): the subscriptions with their figures and state, the form,
and a subscription's page (figures, recent deliveries by state with the last answer, parked ones
sent again, ping, secret rotation, pause and resume; the signing secret shown once after create or
rotate). Every rule is the services' (webhooks.services.subscriptions)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _

from scrm.dashboard import ScopedListView, scoped_view
from scrm.errors import ServiceError
from scrm.scoping import get_visible_or_404
from webhooks import queries
from webhooks.filters import DeliveryFilterSet, SubscriptionFilterSet
from webhooks.forms import SubscriptionForm, apply_errors
from webhooks.models import Delivery, DeliveryState, Subscription
from webhooks.services import subscriptions as services

OPERATORS = ("operator",)
SECRET_SESSION = "webhook-secret-%d"  # the secret shown once on the subscription's page


def _keep_secret(request, subscription_id: int, secret: str) -> None:
    request.session[SECRET_SESSION % subscription_id] = secret


class SubscriptionListView(ScopedListView):
    queryset = Subscription.objects.select_related("api_key", "store").order_by("name", "id")
    filterset_class = SubscriptionFilterSet
    template_name = "webhooks/subscription_list.html"
    allowed_roles = OPERATORS
    paginate_by = 50

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = list(context["object_list"])
        figures = queries.figures([s.pk for s in rows])
        for subscription in rows:
            subscription.figures = figures.get(subscription.pk)
        context["rows"] = rows
        context["can_manage"] = services.can_manage(self.request.user)
        return context


class SubscriptionDetailView(ScopedListView):
    """A subscription's page: its facts and figures above, its deliveries (filter by state) below."""

    queryset = Delivery.objects.select_related("event").order_by("-id")
    filterset_class = DeliveryFilterSet
    template_name = "webhooks/subscription_detail.html"
    partial_template_name = "webhooks/_deliveries.html"
    allowed_roles = OPERATORS
    paginate_by = 50
    parent_queryset = Subscription.objects.select_related("api_key", "store")
    parent_field = "subscription"
    parent_attr = "subscription"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        subscription = context["subscription"] = self.subscription
        context["figures"] = queries.figures([subscription.pk])[subscription.pk]
        context["secret"] = self.request.session.pop(SECRET_SESSION % subscription.pk, None)
        context["can_manage"] = services.can_manage(self.request.user)
        context["states"] = DeliveryState.choices
        context["state"] = self.request.GET.get("state", "")
        context["heard"] = services.heard_types(subscription)
        return context


def _save_failed(form, exc: ServiceError) -> None:
    if exc.details and any(name in form.fields for name in exc.details):
        apply_errors(form, exc.details)
    else:
        form.add_error(None, exc.message)


@scoped_view
def subscription_create(request):
    if not services.can_manage(request.user):
        raise PermissionDenied
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = services.create_subscription(
                actor=request.user, api_key=data["api_key"], name=data["name"], url=data["url"],
                event_types=data["event_types"], store=data["store"])
        except ServiceError as exc:
            _save_failed(form, exc)
        else:
            _keep_secret(request, created.subscription.pk, created.secret)
            messages.success(request, _("Subscription %(name)s created.") % {"name": created.subscription.name})
            return redirect("webhook-detail", pk=created.subscription.pk)
    return render(request, "webhooks/subscription_form.html", {"form": form, "subscription": None})


@scoped_view(pk=Subscription)
def subscription_edit(request, pk: int):
    if not services.can_manage(request.user):
        raise PermissionDenied
    subscription = get_visible_or_404(Subscription.objects.select_related("api_key", "store"), request.user, pk=pk)
    form = SubscriptionForm(request.POST or None, subscription=subscription)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_subscription(actor=request.user, subscription=subscription, name=data["name"],
                                         url=data["url"], event_types=data["event_types"], store=data["store"])
        except ServiceError as exc:
            _save_failed(form, exc)
        else:
            messages.success(request, _("Subscription %(name)s saved.") % {"name": data["name"]})
            return redirect("webhook-detail", pk=subscription.pk)
    return render(request, "webhooks/subscription_form.html", {"form": form, "subscription": subscription})


def _ping(request, subscription):
    services.ping(actor=request.user, subscription=subscription)
    messages.success(request, _("A test ping is on its way; its delivery shows below in a moment."))


def _rotate(request, subscription):
    _keep_secret(request, subscription.pk, services.rotate_secret(actor=request.user, subscription=subscription))
    messages.success(request, _("New signing secret made; the previous one signs too for 24 hours."))


def _pause(request, subscription):
    services.pause(actor=request.user, subscription=subscription, reason=request.POST.get("reason", "")[:300])
    messages.success(request, _("Paused: deliveries wait until you resume."))


def _resume(request, subscription):
    services.resume(actor=request.user, subscription=subscription)
    messages.success(request, _("Resumed: waiting deliveries are sent again."))


def _redeliver(request, subscription):
    raw = request.POST.getlist("ids")
    ids = [int(i) if i.isdigit() else i for i in raw] if raw else None  # the service refuses what is no id
    count = services.redeliver(actor=request.user, subscription=subscription, ids=ids)
    messages.success(request, _("%(count)d parked deliveries will be sent again.") % {"count": count})


def _delete(request, subscription):
    services.delete_subscription(actor=request.user, subscription=subscription)
    messages.success(request, _("Subscription %(name)s deleted.") % {"name": subscription.name})


VERBS = {"ping": _ping, "rotate": _rotate, "pause": _pause, "resume": _resume, "redeliver": _redeliver,
         "delete": _delete}


@scoped_view(pk=Subscription)
def subscription_action(request, pk: int, verb: str):
    """POST one of the subscription's actions (GET: back to its page); refusals show on the page."""
    if not services.can_manage(request.user):
        raise PermissionDenied
    subscription = get_visible_or_404(Subscription.objects.select_related("api_key"), request.user, pk=pk)
    if request.method != "POST":
        return redirect("webhook-detail", pk=subscription.pk)
    try:
        VERBS[verb](request, subscription)
    except ServiceError as exc:
        messages.error(request, exc.message)
    if verb == "delete" and not Subscription.objects.filter(pk=subscription.pk).exists():
        return redirect("webhook-list")
    return redirect("webhook-detail", pk=subscription.pk)


urlpatterns = [
    path("webhooks/", SubscriptionListView.as_view(), name="webhook-list"),
    path("webhooks/new/", subscription_create, name="webhook-create"),
    path("webhooks/<int:pk>/", SubscriptionDetailView.as_view(), name="webhook-detail"),
    path("webhooks/<int:pk>/edit/", subscription_edit, name="webhook-edit"),
    *[path(f"webhooks/<int:pk>/{verb}/", subscription_action, {"verb": verb}, name=f"webhook-{verb}")
      for verb in VERBS],
]
