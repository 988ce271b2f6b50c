"""Screens of communities: the lists of communities and events (filters shared with the API), a
community's page (its invitations, its standing rule), an event's page with its sign-ups, photos and
feedback, and the staff phone views: my communities, today's events, the door's check-in screen
(type a ticket code, or tick a name on the list; one tap, an answer at once) and an event's
feedback. The public pages of signed links (no login, phone-first): joining a community from an
invitation, rating an event. Every rule is the services' (communities.services)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from communities import queries
from communities.filters import CommunityFilterSet, EventFilterSet, SignUpFilterSet
from communities.forms import CommunityForm, EventForm, apply_errors
from communities.models import (
    CheckIn,
    CheckInSource,
    Community,
    Event,
    EventStatus,
    SignUp,
    SignUpState,
)
from communities.services import access, automatic, checkins, door_sync, entry, feedback, invitations
from communities.services import communities as community_services
from communities.services import events as event_services
from members.segments.models import Segment
from scrm.dashboard import ScopedDetailView, ScopedListView, scoped_view
from scrm.errors import ServiceError
from scrm.models import Store
from scrm.scoping import access_for, get_visible_or_404

SIGNUP_PAGE = 100
CONFLICTS_SHOWN = 50
COMMENTS_SHOWN = 50
DOOR_LIST_MAX = 2000


def _is_htmx(request) -> bool:
    return bool(getattr(request, "htmx", False) and not request.htmx.boosted)


class CommunityListView(ScopedListView):
    queryset = Community.objects.select_related("store", "owner").order_by("store_id", "name")
    filterset_class = CommunityFilterSet
    template_name = "communities/community_list.html"
    paginate_by = 50

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = list(context["object_list"])
        counts = queries.member_counts([c.pk for c in rows])
        for community in rows:
            community.member_count = counts.get(community.pk, 0)
        context["rows"] = rows
        context["can_create"] = can_start_community(self.request.user)
        context["can_create_event"] = can_create_event(self.request.user)
        store = self._figures_store()
        if store is not None:
            context["store_figures"] = {"store": store, **queries.store_figures(store.pk, self.request.user)}
        return context

    def _figures_store(self):
        """The store figures panel's store: a store user's own, or the store an operator filtered by."""
        reach = access_for(self.request.user)
        if not reach.all_stores:
            return Store.objects.filter(pk=reach.store_id).first() if reach.store_id else None
        code = self.request.GET.get("store")
        return Store.objects.filter(code=code).first() if code else None


class CommunityDetailView(ScopedDetailView):
    queryset = Community.objects.select_related("store", "owner").prefetch_related("assistants")
    template_name = "communities/community_detail.html"
    context_object_name = "community"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        community = self.object
        context["memberships"] = (community.memberships.filter(left_at__isnull=True)
                                  .select_related("member").order_by("-joined_at")[:100])
        context["member_count"] = queries.member_counts([community.pk]).get(community.pk, 0)
        events = list(Event.objects.visible_to(self.request.user).filter(community=community)
                      .order_by("-starts_at")[:20])
        counts = queries.signup_counts([e.pk for e in events])
        for event in events:
            event.counts = counts[event.pk]
        context["events"] = events
        context["can_manage"] = access.can_manage_community(self.request.user, community)
        context["figures"] = queries.community_figures([community.pk])[community.pk]
        context["batches"] = queries.invitation_batches(community.pk)
        context["rule_segment"] = (Segment.objects.filter(pk=community.auto_segment_id).first()
                                   if community.auto_segment_id else None)
        if context["can_manage"]:
            context["segments"] = Segment.objects.visible_to(self.request.user).order_by("name")[:SEGMENT_CHOICES_MAX]
        return context


class EventListView(ScopedListView):
    queryset = Event.objects.select_related("store", "community").order_by("-starts_at", "-id")
    filterset_class = EventFilterSet
    template_name = "communities/event_list.html"
    paginate_by = 50

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = list(context["object_list"])
        counts = queries.signup_counts([e.pk for e in rows])
        for event in rows:
            event.counts = counts[event.pk]
        context["rows"] = rows
        context["can_create_event"] = can_create_event(self.request.user)
        return context


class EventSignUpsView(ScopedListView):
    """An event's page: its facts, seats, and its sign-ups (filter by state) in order."""

    queryset = SignUp.objects.select_related("member").order_by("state", "position", "id")
    filterset_class = SignUpFilterSet
    template_name = "communities/event_detail.html"
    paginate_by = SIGNUP_PAGE
    parent_queryset = Event.objects.select_related("community", "store")
    parent_field = "event"
    parent_attr = "event"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        event = context["event"] = self.event
        context["counts"] = queries.signup_counts([event.pk])[event.pk]
        context["checked_in"] = CheckIn.objects.filter(event=event).count()
        checked = dict(CheckIn.objects.filter(event=event, member_id__in=[s.member_id for s in context["object_list"]])
                       .values_list("member_id", "at"))
        for signup in context["object_list"]:
            signup.checked_in_at = checked.get(signup.member_id)
        context["can_check_in"] = access.can_check_in(self.request.user, event)
        context["can_manage"] = access.can_manage_event(self.request.user, event)
        context["notices"] = queries.notice_counts(event.pk)
        context["conflicts"] = list(door_sync.conflicts(event)[:CONFLICTS_SHOWN])
        context["ratings"] = queries.event_ratings([event.pk])[event.pk]
        context["asked"] = queries.feedback_asked(event.pk)
        context["comments"] = list(event.feedback.exclude(comment="").select_related("member")
                                   .order_by("-updated_at")[:COMMENTS_SHOWN])
        context["photos_text"] = "\n".join(f"{p['url']} {p['caption']}".strip() for p in event.photos)
        return context


