"""Appointments' screens: the public booking page of a signed link (phone-first, no login), the guide's
booking from the member's card, the staff member's day on the phone, the store calendar, the services
list and form, and the figures. Every rule is the services'."""

from __future__ import annotations

import datetime as dt
import secrets

from django.contrib import messages
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from appointments import queries
from appointments.filters import ServiceFilterSet
from appointments.forms import ServiceForm
from appointments.models import Booking, Service
from appointments.services import access, availability, bookings, catalogue, links
from members.models import Member
from scrm.actors import SystemActor
from scrm.dashboard import ScopedListView, ScopedTemplateView, scoped_view
from scrm.errors import InvalidInput, ServiceError
from scrm.models import Store
from scrm.scoping import get_visible_or_404

PUBLIC = SystemActor("appointments:public-link")
BOOKING_ACTIONS = ("check-in", "no-show", "complete", "cancel")
DAYS_SHOWN = 14


def _day(raw: str | None) -> dt.date:
    today = timezone.localtime().date()
    try:
        day = dt.date.fromisoformat(raw) if raw else today
    except ValueError:
        day = today
    return max(day, today)


def _days(start: dt.date, n: int = DAYS_SHOWN) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(n)]


def _starts(raw: str | None):
    moment = parse_datetime(raw or "")
    return moment if moment is not None and timezone.is_aware(moment) else raw


def _picker_context(service: Service | None, store: Store, day: dt.date) -> dict:
    slots = availability.slots(service=service, store=store, start_day=day, days=1) if service else []
    return {"slots": slots, "day": day, "days": _days(timezone.localtime().date())}


# --- the public page of a signed link ---------------------------------------------------------------


def _public_member(link: dict, phone: str) -> Member | None:
    if link["member"]:
        return Member.live.filter(pk=link["member"]).first()
    phone = "".join(ch for ch in phone or "" if ch.isdigit() or ch == "+")
    if len(phone) < 6:
        return None
    candidates = {phone, f"+86{phone}", f"+{phone.lstrip('+')}"}
    return Member.live.filter(phone__in=candidates).order_by("pk").first()


def public_booking(request, token):
    """What a booking link opens: the store's services (or the one the link names), a day's free
    times, and a confirmation. A member's own link books for them; a store's link asks for the
    phone number of their membership."""
    link = links.read(token)
    store = Store.objects.filter(pk=link["store"], is_active=True).first() if link else None
    if store is None:
        raise Http404
    services = Service.objects.filter(Q(store=store) | Q(store__isnull=True), is_active=True)
    if link["service"]:
        services = services.filter(pk=link["service"])
    services = list(services.order_by("name"))
    chosen = next((s for s in services if str(s.pk) == (request.POST.get("service") or request.GET.get("service"))),
                  services[0] if len(services) == 1 else None)
    context = {"store": store, "services": services, "service": chosen, "token": token, "done": None,
               "member_link": bool(link["member"]), "request_key": request.POST.get("request_key")
               or secrets.token_urlsafe(16)}
    if request.method == "POST" and chosen is not None:
        member = _public_member(link, request.POST.get("phone", ""))
        if member is None:
            context["error"] = _("We could not find a membership with this phone number. Ask the store, or use "
                                 "the link your guide sent you.")
        else:
            try:
                result = bookings.book(actor=PUBLIC, service=chosen, store=store, member_id=member.pk,
                                       starts_at=_starts(request.POST.get("starts_at")), source="public",
                                       address=request.POST.get("address", ""),
                                       member_note=request.POST.get("member_note", ""),
                                       request_key=request.POST.get("request_key") or None)
                context["done"] = result.booking
            except ServiceError as exc:
                context["error"] = exc.message
    day = _day(request.POST.get("day") or request.GET.get("day"))
    context.update(_picker_context(chosen, store, day))
    return render(request, "appointments/public_booking.html", context)


# --- the guide's booking from the member's card -------------------------------------------------------


