"""Interest groups per store, their owners and members, events with sign-up and check-in.

A community belongs to one store and has a staff owner (the "sports ambassador") and assistants.
An event belongs to a community (and so its store) or is brand-wide (no community; a host store
is optional). An event's seats are counted on its own row (`seats_taken`, confirmed and offered
sign-ups), changed only by a conditional UPDATE, and a CHECK keeps it within `capacity`, so no
race can sell a seat twice. Sign-ups past capacity wait in `position` order; a freed seat is
offered to the first in line at once (state offered, with a window to confirm). A check-in is
one row per (event, member), inserted with ON CONFLICT DO NOTHING, so two doors scanning the same
member record one check-in and the second learns who was first.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from members.models import Member, Tag
from scrm.models import Store
from scrm.scoping import ScopedManager


class CommunityKind(models.TextChoices):
    RUNNING = "running", pgettext_lazy("sport", "Running")
    CYCLING = "cycling", _("Cycling")
    FITNESS = "fitness", _("Fitness")
    OUTDOOR = "outdoor", _("Hiking and camping")
    PARENT_CHILD = "parent_child", _("Parent and child")
    OTHER = "other", _("Other")


class CommunityStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    ARCHIVED = "archived", _("Archived")


class Community(models.Model):
    """An interest group of one store (a running club, a cycling group, parents and children)."""

    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+",
                              db_index=False)
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=16, choices=CommunityKind.choices, default=CommunityKind.OTHER)
    description = models.TextField(_("description"), blank=True, default="")
    status = models.CharField(_("status"), max_length=10, choices=CommunityStatus.choices,
                              default=CommunityStatus.ACTIVE)
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True,
                                           help_text=_("Most members at once; empty: no limit."))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner (sports ambassador)"),
                              on_delete=models.PROTECT, related_name="+")
    assistants = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("assistants"), blank=True,
                                        related_name="+")
    wecom_chat_id = models.CharField(
        _("WeCom customer group id"), max_length=64, blank=True, default="",
        help_text=_("The WeCom customer group (chat_id) this community mirrors, if any."),
    )
    # The standing rule: the segment's members of the store are members automatically. No database
    # constraint: a segment deleted later leaves its id here, and the next run reports it (never everyone).
    auto_segment = models.ForeignKey(
        "member_segments.Segment", verbose_name=_("automatic members from segment"), on_delete=models.DO_NOTHING,
        null=True, blank=True, related_name="+", db_constraint=False,
        help_text=_("The segment's members of the store join automatically, and leave when they leave it "
                    "(only those who joined automatically)."),
    )
    auto_ran_at = models.DateTimeField(_("automatic membership last run"), null=True, blank=True, editable=False)
    auto_result = models.JSONField(_("automatic membership last result"), default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["store_id", "name"]
        verbose_name = _("community")
        verbose_name_plural = _("communities")
        constraints = [
            models.UniqueConstraint(fields=["store", "name"], name="community_unique_name_in_store"),
        ]

    def __str__(self) -> str:
        return self.name


class MembershipRole(models.TextChoices):
    MEMBER = "member", _("Member")
    CORE = "core", _("Core member")
    VOLUNTEER = "volunteer", _("Volunteer")


class MembershipSource(models.TextChoices):
    STORE = "store", _("In store")
    EVENT = "event", _("At an event")
    WECOM = "wecom", _("WeCom group")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    SEGMENT = "segment", _("From a segment")
    INVITATION = "invitation", _("Accepted an invitation")
    AUTOMATIC = "automatic", _("Automatic (the community's rule)")


class CommunityMembership(models.Model):
    """A member in a community: one open membership (no `left_at`) per member and community; one
    who left and joins again gets a new row, so the history stays."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE,
                                  related_name="memberships", db_index=False)
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    role = models.CharField(_("role"), max_length=10, choices=MembershipRole.choices, default=MembershipRole.MEMBER)
    source = models.CharField(_("source"), max_length=12, choices=MembershipSource.choices,
                              default=MembershipSource.STORE)
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now)
    left_at = models.DateTimeField(_("left at"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "community__store"

    class Meta:
        ordering = ["community_id", "joined_at", "id"]
        verbose_name = _("community membership")
        verbose_name_plural = _("community memberships")
        constraints = [
            models.UniqueConstraint(fields=["community", "member"], condition=Q(left_at__isnull=True),
                                    name="membership_one_open"),
        ]
        indexes = [models.Index(fields=["community", "left_at"], name="membership_community_open")]

    def __str__(self) -> str:
        return f"{self.member_id} in {self.community_id}"


class EventStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("event status", "Open")
    CANCELLED = "cancelled", _("Cancelled")


class Event(models.Model):
    """A run, a ride, a class: in a community, or brand-wide (no community). `seats_taken` counts
    confirmed, offered and attended sign-ups and is kept by communities.services.signups alone."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.PROTECT,
                                  null=True, blank=True, related_name="events", db_index=False)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text=_("The community's store; for a brand-wide event the host store, if any."), db_index=False,
    )
    title = models.CharField(_("title"), max_length=100)
    description = models.TextField(_("description"), blank=True, default="")
    place = models.CharField(_("place"), max_length=200)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    capacity = models.PositiveIntegerField(_("capacity"))
    seats_taken = models.PositiveIntegerField(_("seats taken"), default=0, editable=False)
    waitlist_seq = models.PositiveIntegerField(_("last waitlist position"), default=0, editable=False)
    signup_opens_at = models.DateTimeField(_("sign-up opens"), null=True, blank=True,
                                           help_text=_("Empty: open as soon as the event is published."))
    signup_closes_at = models.DateTimeField(_("sign-up closes"), null=True, blank=True,
                                            help_text=_("Empty: when the event starts."))
    offer_minutes = models.PositiveIntegerField(
        _("minutes to confirm a freed seat"), default=120,
        help_text=_("A member promoted from the waitlist has this long to confirm before the next one is asked."),
    )
    walk_ins_allowed = models.BooleanField(_("walk-ins allowed"), default=True,
                                           help_text=_("Whether members who did not sign up may be checked in."))
    ask_feedback = models.BooleanField(
        _("ask attendees for feedback"), default=True, db_default=True,
        help_text=_("Whether members checked in get a message with their feedback link after the event."),
    )
    points_price = models.PositiveIntegerField(
        _("price in points"), default=0, db_default=0,
        help_text=_("Points a member spends when a seat becomes theirs; 0: free."),
    )
    attendance_tag = models.ForeignKey(
        Tag, verbose_name=_("attendance tag"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text=_("Given to each member checked in, so segments can find who attended."),
    )
    status = models.CharField(_("status"), max_length=10, choices=EventStatus.choices, default=EventStatus.OPEN)
    photos = models.JSONField(_("photos"), default=list, blank=True, editable=False,
                              help_text=_("Links to the event's photos with captions, added by the organiser."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"),
                                   on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_by_label = models.CharField(_("created by (API key)"), max_length=100, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "store"
    store_scope_shared = True  # brand-wide events are listed to every store; the services decide who manages

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="event_ends_after_start"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="event_capacity_positive"),
            models.CheckConstraint(condition=Q(seats_taken__lte=F("capacity")), name="event_seats_within_capacity"),
        ]
        indexes = [
            models.Index(fields=["store", "starts_at"], name="event_store_start"),
            models.Index(fields=["community", "starts_at"], name="event_community_start"),
            models.Index(fields=["starts_at"], name="event_start"),
            models.Index(fields=["ends_at"], name="event_end"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def seats_left(self) -> int:
        return max(0, self.capacity - self.seats_taken)


class SignUpState(models.TextChoices):
    CONFIRMED = "confirmed", _("Confirmed")
    WAITLISTED = "waitlisted", _("On the waitlist")
    OFFERED = "offered", _("Seat offered, waiting for confirmation")
    ATTENDED = "attended", _("Attended")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Offer lapsed")


HOLDS_SEAT = (SignUpState.CONFIRMED, SignUpState.OFFERED, SignUpState.ATTENDED)
ACTIVE = (*HOLDS_SEAT, SignUpState.WAITLISTED)


class SignUpSource(models.TextChoices):
    MEMBER = "member", _("By the member")
    STAFF = "staff", _("By staff")
    API = "api", _("API")


class CancelledBy(models.TextChoices):
    MEMBER = "member", _("The member")
    ORGANISER = "organiser", _("The organiser")


class SignUp(models.Model):
    """A member's place at an event: a seat (confirmed, offered, attended) or a place in line
    (waitlisted, `position` giving the order). `code` is the member's ticket, scanned or typed at
    the door. `store` is the event's, so the rows are scoped as the event is."""

    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="signups",
                              db_index=False)
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", db_index=False)
    state = models.CharField(_("state"), max_length=10, choices=SignUpState.choices)
    position = models.PositiveIntegerField(_("waitlist position"), null=True, blank=True)
    code = models.CharField(_("ticket code"), max_length=12, unique=True)
    source = models.CharField(_("source"), max_length=8, choices=SignUpSource.choices, default=SignUpSource.MEMBER)
    created_at = models.DateTimeField(_("signed up at"), default=timezone.now)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    offered_at = models.DateTimeField(_("seat offered at"), null=True, blank=True)
    offer_expires_at = models.DateTimeField(_("offer expires at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = models.CharField(_("cancelled by"), max_length=10, choices=CancelledBy.choices, blank=True,
                                    default="")
    points_paid = models.PositiveIntegerField(_("points paid"), default=0, db_default=0, editable=False,
                                              help_text=_("Spent when the seat became the member's."))
    points_refunded_at = models.DateTimeField(_("points refunded at"), null=True, blank=True, editable=False)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["event_id", "id"]
        verbose_name = _("sign-up")
        verbose_name_plural = _("sign-ups")
        constraints = [
            models.UniqueConstraint(fields=["event", "member"], condition=~Q(state__in=["cancelled", "expired"]),
                                    name="signup_one_active"),
            models.CheckConstraint(condition=Q(state="waitlisted", position__isnull=False) | ~Q(state="waitlisted"),
                                   name="signup_waitlisted_has_position"),
        ]
        indexes = [
            models.Index(fields=["event", "state", "position"], name="signup_event_state_position"),
            models.Index(fields=["offer_expires_at"], condition=Q(state="offered"), name="signup_offer_due"),
        ]

    def __str__(self) -> str:
        return self.code


class CheckInSource(models.TextChoices):
    SCAN = "scan", _("Scanned")
    TYPED = "typed", _("Typed")
    LIST = "list", _("Ticked on the list")


class CheckIn(models.Model):
    """A member at the door of an event: one per (event, member), whoever recorded it first."""

    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="checkins",
                              db_index=False)
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", db_index=False)
    signup = models.ForeignKey(SignUp, verbose_name=_("sign-up"), on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+", help_text=_("Empty for a walk-in."))
    walk_in = models.BooleanField(_("walk-in"), default=False)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("checked in by"), on_delete=models.SET_NULL,
                              null=True, blank=True, related_name="+")
    staff_label = models.CharField(_("checked in by (API key)"), max_length=100, blank=True, default="")
    device = models.CharField(_("device"), max_length=64, blank=True, default="")
    source = models.CharField(_("how"), max_length=5, choices=CheckInSource.choices)
    at = models.DateTimeField(_("checked in at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["event_id", "at", "id"]
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        constraints = [models.UniqueConstraint(fields=["event", "member"], name="checkin_once_per_event")]

    def __str__(self) -> str:
        return f"{self.member_id} at {self.event_id}"


class ReminderKind(models.TextChoices):
    DAY_BEFORE = "day_before", _("A day before")
    TWO_HOURS = "two_hours", _("Two hours before")
    SEAT_OFFERED = "seat_offered", _("A freed seat offered from the waitlist")


class EventReminder(models.Model):
    """A notice of an event to a member: a reminder to one who holds a seat (a day, two hours
    before) or the news that a freed seat is offered to them. One row per (sign-up, kind), written
    by communities.services.reminders when it is due, or by the waitlist's promotion in the same
    transaction; the unique key makes it exactly once whatever runs the tick. The row is the outbox:
    `handed_at` says when the registered sender (the campaigns' engine, communities.hooks) took it
    into its deliveries, where consent, caps and quiet hours decide whether and when it is sent."""

    signup = models.ForeignKey(SignUp, verbose_name=_("sign-up"), on_delete=models.CASCADE, related_name="+",
                               db_index=False)
    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="+",
                              db_index=False)
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", db_index=False)
    kind = models.CharField(_("kind"), max_length=12, choices=ReminderKind.choices)
    text = models.CharField(_("text"), max_length=500)
    created_at = models.DateTimeField(_("reminded at"), default=timezone.now)
    handed_at = models.DateTimeField(_("handed to the sender at"), null=True, blank=True)
    handed_to = models.CharField(_("handed to"), max_length=64, blank=True, default="", db_default="",
                                 help_text=_("What the sender made of it (a campaign's reference)."))

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["event_id", "id"]
        verbose_name = _("event reminder")
        verbose_name_plural = _("event reminders")
        constraints = [models.UniqueConstraint(fields=["signup", "kind"], name="reminder_once_per_signup_kind")]
        indexes = [
            models.Index(fields=["event", "kind"], name="reminder_event_kind"),
            models.Index(fields=["event", "kind", "id"], name="reminder_to_hand", condition=Q(handed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.signup_id}"


class ScanConflict(models.Model):
    """A scan that lost to another scan of the same member at the same event, found when a phone
    that scanned offline synced: the earlier scan (by each scan's own time) is the check-in, the
    later one is kept here, so no scan is lost and the event page shows both."""

    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="+",
                              db_index=False)
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", db_index=False)
    checkin = models.ForeignKey(CheckIn, verbose_name=_("the check-in that stands"), on_delete=models.CASCADE,
                                related_name="+")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("scanned by"), on_delete=models.SET_NULL,
                              null=True, blank=True, related_name="+")
    staff_label = models.CharField(_("scanned by (API key)"), max_length=100, blank=True, default="")
    device = models.CharField(_("device"), max_length=64, blank=True, default="")
    source = models.CharField(_("how"), max_length=5, choices=CheckInSource.choices)
    at = models.DateTimeField(_("scanned at"))
    found_at = models.DateTimeField(_("found on sync at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["event_id", "at", "id"]
        verbose_name = _("scan conflict")
        verbose_name_plural = _("scan conflicts")
        indexes = [models.Index(fields=["event", "at"], name="scan_conflict_event")]

    def __str__(self) -> str:
        return f"{self.member_id} at {self.event_id} ({self.at})"


class InvitationBatch(models.Model):
    """Invitations sent at once to members of a community's store (picked, or a segment's): how many
    were invited, and (from the invitations) how many joined. Its invitations expire together."""

    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE,
                                  related_name="invitation_batches", db_index=False)
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+",
                              db_index=False)
    segment = models.ForeignKey("member_segments.Segment", verbose_name=_("segment"), on_delete=models.SET_NULL,
                                null=True, blank=True, related_name="+")
    message = models.CharField(_("message"), max_length=300, blank=True, default="")
    invited = models.PositiveIntegerField(_("invited"), default=0)
    expires_at = models.DateTimeField(_("expires at"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"),
                                   on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_by_label = models.CharField(_("created by (API key)"), max_length=100, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["community_id", "-created_at", "-id"]
        verbose_name = _("invitation batch")
        verbose_name_plural = _("invitation batches")
        indexes = [models.Index(fields=["community", "created_at"], name="invitation_batch_community")]

    def __str__(self) -> str:
        return f"{self.community_id} {self.created_at:%Y-%m-%d}"


class Invitation(models.Model):
    """One member invited to a community. The row is the outbox of the message: `handed_at` says when
    the registered sender (the campaigns' engine, communities.hooks) took it, where consent and caps
    decide whether it is sent. The member's link is a signed token of the row's id
    (communities.services.invitations); `joined_at` is set when they joined through it."""

    batch = models.ForeignKey(InvitationBatch, verbose_name=_("batch"), on_delete=models.CASCADE,
                              related_name="invitations", db_index=False)
    community = models.ForeignKey(Community, verbose_name=_("community"), on_delete=models.CASCADE,
                                  related_name="+", db_index=False)
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+",
                              db_index=False)
    created_at = models.DateTimeField(_("invited at"), default=timezone.now)
    handed_at = models.DateTimeField(_("handed to the sender at"), null=True, blank=True)
    handed_to = models.CharField(_("handed to"), max_length=64, blank=True, default="")
    joined_at = models.DateTimeField(_("joined at"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["batch_id", "id"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [models.UniqueConstraint(fields=["batch", "member"], name="invitation_once_per_batch")]
        indexes = [
            models.Index(fields=["community", "member"], name="invitation_community_member"),
            models.Index(fields=["id"], condition=Q(handed_at__isnull=True), name="invitation_unhanded"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} to {self.community_id}"


class FeedbackSource(models.TextChoices):
    MEMBER = "member", _("By the member (their link)")
    STAFF = "staff", _("Entered by staff")


class EventFeedback(models.Model):
    """An attendee's rating of an event (1 to 5) with an optional comment: one per (event, member),
    changeable for communities.services.feedback.CHANGE_DAYS after the event ends."""

    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="feedback",
                              db_index=False)
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", db_index=False)
    rating = models.PositiveSmallIntegerField(_("rating"))
    comment = models.CharField(_("comment"), max_length=500, blank=True, default="")
    source = models.CharField(_("source"), max_length=8, choices=FeedbackSource.choices)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("entered by"), on_delete=models.SET_NULL,
                              null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("given at"), default=timezone.now)
    updated_at = models.DateTimeField(_("changed at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["event_id", "id"]
        verbose_name = _("event feedback")
        verbose_name_plural = _("event feedback")
        constraints = [
            models.UniqueConstraint(fields=["event", "member"], name="feedback_once_per_event"),
            models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="feedback_rating_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} on {self.event_id}: {self.rating}"


class FeedbackRequest(models.Model):
    """The "how was it?" message to an attendee: one per (event, member), written by
    communities.services.feedback_requests once the event has ended; the unique key makes it exactly once
    whatever runs the tick. The row is the outbox: `handed_at` says when the registered sender (the
    campaigns' engine, communities.hooks) took it, `handed_to` what it made of it ("answered": the
    member gave feedback before it was handed; "closed": feedback had closed)."""

    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="+",
                              db_index=False)
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", db_index=False)
    created_at = models.DateTimeField(_("asked at"), default=timezone.now)
    handed_at = models.DateTimeField(_("handed to the sender at"), null=True, blank=True)
    handed_to = models.CharField(_("handed to"), max_length=64, blank=True, default="", db_default="",
                                 help_text=_("What the sender made of it (a campaign's reference)."))

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["event_id", "id"]
        verbose_name = _("feedback request")
        verbose_name_plural = _("feedback requests")
        constraints = [models.UniqueConstraint(fields=["event", "member"], name="feedback_asked_once")]
        indexes = [models.Index(fields=["id"], name="feedback_ask_to_hand", condition=Q(handed_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.member_id} asked about {self.event_id}"