class MyCommunitiesView(ScopedListView):
    queryset = Community.objects.all()
    template_name = "communities/m_communities.html"
    paginate_by = 50

    def narrow(self, queryset):
        return queries.my_communities(self.request.user, whole_store=bool(self.request.GET.get("all")))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = list(context["object_list"])
        counts = queries.member_counts([c.pk for c in rows])
        for community in rows:
            community.member_count = counts.get(community.pk, 0)
        context["rows"] = rows
        return context


class TodaysEventsView(ScopedListView):
    queryset = Event.objects.all()
    template_name = "communities/m_events.html"
    paginate_by = 50

    def narrow(self, queryset):
        return queries.todays_events(self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = list(context["object_list"])
        counts = queries.signup_counts([e.pk for e in rows])
        checked = CheckIn.objects.filter(event_id__in=[e.pk for e in rows]).values_list("event_id", flat=True)
        per_event: dict[int, int] = {}
        for event_id in checked:
            per_event[event_id] = per_event.get(event_id, 0) + 1
        for event in rows:
            event.counts = counts[event.pk]
            event.checked_in = per_event.get(event.pk, 0)
        context["rows"] = rows
        return context


def _door_context(request, event, answer=None) -> dict:
    rows = list(queries.door_list(event, request.user)[:DOOR_LIST_MAX])
    checked = dict(CheckIn.objects.filter(event=event).values_list("member_id", "at"))
    for signup in rows:
        signup.checked_in_at = checked.get(signup.member_id)
    return {"event": event, "rows": rows, "answer": answer, "checked_in": len(checked),
            "seated": sum(1 for s in rows if s.state != SignUpState.WAITLISTED), "sources": CheckInSource,
            "device": _device(request), "door_words": _door_words()}


def _door_words() -> dict:
    """What the door's offline queue (static/communities/door.js) says, translated here."""
    return {
        "online": _("Online: scans are checked at once."),
        "offline": _("Offline: scans are kept on this phone and synced when the connection is back."),
        "waiting": _("%(n)s scans waiting to be synced."),
        "saved": _("%(what)s saved on this phone; it is synced when the connection is back."),
        "synced": _("%(n)s scans synced."),
        "failed": _("The scans could not be synced; they are kept on this phone."),
        "camera": _("Scan with the camera"),
        "stop": _("Stop the camera"),
        "noCamera": _("The camera could not be opened: type the code."),
    }


def _device(request) -> str:
    if not request.session.session_key:
        request.session.save()
    return _("phone %(id)s") % {"id": request.session.session_key[:6]}


@scoped_view(pk=Event)
def check_in_screen(request, pk: int):
    """The door: GET shows the form and the list; POST checks one member in (code or member id) and
    answers at once (htmx: the panel; without scripts: the page again, with the answer above)."""
    event = get_visible_or_404(Event.objects.select_related("community", "store"), request.user, pk=pk)
    if request.method != "POST":
        return render(request, "communities/m_checkin.html", _door_context(request, event))
    code = (request.POST.get("code") or "").strip()
    member = (request.POST.get("member") or "").strip()
    source = request.POST.get("source") or (CheckInSource.LIST if member else CheckInSource.TYPED)
    answer = {"ok": False}
    try:
        if member and not member.isdigit():
            raise ServiceError(_("Not a member id: %(value)s.") % {"value": member})
        result = checkins.check_in(event=event, actor=request.user, source=source, code=code or None,
                                   member_id=int(member) if member else None, device=_device(request))
        member_name = result.checkin.member.name
        answer = {"ok": result.created, "repeat": not result.created, "name": member_name,
                  "text": checkins.answer(result)}
    except ServiceError as exc:
        answer = {"ok": False, "error": True, "text": exc.message}
    if _is_htmx(request):
        return render(request, "communities/m_checkin_panel.html", _door_context(request, event, answer))
    (messages.success if answer.get("ok") else messages.warning)(
        request, f"{answer.get('name', '')} {answer['text']}".strip())
    return redirect("community-check-in", pk=event.pk)


@scoped_view(pk=Event)
def check_in_sync(request, pk: int):
    """POST (JSON, from the door's offline queue, static/communities/door.js): the scans a phone made
    without a connection, each with its own time; answers one result per scan (conflicts included)."""
    from communities.api.serializers import CheckInBatchInputSerializer

    event = get_visible_or_404(Event.objects.all(), request.user, pk=pk)
    if request.method != "POST":
        return JsonResponse({"error": {"message": _("POST the scans.")}}, status=405)
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        body = None
    serializer = CheckInBatchInputSerializer(data=body if isinstance(body, dict) else {})
    if not serializer.is_valid():
        return JsonResponse({"error": {"message": _("The scans could not be read."), "details": serializer.errors}},
                            status=400)
    scans = [door_sync.Scan(at=x["at"], source=x["source"], code=x.get("code"), member_id=x.get("member"),
                            device=x["device"] or _device(request)) for x in serializer.validated_data["scans"]]
    try:
        results = door_sync.sync_scans(event=event, actor=request.user, scans=scans)
    except ServiceError as exc:
        return JsonResponse({"error": {"message": str(exc.message), "details": exc.details or {}}},
                            status=exc.status)
    return JsonResponse({
        "results": [{"index": r.index, "outcome": r.outcome, "message": r.message,
                     "name": r.checkin.member.name if r.checkin else ""} for r in results],
        "checked_in": CheckIn.objects.filter(event=event).count(),
    })


def can_start_community(user) -> bool:
    reach = access_for(user)
    return reach.all_stores or (reach.store_id is not None and access.can_create_community(user, reach.store_id))


def can_create_event(user) -> bool:
    return access_for(user).all_stores or queries.manageable_communities(user).exists()


def _save_failed(form, exc: ServiceError) -> None:
    if exc.details:
        apply_errors(form, exc.details)
        if not any(name in form.fields for name in exc.details) and exc.message:
            form.add_error(None, exc.message)
    else:
        form.add_error(None, exc.message)


@scoped_view
def community_create(request):
    """A new community in one of the user's stores (operators: any; a store manager: theirs)."""
    if not can_start_community(request.user):
        raise PermissionDenied
    form = CommunityForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            community = community_services.create_community(actor=request.user, data=community_services.CommunityInput(
                store=data["store"], name=data["name"], owner=data["owner"], kind=data["kind"],
                description=data["description"], capacity=data["capacity"], assistants=list(data["assistants"]),
            ))
        except ServiceError as exc:
            _save_failed(form, exc)
        else:
            messages.success(request, _("Community %(name)s started.") % {"name": community.name})
            return redirect("community-detail", pk=community.pk)
    return render(request, "communities/community_form.html", {"form": form, "community": None})


@scoped_view(pk=Community)
def community_edit(request, pk: int):
    community = get_visible_or_404(Community.objects.select_related("store"), request.user, pk=pk)
    if not access.can_manage_community(request.user, community):
        raise PermissionDenied
    form = CommunityForm(request.POST or None, user=request.user, community=community)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        values = {name: data[name] for name in ("name", "kind", "owner", "capacity", "status", "description")}
        values["assistants"] = list(data["assistants"])
        try:
            community_services.update_community(community=community, actor=request.user, **values)
        except ServiceError as exc:
            _save_failed(form, exc)
        else:
            messages.success(request, _("Community %(name)s saved.") % {"name": values["name"]})
            return redirect("community-detail", pk=community.pk)
    return render(request, "communities/community_form.html", {"form": form, "community": community})


@scoped_view
def event_create(request):
    """A new event in a community the user manages (operators: also brand-wide)."""
    if not can_create_event(request.user):
        raise PermissionDenied
    communities = queries.manageable_communities(request.user)
    initial = {}
    if (wanted := request.GET.get("community", "")).isdigit():
        initial["community"] = int(wanted)
    form = EventForm(request.POST or None, user=request.user, communities=communities, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        values = {name: data[name] for name in EventForm.EDITABLE}
        try:
            event = event_services.create_event(actor=request.user, data=event_services.EventInput(
                community=data.get("community"), store=data.get("store"), **values))
        except ServiceError as exc:
            _save_failed(form, exc)
        else:
            messages.success(request, _("Event %(title)s created.") % {"title": event.title})
            return redirect("community-event-detail", pk=event.pk)
    return render(request, "communities/event_form.html", {"form": form, "event": None})


@scoped_view(pk=Event)
def event_edit(request, pk: int):
    event = get_visible_or_404(Event.objects.select_related("community", "store"), request.user, pk=pk)
    if not access.can_manage_event(request.user, event):
        raise PermissionDenied
    form = EventForm(request.POST or None, user=request.user, communities=Community.objects.none(), event=event)
    if request.method == "POST" and event.status == EventStatus.CANCELLED:
        form.add_error(None, _("The event is cancelled."))
    elif request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in EventForm.EDITABLE}
        changed = {name: value for name, value in values.items() if value != getattr(event, name)}
        try:
            event_services.update_event(event=event, actor=request.user, **changed)
        except ServiceError as exc:
            _save_failed(form, exc)
        else:
            messages.success(request, _("Event %(title)s saved.") % {"title": values["title"]})
            return redirect("community-event-detail", pk=event.pk)
    return render(request, "communities/event_form.html", {"form": form, "event": event})


@scoped_view(pk=Event)
def event_cancel(request, pk: int):
    """POST: cancel the event and its sign-ups (GET: back to the event)."""
    event = get_visible_or_404(Event.objects.select_related("community"), request.user, pk=pk)
    if request.method != "POST":
        return redirect("community-event-detail", pk=event.pk)
    try:
        event_services.cancel_event(event=event, actor=request.user)
    except ServiceError as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.message) from exc
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Event %(title)s cancelled; its sign-ups were cancelled.")
                         % {"title": event.title})
    return redirect("community-event-detail", pk=event.pk)