@scoped_view(pk=Member)
def guide_booking(request, pk):
    member = get_visible_or_404(Member.live, request.user, pk=pk)
    store = member.home_store
    services = list(Service.objects.visible_to(request.user).filter(Q(store=store) | Q(store__isnull=True),
                                                                    is_active=True).order_by("name"))
    chosen = next((s for s in services if str(s.pk) == (request.POST.get("service") or request.GET.get("service"))),
                  None)
    if request.method == "POST" and chosen is not None:
        try:
            bookings.book(actor=request.user, service=chosen, store=store, member_id=member.pk,
                          starts_at=_starts(request.POST.get("starts_at")), source="guide",
                          staff_id=int(request.POST["staff"]) if request.POST.get("staff", "").isdigit() else None,
                          address=request.POST.get("address", ""), member_note=request.POST.get("member_note", ""),
                          request_key=request.POST.get("request_key") or None)
            messages.success(request, _("Booked “%(service)s” for %(member)s.") % {"service": chosen.name,
                                                                                  "member": member.name})
            return redirect("member-detail", pk=member.pk)
        except ServiceError as exc:
            messages.error(request, exc.message)
    day = _day(request.POST.get("day") or request.GET.get("day"))
    context = {"member": member, "store": store, "services": services, "service": chosen,
               "request_key": secrets.token_urlsafe(16),
               "member_link": request.build_absolute_uri(reverse("appointments-public", args=[
                   links.make(store_id=store.pk, member_id=member.pk)])),
               **_picker_context(chosen, store, day)}
    return render(request, "appointments/guide_booking.html", context)


# --- staff screens -------------------------------------------------------------------------------------


class MyDayView(ScopedTemplateView):
    template_name = "appointments/m_my_day.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        day = _day(self.request.GET.get("day"))
        context.update({"rows": queries.my_day(self.request.user, day), "day": day,
                        "days": _days(timezone.localtime().date(), 7)})
        return context


@scoped_view(pk=Booking)
@require_POST
def booking_action(request, pk, action):
    booking = get_visible_or_404(Booking, request.user, pk=pk)
    steps = {"check-in": lambda: bookings.check_in(booking=booking, actor=request.user),
             "no-show": lambda: bookings.mark_no_show(booking=booking, actor=request.user),
             "complete": lambda: bookings.complete(booking=booking, actor=request.user,
                                                   notes=request.POST.get("notes", "")),
             "cancel": lambda: bookings.cancel(booking=booking, actor=request.user)}
    try:
        steps[action]()
        messages.success(request, _("Saved."))
    except ServiceError as exc:
        messages.error(request, exc.message)
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else "appointments-my-day")


class CalendarView(ScopedTemplateView):
    template_name = "appointments/calendar.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        stores = list(self.visible(Store.objects.filter(is_active=True)).order_by("code")[:500])
        code = self.request.GET.get("store") or (user.store.code if getattr(user, "store", None) else None)
        # Without a store asked for (an operator), the first store that offers services of its own.
        offering = set(Service.objects.filter(is_active=True, store__in=stores)
                       .values_list("store_id", flat=True).distinct()[:500])
        fallback = next((s for s in stores if s.pk in offering), stores[0] if stores else None)
        store = next((s for s in stores if s.code == code), fallback)
        start = _day(self.request.GET.get("start"))
        context.update({"stores": stores, "store": store, "start": start,
                        "prev": start - dt.timedelta(days=7), "next": start + dt.timedelta(days=7),
                        "calendar": queries.store_calendar(user, store.pk, start) if store else {"days": []},
                        "link": self.request.build_absolute_uri(reverse("appointments-public", args=[
                            links.make(store_id=store.pk)])) if store else ""})
        return context


class ServiceListView(ScopedListView):
    queryset = Service.objects.select_related("store", "skill").order_by("store_id", "name")
    filterset_class = ServiceFilterSet
    template_name = "appointments/service_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_add"] = access.can_manage_store(self.request.user, getattr(self.request.user, "store_id", None))
        return context


def _service_values(form) -> dict:
    data = dict(form.cleaned_data)
    data.pop("store", None)
    return data


@scoped_view
def service_create(request):
    user = request.user
    form = ServiceForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        store = form.cleaned_data.get("store")
        try:
            catalogue.save_service(actor=user, store=store, values=_service_values(form))
            return redirect("appointments-services")
        except InvalidInput as exc:  # a refusal (403) is the error page's
            form.add_service_error(exc)
    return render(request, "appointments/service_form.html", {"form": form, "service": None})


@scoped_view(pk=Service)
def service_edit(request, pk):
    service = get_visible_or_404(Service, request.user, pk=pk)
    form = ServiceForm(request.POST or None, instance=service, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            catalogue.save_service(actor=request.user, store=None, service=service, values=_service_values(form))
            return redirect("appointments-services")
        except InvalidInput as exc:
            form.add_service_error(exc)
    return render(request, "appointments/service_form.html", {"form": form, "service": service})


class FiguresView(ScopedTemplateView):
    template_name = "appointments/figures.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        today = timezone.localtime().date()
        try:
            days_after = max(1, min(365, int(self.request.GET.get("days", "30"))))
        except ValueError:
            days_after = 30
        start, end = today - dt.timedelta(days=29), today + dt.timedelta(days=30)
        context.update({"figures": queries.figures(self.request.user, start=start, end=end, days_after=days_after),
                        "start": start, "end": end})
        return context
