"""Member screens: the dashboard list (with the audience builder of members/segments, sortable
columns and bulk actions), the member 360 page, its quick tag and note actions, the profile edit,
the tag vocabulary, and the staff phone views."""

from __future__ import annotations

import copy
import uuid
from itertools import groupby

from django.contrib import messages
from django.db import transaction
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from members import queries, searches
from members.filters import MemberFilterSet
from members.forms import BulkForm, MergeTagForm, ProfileForm, TagForm, TagGroupForm, version_of
from members.models import (
    AttributeDefinition,
    Consent,
    ConsentChannel,
    Member,
    MemberTag,
    NoteKind,
    ServiceNote,
    Tag,
    TagGroup,
)
from members.phones import looks_like_phone
from members.segments.forms import ROOT, AudienceForm
from members.segments.views import builder_context, preview_context
from members.services import bulk as bulk_service
from members.services import consent as consent_service
from members.services import disclosure
from members.services import notes as notes_service
from members.services import tags as tags_service
from members.services.attributes import sees_sensitive_attributes
from members.services.upsert import update_member
from scrm.dashboard import ScopedDetailView, ScopedListView, scoped_view
from scrm.errors import Conflict, InvalidInput, ServiceError
from scrm.models import Role, Store
from scrm.scoping import access_for, get_visible_or_404, scope