SEGMENT_CHOICES_MAX = 200


@scoped_view(pk=Community)
def community_from_segment(request, pk: int):
    """Members of a saved segment for a community: GET shows how many of its members of the store
    are not in it yet (and the newest few), POST adds them at once."""
    community = get_visible_or_404(Community.objects.select_related("store"), request.user, pk=pk)
    if not access.can_manage_community(request.user, community):
        raise PermissionDenied
    chosen = request.POST.get("segment") or request.GET.get("segment") or ""
    segment_id = int(chosen) if chosen.isdigit() else None
    context = {"community": community, "chosen": segment_id, "suggestion": None,
               "segments": Segment.objects.visible_to(request.user).order_by("name")[:SEGMENT_CHOICES_MAX]}
    try:
        if request.method == "POST":
            done = entry.add_segment(community=community, segment_id=segment_id, actor=request.user)
            messages.success(request, _("%(added)d members added from %(segment)s; the community has %(total)d.")
                             % {"added": done.added, "segment": done.segment.name, "total": done.members})
            return redirect("community-detail", pk=community.pk)
        if segment_id is not None:
            context["suggestion"] = entry.suggest(community=community, segment_id=segment_id, actor=request.user)
    except ServiceError as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.message) from exc
        context["error"] = "; ".join(str(m) for msgs in (exc.details or {}).values() for m in msgs) or exc.message
    return render(request, "communities/community_from_segment.html", context)


