"""Services, staff availability, bookings and visits.

A service is offered by one store or brand-wide (by every store with staff who hold its skill). Slots
come from staff working hours inside the store's opening hours, minus time off and the time other
bookings hold. A booking holds exactly one staff member for `held_from`..`held_until` (its start and
end widened by the service's buffer, and by the travel time for a visit at home); a PostgreSQL
exclusion constraint (btree_gist) refuses a second held booking of the same staff member that
overlaps it, whoever commits second, so two members racing for the last slot can never both hold it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.db import models
from django.db.models import F, Func, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from members.models import Member
from scrm.models import Store
from scrm.scoping import ScopedManager


class Skill(models.Model):
    """What a staff member can provide (optometry, baby swimming, massage): brand-wide reference."""

    name = models.CharField(_("name"), max_length=60, unique=True)

    store_scope_field = None

    class Meta:
        ordering = ["name"]
        verbose_name = _("skill")
        verbose_name_plural = _("skills")

    def __str__(self) -> str:
        return self.name


class StaffSkill(models.Model):
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("staff member"), on_delete=models.CASCADE,
                              related_name="+", db_index=False)
    skill = models.ForeignKey(Skill, verbose_name=_("skill"), on_delete=models.CASCADE, related_name="holders")

    objects = ScopedManager()
    store_scope_field = "staff__store"

    class Meta:
        ordering = ["staff_id", "skill_id"]
        verbose_name = _("staff skill")
        verbose_name_plural = _("staff skills")
        constraints = [models.UniqueConstraint(fields=["staff", "skill"], name="appt_staff_skill_once")]

    def __str__(self) -> str:
        return f"{self.staff_id}: {self.skill_id}"


class PriceKind(models.TextChoices):
    FREE = "free", _("Free")
    AT_STORE = "at_store", _("Paid at the store")
    POINTS = "points", _("Points")


class VisitPlace(models.TextChoices):
    STORE = "store", _("At the store")
    HOME = "home", _("At the member's home")


class Service(models.Model):
    """Something a store offers by appointment: an eye test, baby swimming, a massage, a visit at home."""

    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", help_text=_("Empty: offered by every store (brand-wide)."),
                              db_index=False)
    name = models.CharField(_("name"), max_length=80)
    description = models.TextField(_("description"), blank=True, default="")
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"))
    price_kind = models.CharField(_("price"), max_length=8, choices=PriceKind.choices, default=PriceKind.FREE)
    price_amount = models.DecimalField(_("price at the store"), max_digits=10, decimal_places=2, default=0,
                                       help_text=_("Paid at the store (price kind: paid at the store)."))
    points_price = models.PositiveIntegerField(_("price in points"), default=0,
                                               help_text=_("Spent when booked (price kind: points)."))
    skill = models.ForeignKey(Skill, verbose_name=_("required skill"), on_delete=models.PROTECT, null=True,
                              blank=True, related_name="+", help_text=_("Empty: any staff member of the store."))
    buffer_minutes = models.PositiveIntegerField(_("buffer after (minutes)"), default=0,
                                                 help_text=_("Time kept free after each visit (cleaning, notes)."))
    min_notice_minutes = models.PositiveIntegerField(_("minimum notice (minutes)"), default=60)
    max_days_ahead = models.PositiveIntegerField(_("bookable days ahead"), default=30)
    cancel_hours = models.PositiveIntegerField(_("cancel or reschedule until (hours before)"), default=2)
    place = models.CharField(_("where"), max_length=5, choices=VisitPlace.choices, default=VisitPlace.STORE)
    travel_minutes = models.PositiveIntegerField(_("travel buffer (minutes)"), default=0,
                                                 help_text=_("For visits at home: kept free before and after."))
    follow_up_days = models.PositiveIntegerField(_("follow up after (days)"), default=0,
                                                 help_text=_("0: no follow-up task after the visit."))
    follow_up_text = models.CharField(_("follow-up task"), max_length=200, blank=True, default="",
                                      help_text=_("What the guide does, e.g. “ask how the lenses feel”."))
    is_active = models.BooleanField(_("bookable"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "store"
    store_scope_shared = True  # brand-wide services are listed to every store; the services decide who edits

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("service")
        verbose_name_plural = _("services")
        constraints = [
            models.UniqueConstraint(fields=["store", "name"], name="appt_service_name_in_store"),
            models.UniqueConstraint(fields=["name"], condition=Q(store__isnull=True), name="appt_service_name_brand"),
            models.CheckConstraint(condition=Q(duration_minutes__gte=5, duration_minutes__lte=720),
                                   name="appt_service_duration"),
        ]
        indexes = [models.Index(fields=["store", "is_active"], name="appt_service_store")]

    def __str__(self) -> str:
        return self.name


class WorkingHours(models.Model):
    """When a staff member works on a weekday (0 Monday … 6 Sunday), in the brand's time zone; a
    split day has two rows."""

    staff = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("staff member"), on_delete=models.CASCADE,
                              related_name="+", db_index=False)
    weekday = models.PositiveSmallIntegerField(_("weekday"))
    starts = models.TimeField(_("from"))
    ends = models.TimeField(_("until"))

    objects = ScopedManager()
    store_scope_field = "staff__store"

    class Meta:
        ordering = ["staff_id", "weekday", "starts"]
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")
        constraints = [
            models.CheckConstraint(condition=Q(ends__gt=F("starts")), name="appt_hours_ends_after_start"),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="appt_hours_weekday"),
        ]
        indexes = [models.Index(fields=["staff", "weekday"], name="appt_hours_staff_day")]

    def __str__(self) -> str:
        return f"{self.staff_id} {self.weekday} {self.starts}-{self.ends}"


class OpeningHours(models.Model):
    """When a store is open on a weekday; no row: closed that day."""

    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+",
                              db_index=False)
    weekday = models.PositiveSmallIntegerField(_("weekday"))
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["store_id", "weekday"]
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        constraints = [
            models.UniqueConstraint(fields=["store", "weekday"], name="appt_opening_once_a_day"),
            models.CheckConstraint(condition=Q(closes__gt=F("opens")), name="appt_opening_closes_after"),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="appt_opening_weekday"),
        ]

    def __str__(self) -> str:
        return f"{self.store_id} {self.weekday} {self.opens}-{self.closes}"


class TimeOff(models.Model):
    """A staff member away (leave, training), or the whole store closed (no staff member)."""

    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+",
                              db_index=False)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("staff member"), on_delete=models.CASCADE,
                              null=True, blank=True, related_name="+", help_text=_("Empty: the whole store."))
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    reason = models.CharField(_("reason"), max_length=120, blank=True, default="")

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["starts_at", "id"]
        verbose_name = _("time off")
        verbose_name_plural = _("time off")
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="appt_timeoff_order")]
        indexes = [models.Index(fields=["store", "ends_at"], name="appt_timeoff_store_end")]

    def __str__(self) -> str:
        return f"{self.staff_id or self.store_id} {self.starts_at:%Y-%m-%d}"


class BookingState(models.TextChoices):
    BOOKED = "booked", pgettext_lazy("booking state", "Booked")
    CANCELLED = "cancelled", _("Cancelled")
    NO_SHOW = "no_show", _("No-show")
    CHECKED_IN = "checked_in", _("Checked in")
    COMPLETED = "completed", _("Completed")


HOLDS_TIME = ("booked", "checked_in", "completed")  # the states whose time no other booking may take


class BookingSource(models.TextChoices):
    PUBLIC = "public", _("Public link")
    GUIDE = "guide", _("By the guide")
    API = "api", _("API")


class CancelledBy(models.TextChoices):
    MEMBER = "member", _("The member")
    STORE = "store", _("The store")


class Booking(models.Model):
    """One member, one service, one staff member, one slot. Written by appointments.services alone."""

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+",
                               db_index=False)
    service = models.ForeignKey(Service, verbose_name=_("service"), on_delete=models.PROTECT, related_name="+",
                                db_index=False)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("staff member"), on_delete=models.PROTECT,
                              related_name="+", db_index=False)
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+",
                              db_index=False)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    held_from = models.DateTimeField(_("staff held from"), editable=False)
    held_until = models.DateTimeField(_("staff held until"), editable=False)
    state = models.CharField(_("state"), max_length=10, choices=BookingState.choices, default=BookingState.BOOKED)
    source = models.CharField(_("source"), max_length=6, choices=BookingSource.choices)
    address = models.CharField(_("address (visit at home)"), max_length=200, blank=True, default="")
    member_note = models.CharField(_("the member's note"), max_length=500, blank=True, default="")
    notes = models.TextField(_("visit notes"), blank=True, default="")
    points_paid = models.PositiveIntegerField(_("points paid"), default=0, editable=False)
    points_refunded_at = models.DateTimeField(_("points refunded at"), null=True, blank=True, editable=False)
    request_key = models.CharField(_("request key"), max_length=64, null=True, blank=True, unique=True,
                                   editable=False, help_text=_("A retried booking request answers this booking."))
    rescheduled_from = models.ForeignKey("self", verbose_name=_("rescheduled from"), on_delete=models.SET_NULL,
                                         null=True, blank=True, related_name="+", editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("booked by"), on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_by_label = models.CharField(_("booked by (API key)"), max_length=100, blank=True, default="")
    created_at = models.DateTimeField(_("booked at"), default=timezone.now)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = models.CharField(_("cancelled by"), max_length=6, choices=CancelledBy.choices, blank=True,
                                    default="")
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    no_show_at = models.DateTimeField(_("no-show recorded at"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["starts_at", "id"]
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="appt_booking_ends_after_start"),
            models.CheckConstraint(condition=Q(held_from__lte=F("starts_at"), held_until__gte=F("ends_at")),
                                   name="appt_booking_held_covers_visit"),
            ExclusionConstraint(
                name="appt_booking_staff_no_overlap",
                expressions=[
                    (Func("held_from", "held_until", RangeBoundary(), function="TSTZRANGE",
                           output_field=DateTimeRangeField()), RangeOperators.OVERLAPS),
                    ("staff", RangeOperators.EQUAL),
                ],
                condition=Q(state__in=HOLDS_TIME),
                violation_error_message=_("The staff member already holds a booking at that time."),
            ),
        ]
        indexes = [
            models.Index(fields=["store", "starts_at"], name="appt_booking_store_start"),
            models.Index(fields=["staff", "starts_at"], name="appt_booking_staff_start"),
            models.Index(fields=["member", "starts_at"], name="appt_booking_member_start"),
            models.Index(fields=["service", "starts_at"], name="appt_booking_service_start"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.starts_at:%Y-%m-%d %H:%M}"


class ReminderKind(models.TextChoices):
    DAY_BEFORE = "day_before", _("A day before")
    TWO_HOURS = "two_hours", _("Two hours before")


class ReminderState(models.TextChoices):
    SENT = "sent", _("Sent")
    SUPPRESSED = "suppressed", _("Suppressed")


class BookingReminder(models.Model):
    """A reminder of a booking: one row per (booking, kind), written by the tick when due and
    allowed (the member's consent, the send policy's quiet hours). The row is the message."""

    booking = models.ForeignKey(Booking, verbose_name=_("booking"), on_delete=models.CASCADE, related_name="+",
                                db_index=False)
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+",
                               db_index=False)
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+",
                              db_index=False)
    kind = models.CharField(_("kind"), max_length=10, choices=ReminderKind.choices)
    state = models.CharField(_("state"), max_length=10, choices=ReminderState.choices)
    reason = models.CharField(_("why suppressed"), max_length=20, blank=True, default="")
    text = models.CharField(_("text"), max_length=500)
    created_at = models.DateTimeField(_("written at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["booking_id", "id"]
        verbose_name = _("booking reminder")
        verbose_name_plural = _("booking reminders")
        constraints = [models.UniqueConstraint(fields=["booking", "kind"], name="appt_reminder_once")]
        indexes = [models.Index(fields=["member"], name="appt_reminder_member")]

    def __str__(self) -> str:
        return f"{self.kind} {self.booking_id}"