class MemberListView(ScopedListView):
    """Members, narrowed by the audience builder (a segment definition, counted from the bitmap
    index) and by the search box; the builder's audience can be saved as a segment."""

    queryset = Member.live.all()
    filterset_class = MemberFilterSet
    template_name = "members/member_list.html"
    partial_template_name = "members/_member_rows.html"
    allowed_roles = (Role.OPERATOR, Role.STORE_MANAGER, Role.STORE_STAFF)
    audience = None

    audience_incomplete = False

    sort: str | None = None

    def get(self, request, *args, **kwargs):
        # An old link or a typed URL with a phone in ?q=: keep the search server-side and move on.
        if looks_like_phone(request.GET.get("q", "")):
            return redirect(f"{request.path}?{searches.moved_out_of(request, request.GET).urlencode()}")
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        """The search box posts its text (a phone stays out of the URL): the session keeps it and the
        list's URL names it by id; htmx gets the rows and that URL to push, a plain form a redirect."""
        query = searches.moved_out_of(request, request.POST)
        url = f"{request.path}?{query.urlencode()}" if query else request.path
        if not request.htmx:
            return redirect(url)
        request.GET = query
        response = super().get(request, *args, **kwargs)
        response["HX-Push-Url"] = url
        return response

    def get_filterset_kwargs(self) -> dict:
        kwargs = super().get_filterset_kwargs()
        kwargs["data"] = searches.resolved(self.request, kwargs["data"])
        return kwargs

    def narrow(self, queryset):
        self.sort = queries.clean_sort(self.request.GET.get("sort"))  # an unknown key is refused (400)
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

    def get_paginator(self, queryset, *args, **kwargs):
        # The page's one query carries the columns and tag chips; the count ignores them.
        return super().get_paginator(queries.member_rows(queryset, self.sort), *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        query = self.request.GET.copy()
        query.pop("page", None)
        query.pop("sort", None)
        context.update(
            columns=queries.list_columns(), sort=self.sort or "", sort_keys=queries.sort_keys(),
            sort_querystring=query.urlencode(), bulk_tags=_bulk_tags(), can_bulk=True,
        )
        context.update(builder_context(self.request, self.audience))
        context.update(preview_context(self.audience))
        context.update(audience_count=self.audience_count, audience_ms=self.audience_ms,
                       audience_incomplete=self.audience_incomplete)
        return context


def _bulk_tags() -> list:
    """Hand-applied tags, grouped, for the bulk action's picker."""
    tags = Tag.objects.filter(rule__isnull=True).select_related("group").order_by(
        "group__sort_order", "group__name", "name")
    return [(group, list(items)) for group, items in groupby(tags, key=lambda t: t.group)]


class MobileMemberListView(MemberListView):
    """"My members" on a phone: the members a clerk owns first, searchable by name or phone."""

    template_name = "members/mobile_member_list.html"
    partial_template_name = "members/_mobile_member_rows.html"
    paginate_by = 30

    def get_filterset_kwargs(self) -> dict:
        kwargs = super().get_filterset_kwargs()
        data = (kwargs["data"] or QueryDict()).copy()
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


@scoped_view(pk=Member)
@require_POST
def reveal_phone(request, pk):
    """"Show phone": the member's full number for this user, once, recorded and counted against the
    hourly limit (members.services.disclosure); never cached."""
    member = _member_in_scope(request, pk)
    origin = "mobile" if request.POST.get("from") == "mobile" else "desktop"
    context = {"member": member, "origin": origin, "revealed": None, "reveal_error": None}
    try:
        context["revealed"] = disclosure.reveal_identifiers(member=member, actor=request.user,
                                                         ip=request.META.get("REMOTE_ADDR"), via=origin)
    except disclosure.RevealLimitReached as exc:
        context["reveal_error"] = exc.message
    if request.htmx:  # htmx swaps 2xx answers only: the limit is said in the swapped text
        response = render(request, "members/_revealed_phone.html", context)
    else:
        context.update(base_template="mobile.html" if origin == "mobile" else "dashboard.html",
                       back=_back(request, member))
        response = render(request, "members/revealed_phone.html", context,
                          status=429 if context["reveal_error"] else 200)
    response["Cache-Control"] = "no-store"
    return response


def _back(request, member) -> str:
    name = "mobile-member-detail" if request.POST.get("from") == "mobile" else "member-detail"
    return reverse(name, args=[member.pk])


# --- bulk actions on the member list -------------------------------------------------------------

_LIST_KEYS = {"segment", "sort", "page", searches.PARAM}


def matching_members(request, query: QueryDict):
    """Every member the list shows for `query` (its filters, search and audience builder), as the
    list computes them. What the list would not understand is an error, never everyone: an unknown
    parameter, a filter it refuses, an audience it cannot fully read."""
    view = MemberListView()
    known = _LIST_KEYS | set(MemberFilterSet.base_filters)
    unknown = sorted(k for k in query if k not in known and k != ROOT and not k.startswith(ROOT + "."))
    if unknown:
        raise InvalidInput(_("The member list has no filter %(keys)s; nothing was changed.")
                           % {"keys": ", ".join(unknown)}, details={"query": unknown}, code="unknown_filter")
    listing = copy.copy(request)
    listing.GET = query
    view.setup(listing)
    queryset = view.get_queryset()
    if view.audience_incomplete:
        raise InvalidInput(_("This audience is incomplete: fix the conditions marked in the builder first."),
                           details={"query": view.audience.all_errors()}, code="audience_incomplete")
    if view.filterset.is_bound and not view.filterset.is_valid():
        raise InvalidInput(_("The list's filters are not valid; nothing was changed."),
                           details=view.filterset.errors.get_json_data(), code="invalid_filter")
    return queryset.order_by()


def _selection(request, form) -> tuple[object, str]:
    """(members for the service, what the token is tied to)."""
    if form.cleaned_data["target"] == "all":
        query = form.cleaned_data["query"] or ""
        return matching_members(request, QueryDict(query)), f"all?{query}"
    ids = sorted(set(form.cleaned_data["member"]))
    return ids, "ids:" + ",".join(map(str, ids))


@scoped_view
@require_POST
def bulk_action(request):
    """Review (the exact count, a fresh token) and then carry out a bulk tag action on the rows ticked
    or on every member the list matches. A retry of a confirmed action answers its first result."""
    form = BulkForm(request.POST)
    back = f"{reverse('member-list')}?{request.POST.get('query', '')}"
    if not form.is_valid():
        errors = [m for msgs in form.errors.values() for m in msgs]
        return render(request, "members/bulk_confirm.html", {"form": form, "errors": errors, "back": back},
                      status=400)
    members, selection = _selection(request, form)
    data = form.cleaned_data
    context = {"form": form, "back": back, "tag": data["tag"], "action": data["action"], "target": data["target"],
               "query": data["query"], "ids": data["member"]}
    if not data["token"]:
        count = bulk_service.selection_count(members, request.user)
        return render(request, "members/bulk_confirm.html",
                      {**context, "count": count, "token": uuid.uuid4().hex})
    try:
        result = bulk_service.tag_selection(
            actor=request.user, action=data["action"], tag=data["tag"], members=members,
            expected=data["expected"] if data["expected"] is not None else -1, token=data["token"],
            selection=selection,
        )
    except Conflict as exc:
        if exc.code != "selection_changed":
            raise
        count = bulk_service.selection_count(members, request.user)
        return render(request, "members/bulk_confirm.html",
                      {**context, "count": count, "token": uuid.uuid4().hex, "errors": [exc.message]}, status=409)
    if result.action == "add_tag":
        text = _("Tag %(tag)s added to %(changed)s of %(members)s members.")
    else:
        text = _("Tag %(tag)s removed from %(changed)s of %(members)s members.")
    messages.success(request, text % {"tag": result.tag_name, "changed": f"{result.changed:,}",
                                      "members": f"{result.members:,}"})
    return redirect(back)


# --- the tag vocabulary ---------------------------------------------------------------------------


def _field_errors(form, exc: ServiceError) -> None:
    """A service's field errors beside the form's fields; the rest above the form."""
    for name, messages_ in (exc.details or {}).items():
        target = name if name in form.fields else None
        for message in messages_ if isinstance(messages_, list) else [messages_]:
            form.add_error(target, str(message))
    if not exc.details:
        form.add_error(None, exc.message)


def _tags_page(request, **extra):
    groups = list(TagGroup.objects.order_by("sort_order", "name").prefetch_related("tags"))
    counts = queries.tag_usage([t.pk for g in groups for t in g.tags.all()])
    context = {
        "groups": [{"group": g, "tags": [{"tag": t, "members": counts.get(t.pk, 0)} for t in g.tags.all()]}
                   for g in groups],
        # What the page offers; the tag services decide (and answer Forbidden to anyone else).
        "can_edit": access_for(request.user).all_stores,
        "group_form": TagGroupForm(), "tag_form": TagForm(), **extra,
    }
    return render(request, "members/tags.html", context, status=400 if extra.get("failed") else 200)


@scoped_view
def tag_list(request):
    """Tags and tag groups with how many members carry each; operators change them here."""
    return _tags_page(request)


@scoped_view
@require_POST
def tag_group_create(request):
    form = TagGroupForm(request.POST)
    if form.is_valid():
        try:
            group = tags_service.create_group(actor=request.user, **form.cleaned_data)
        except (InvalidInput, Conflict) as exc:  # Forbidden: the middleware's message or 403 page
            _field_errors(form, exc)
        else:
            messages.success(request, _("Tag group %(name)s created.") % {"name": group.name})
            return redirect("tag-list")
    return _tags_page(request, group_form=form, failed=True)


@scoped_view(pk=TagGroup)
def tag_group_edit(request, pk):
    group = get_visible_or_404(TagGroup.objects.all(), request.user, pk=pk)
    form = TagGroupForm(request.POST or None, initial={
        "name": group.name, "description": group.description, "multiple": group.multiple,
        "sort_order": group.sort_order})
    if request.method == "POST":
        if request.POST.get("delete"):
            tags_service.delete_group(group=group, actor=request.user)  # Forbidden / Conflict: shown by the middleware
            messages.success(request, _("Tag group %(name)s deleted.") % {"name": group.name})
            return redirect("tag-list")
        if form.is_valid():
            try:
                tags_service.update_group(group=group, actor=request.user, **form.cleaned_data)
            except (InvalidInput, Conflict) as exc:
                _field_errors(form, exc)
            else:
                messages.success(request, _("Tag group %(name)s saved.") % {"name": form.cleaned_data["name"]})
                return redirect("tag-list")
    return render(request, "members/tag_group_form.html", {"form": form, "group": group},
                  status=400 if form.errors else 200)


@scoped_view
@require_POST
def tag_create(request):
    form = TagForm(request.POST)
    if form.is_valid():
        try:
            tag = tags_service.create_tag(actor=request.user, group=form.cleaned_data["group"],
                                          name=form.cleaned_data["name"])
        except (InvalidInput, Conflict) as exc:  # Forbidden: the middleware's message or 403 page
            _field_errors(form, exc)
        else:
            messages.success(request, _("Tag %(name)s created.") % {"name": tag.name})
            return redirect("tag-list")
    return _tags_page(request, tag_form=form, failed=True)


@scoped_view(pk=Tag)
def tag_edit(request, pk):
    """Rename a tag, move it to another group, merge it into another tag or delete it (after
    confirming how many members carry it)."""
    tag = get_visible_or_404(Tag.objects.select_related("group"), request.user, pk=pk)
    members = queries.tag_usage([tag.pk]).get(tag.pk, 0)
    form = TagForm(request.POST if request.POST.get("save") else None,
                   initial={"name": tag.name, "group": tag.group_id})
    merge = MergeTagForm(request.POST if request.POST.get("merge") else None, source=tag)
    delete_error = None
    if request.POST.get("delete"):
        if request.POST.get("confirmed") != str(members):  # the count confirmed is no longer the count
            delete_error = _("%(n)s members carry this tag now, not the number you confirmed; confirm again.") % {
                "n": members}
        else:
            tags_service.delete_tag(tag=tag, actor=request.user)  # Forbidden: shown by the middleware
            messages.success(request, _("Tag %(name)s deleted from %(n)s members.") % {"name": tag.name,
                                                                                   "n": members})
            return redirect("tag-list")
    elif request.POST.get("merge") and merge.is_valid():
        target = merge.cleaned_data["target"]
        try:
            result = tags_service.merge_tags(source=tag, target=target, actor=request.user)
        except (InvalidInput, Conflict) as exc:
            _field_errors(merge, exc)
        else:
            messages.success(request, _("%(source)s merged into %(target)s: %(n)s members gained it.")
                             % {"source": tag.name, "target": target.name, "n": result.changed})
            return redirect("tag-list")
    elif request.POST.get("save") and form.is_valid():
        try:
            tags_service.update_tag(tag=tag, actor=request.user, **form.cleaned_data)
        except (InvalidInput, Conflict) as exc:
            _field_errors(form, exc)
        else:
            messages.success(request, _("Tag %(name)s saved.") % {"name": form.cleaned_data["name"]})
            return redirect("tag-list")
    failed = form.errors or merge.errors or delete_error
    context = {"form": form, "merge": merge, "tag": tag, "members": members, "delete_error": delete_error}
    return render(request, "members/tag_form.html", context, status=400 if failed else 200)


# --- profile edit ---------------------------------------------------------------------------------


def _consents(member) -> dict:
    return dict(Consent.objects.filter(member=member, channel=ConsentChannel.ALL).values_list("purpose", "granted"))


def _profile_form(request, member, data=None):
    definitions = AttributeDefinition.objects.filter(is_active=True).order_by("sort_order", "code")
    if not sees_sensitive_attributes(request.user):  # the member page's and the API's rule
        definitions = definitions.filter(sensitive=False, requires_guardian=False)
    stores = scope(Store.objects.filter(is_active=True).order_by("code"), request.user)
    return ProfileForm(data, member=member, stores=stores, definitions=definitions, consents=_consents(member))


@scoped_view(pk=Member)
def profile_edit(request, pk):
    """Edit a member's profile, custom attributes and consents through the API's services. The page
    carries the member's version: a change made by someone else meanwhile is reported, not overwritten."""
    member = _member_in_scope(request, pk)
    form = _profile_form(request, member, request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            _save_profile(request, member, form)
        except Conflict as exc:
            form.add_error(None, exc.message)
            status = 409
        except InvalidInput as exc:
            _profile_errors(form, exc)
            status = 400
        else:
            name = form.cleaned_data["name"] or member.name
            messages.success(request, _("Profile of %(name)s saved.") % {"name": name})
            return redirect("member-detail", member.pk)
    elif request.method == "POST":
        status = 400
    return render(request, "members/profile_form.html", {"form": form, "member": member}, status=status)


@transaction.atomic
def _save_profile(request, member, form) -> None:
    locked = Member.objects.select_for_update(of=("self",)).select_related("home_store").get(pk=member.pk)
    if version_of(locked) != form.cleaned_data["version"]:
        raise Conflict(_("Someone changed this member since you opened the page; reload it to see their change, "
                         "then edit again."), code="stale")
    form.member = locked
    consents = _consents(locked)
    toggles = form.consent_changes(consents)
    # Grants first, so a sensitive value and its consent can be saved together; withdrawals last,
    # since withdrawing removes the values that needed the consent.
    for purpose, _granted in [t for t in toggles if t[1]]:
        consent_service.set_consent(member=locked, purpose=purpose, granted=True, source="dashboard",
                                    actor=request.user)
    changes = form.profile_changes()
    if changes:
        update_member(member=locked, profile=changes, actor=request.user)
    for purpose, _granted in [t for t in toggles if not t[1]]:
        consent_service.set_consent(member=locked, purpose=purpose, granted=False, source="dashboard",
                                    actor=request.user)


def _profile_errors(form, exc: InvalidInput) -> None:
    for name, problems in (exc.details or {}).items():
        if name == "attributes" and isinstance(problems, dict):
            for code, msgs in problems.items():
                field = f"attr_{code}"
                for message in msgs:
                    form.add_error(field if field in form.fields else None, str(message))
            continue
        for message in problems if isinstance(problems, list) else [problems]:
            form.add_error(name if name in form.fields else None, str(message))
    if not exc.details:
        form.add_error(None, exc.message)