def _problem(exc: ServiceError) -> str:
    return "; ".join(str(m) for msgs in (exc.details or {}).values() for m in msgs) or str(exc.message)


def _int(raw) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() else None


@scoped_view(pk=Community)
def community_invite(request, pk: int):
    """POST: invite the picked members (member=…, repeated) or a segment's (segment=…) to the
    community; their messages go out through the notices' channel."""
    community = get_visible_or_404(Community.objects.select_related("store"), request.user, pk=pk)
    if not access.can_manage_community(request.user, community):
        raise PermissionDenied
    if request.method != "POST":
        return redirect("community-from-segment", pk=community.pk)
    picked = request.POST.getlist("member")
    segment_id = _int(request.POST.get("segment")) if not picked else None
    try:
        if picked and not all(p.isdigit() for p in picked):
            raise ServiceError(_("Pick members from the list."))
        done = invitations.invite(
            community=community, actor=request.user, member_ids=[int(p) for p in picked] if picked else None,
            segment_id=segment_id if not picked else None, message=request.POST.get("message", ""),
            days=_int(request.POST.get("days")) or invitations.DEFAULT_DAYS)
    except ServiceError as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.message) from exc
        messages.error(request, _problem(exc))
        return redirect(f"{reverse('community-from-segment', args=[community.pk])}"
                        + (f"?segment={segment_id}" if segment_id else ""))
    messages.success(request, _("%(invited)d members invited (%(skipped)d already in or invited); the invitations "
                                "go out through the notices' channel.")
                     % {"invited": done.invited, "skipped": done.skipped})
    return redirect("community-detail", pk=community.pk)


@scoped_view(pk=Community)
def community_rule(request, pk: int):
    """POST: save the community's standing rule (segment=…), or clear it (segment empty)."""
    community = get_visible_or_404(Community.objects.select_related("store"), request.user, pk=pk)
    if not access.can_manage_community(request.user, community):
        raise PermissionDenied
    if request.method == "POST":
        raw = (request.POST.get("segment") or "").strip()
        try:
            if raw and not raw.isdigit():
                raise ServiceError(_("Choose a segment."))
            automatic.set_rule(community=community, actor=request.user, segment_id=int(raw) if raw else None)
        except ServiceError as exc:
            if exc.status == 403:
                raise PermissionDenied(exc.message) from exc
            messages.error(request, _problem(exc))
        else:
            messages.success(request, _("Rule saved: its members join within a minute, and every day after.") if raw
                             else _("Rule removed: members who joined automatically stay until removed by hand."))
    return redirect("community-detail", pk=community.pk)


def _photos_from_text(text: str) -> list[dict]:
    """One photo a line: the link, then its caption."""
    photos = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            url, _sep, caption = line.partition(" ")
            photos.append({"url": url, "caption": caption.strip()})
    return photos


@scoped_view(pk=Event)
def event_photos(request, pk: int):
    """POST: the event's photos, one link and caption a line (replacing the list)."""
    event = get_visible_or_404(Event.objects.select_related("community"), request.user, pk=pk)
    if request.method == "POST":
        try:
            feedback.set_photos(event=event, actor=request.user, photos=_photos_from_text(request.POST.get("photos")))
        except ServiceError as exc:
            if exc.status == 403:
                raise PermissionDenied(exc.message) from exc
            messages.error(request, _problem(exc))
        else:
            messages.success(request, _("Photos saved."))
    return redirect("community-event-detail", pk=event.pk)


@scoped_view(pk=Event)
def m_event_feedback(request, pk: int):
    """The phone: an event's photos, its rating so far, and staff entering an attendee's rating."""
    event = get_visible_or_404(Event.objects.select_related("community", "store"), request.user, pk=pk)
    if not access.can_check_in(request.user, event):
        raise PermissionDenied
    if request.method == "POST":
        try:
            member_id = _int(request.POST.get("member"))
            if member_id is None:
                raise ServiceError(_("Choose the member."))
            feedback.give(event=event, member_id=member_id, rating=_int(request.POST.get("rating")),
                          comment=request.POST.get("comment", ""), actor=request.user)
        except ServiceError as exc:
            messages.warning(request, _problem(exc))
        else:
            messages.success(request, _("Thank you: the rating is saved."))
        return redirect("community-event-feedback", pk=event.pk)
    given = dict(event.feedback.values_list("member_id", "rating"))
    attendees = list(CheckIn.objects.filter(event=event).select_related("member").order_by("member__name")
                     [:DOOR_LIST_MAX])
    for checkin in attendees:
        checkin.rating = given.get(checkin.member_id)
    return render(request, "communities/m_feedback.html", {
        "event": event, "attendees": attendees, "ratings": queries.event_ratings([event.pk])[event.pk],
        "open": timezone.now() <= feedback.closes_at(event) and event.starts_at <= timezone.now(),
        "change_days": feedback.CHANGE_DAYS})


def public_join(request, token: str):
    """What an invitation's link opens (no login): the community, and one button to join."""
    invitation = invitations.find(token)
    if invitation is None:
        raise Http404
    community = invitation.community
    context = {"community": community, "invitation": invitation, "outcome": None, "error": None,
               "expired": invitation.batch.expires_at <= timezone.now(),
               "member_of": community.memberships.filter(member_id=invitation.member_id,
                                                         left_at__isnull=True).exists()}
    if request.method == "POST":
        try:
            done = invitations.accept(invitation=invitation)
        except ServiceError as exc:
            context["error"], context["code"] = exc.message, exc.code
        else:
            context["outcome"] = "joined" if done.created else "already"
            context["member_of"] = True
    return render(request, "communities/public_join.html", context)


def public_feedback(request, token: str):
    """What an event's feedback link opens (no login): the event, its photos, and the member's rating."""
    read = feedback.read_token(token)
    event = Event.objects.select_related("community", "store").filter(pk=read[0]).first() if read else None
    if event is None:
        raise Http404
    member_id = read[1]
    mine = event.feedback.filter(member_id=member_id).first()
    context = {"event": event, "mine": mine, "saved": False, "error": None, "token": token,
               "closes_at": feedback.closes_at(event)}
    if request.method == "POST":
        try:
            given = feedback.give(event=event, member_id=member_id, rating=_int(request.POST.get("rating")),
                                  comment=request.POST.get("comment", ""))
        except ServiceError as exc:
            context["error"] = _problem(exc)
        else:
            context["mine"], context["saved"] = given.feedback, True
    return render(request, "communities/public_feedback.html", context)


urlpatterns = [
    path("join/<str:token>/", public_join, name="community-join"),
    path("feedback/<str:token>/", public_feedback, name="community-feedback"),
    path("communities/<int:pk>/invite/", community_invite, name="community-invite"),
    path("communities/<int:pk>/rule/", community_rule, name="community-rule"),
    path("events/<int:pk>/photos/", event_photos, name="community-event-photos"),
    path("m/events/<int:pk>/feedback/", m_event_feedback, name="community-event-feedback"),
    path("communities/<int:pk>/from-segment/", community_from_segment, name="community-from-segment"),
    path("communities/new/", community_create, name="community-create"),
    path("communities/<int:pk>/edit/", community_edit, name="community-edit"),
    path("events/new/", event_create, name="community-event-create"),
    path("events/<int:pk>/edit/", event_edit, name="community-event-edit"),
    path("events/<int:pk>/cancel/", event_cancel, name="community-event-cancel"),
    path("communities/", CommunityListView.as_view(), name="community-list"),
    path("communities/<int:pk>/", CommunityDetailView.as_view(), name="community-detail"),
    path("events/", EventListView.as_view(), name="community-event-list"),
    path("events/<int:pk>/", EventSignUpsView.as_view(), name="community-event-detail"),
    path("m/communities/", MyCommunitiesView.as_view(), name="mobile-communities"),
    path("m/events/", TodaysEventsView.as_view(), name="mobile-events"),
    path("m/events/<int:pk>/check-in/", check_in_screen, name="community-check-in"),
    path("m/events/<int:pk>/check-in/sync/", check_in_sync, name="community-check-in-sync"),
]
