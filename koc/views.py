"""Screens of the KOC programme: the overview and its figures, creators and their pages, applications
and candidates, posts with their metric snapshots, topics, the level ladder with its benefits and
recalculations, launches with who may buy early, the programme's settings, and the phone page a
creator or a clerk submits a post from. Every rule is the services' (koc.services); a refused write
comes back as an error beside its field, nothing changed, and every write answers with a redirect
(post, redirect, get), so a form sent twice is refused by the service rather than done twice."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, When
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from koc import queries
from koc.forms import (
    AccountForm,
    ApplicationFilterSet,
    ApproveForm,
    BenefitForm,
    CreatorFilterSet,
    CreatorForm,
    LaunchForm,
    PostFilterSet,
    PostForm,
    ProgrammeForm,
    RateForm,
    RejectForm,
    SetLevelForm,
    SnapshotForm,
    TopicForm,
    apply_errors,
)
from koc.models import (
    Account,
    Application,
    ApplicationState,
    Benefit,
    Creator,
    Launch,
    Level,
    LevelChange,
    MetricSnapshot,
    Participation,
    Platform,
    PlatformRate,
    Post,
    PostSource,
    Programme,
    Repost,
    TierRun,
    Topic,
    TopicStatus,
)
from scrm import permissions
from scrm.dashboard import ScopedDetailView, ScopedListView, ScopedTemplateView, scoped_view
from scrm.errors import ServiceError
from scrm.scoping import get_visible_or_404, scope

REASONS = {"joined": gettext_lazy("first level"), "promoted": gettext_lazy("promoted"),
           "demoted": gettext_lazy("demoted at the period's end"), "left_programme": gettext_lazy("left the programme"),
           "manual": gettext_lazy("set by hand")}


def can_write_creators(user) -> bool:
    return permissions.can_write(user, "koc_creators")


def can_write_posts(user) -> bool:
    return permissions.can_write(user, "koc_posts")


def can_write_programme(user) -> bool:
    return permissions.can_write(user, "koc_programme")


def _forbid_unless(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


# --- the overview -----------------------------------------------------------------------------------


class OverviewView(ScopedTemplateView):
    template_name = "koc/overview.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        days = queries.window_days(self.request.GET.get("days"))
        by = "media_value" if self.request.GET.get("by") == "media_value" else "interactions"
        figures = queries.overview(self.request.user, days=days, by=by)
        context.update(figures)
        context["programme"] = Programme.current()
        context["moved"] = any(r["promoted"] or r["demoted"] for r in figures["movement"])
        context["charts"] = queries.chart_data(figures) | {"labels": {
            "posts": _("Posts"), "views": _("Views"), "promoted": _("Promoted"), "demoted": _("Demoted")}}
        context["formula"] = _formula_lines()
        return context


def _formula_lines() -> list[str]:
    from koc.services import formula

    return formula.explain().splitlines()


# --- creators -------------------------------------------------------------------------------------


class CreatorListView(ScopedListView):
    queryset = Creator.objects.select_related("member__home_store", "level").order_by("member__name", "id")
    filterset_class = CreatorFilterSet
    template_name = "koc/creator_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_write"] = can_write_creators(self.request.user)
        return context


def _creator_context(request, creator, **forms) -> dict:
    user = request.user
    mentors = queries.creator_choices(user)
    writable = can_write_creators(user)
    context = {
        "creator": creator,
        "needs": queries.next_level_needs(creator),
        "accounts": Account.objects.filter(creator=creator).order_by("platform"),
        "posts": Post.objects.filter(creator=creator).select_related("topic").order_by("-published_at", "-id")[:20],
        "post_count": Post.objects.filter(creator=creator).count(),
        "history": _with_reasons(LevelChange.objects.filter(creator=creator).select_related(
            "from_level", "to_level", "by")[:20]),
        "grants": queries.creator_grants(creator),
        "mentees": scope(creator.mentees.select_related("member", "level"), user),
        "mentor": scope(Creator.objects.filter(pk=creator.mentor_id), user).select_related("member").first()
        if creator.mentor_id else None,
        "topics": queries.creator_topics(creator),
        "can_write": writable,
        "can_post": can_write_posts(user),
        "can_set_level": can_write_programme(user),
        "programme": Programme.current(),
    }
    if writable:
        context["edit_form"] = forms.get("edit_form") or CreatorForm(creator=creator, mentors=mentors)
        context["account_form"] = forms.get("account_form") or AccountForm()
    if context["can_set_level"]:
        context["level_form"] = forms.get("level_form") or SetLevelForm(initial={"level": creator.level_id})
    return context


def _with_reasons(changes) -> list:
    changes = list(changes)
    for change in changes:
        change.reason_label = REASONS.get(change.reason, change.reason)
    return changes


class CreatorDetailView(ScopedDetailView):
    queryset = Creator.objects.select_related("member__home_store", "level", "approved_by")
    template_name = "koc/creator_detail.html"
    context_object_name = "creator"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(_creator_context(self.request, self.object))
        return context


def _creator_for(request, pk):
    return get_visible_or_404(Creator.objects.select_related("member__home_store", "level", "approved_by"),
                              request.user, pk=pk)


def _creator_refused(request, creator, **forms):
    return render(request, "koc/creator_detail.html", _creator_context(request, creator, **forms), status=400)


@scoped_view(pk=Creator)
@require_POST
def creator_edit(request, pk: int):
    from koc.services import creators as creator_services

    creator = _creator_for(request, pk)
    _forbid_unless(can_write_creators(request.user))
    form = CreatorForm(request.POST, creator=creator, mentors=queries.creator_choices(request.user))
    if form.is_valid():
        mentor = form.cleaned_data["mentor"]
        try:
            creator_services.update_creator(creator=creator, actor=request.user, status=form.cleaned_data["status"],
                                            mentor=mentor.pk if mentor else None, bio=form.cleaned_data["bio"])
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("%(name)s saved.") % {"name": creator.member.name})
            return redirect("koc-creator-detail", pk=creator.pk)
    return _creator_refused(request, creator, edit_form=form)


@scoped_view(pk=Creator)
@require_POST
def creator_account_add(request, pk: int):
    from koc.services import creators as creator_services

    creator = _creator_for(request, pk)
    _forbid_unless(can_write_creators(request.user))
    form = AccountForm(request.POST)
    if form.is_valid():
        try:
            creator_services.add_account(creator=creator, actor=request.user, **form.cleaned_data)
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Account added."))
            return redirect("koc-creator-detail", pk=creator.pk)
    return _creator_refused(request, creator, account_form=form)


@scoped_view(pk=Creator, account=Account)
@require_POST
def creator_account_remove(request, pk: int, account: int):
    from koc.services import creators as creator_services

    creator = _creator_for(request, pk)
    found = get_visible_or_404(Account.objects.filter(creator=creator), request.user, pk=account)
    creator_services.remove_account(account=found, actor=request.user)  # refusals: shown by the middleware
    messages.success(request, _("Account removed."))
    return redirect("koc-creator-detail", pk=creator.pk)


@scoped_view(pk=Creator)
@require_POST
def creator_set_level(request, pk: int):
    from koc.services import tiers

    creator = _creator_for(request, pk)
    _forbid_unless(can_write_programme(request.user))
    form = SetLevelForm(request.POST)
    if form.is_valid():
        level = form.cleaned_data["level"]
        try:
            tiers.set_level(creator=creator, actor=request.user, level_id=level.pk if level else None,
                            reason=form.cleaned_data["reason"])
        except ServiceError as exc:
            if "level_id" in exc.details:
                exc.details["level"] = exc.details.pop("level_id")
            apply_errors(form, exc)
        else:
            messages.success(request, _("Level of %(name)s set.") % {"name": creator.member.name})
            return redirect("koc-creator-detail", pk=creator.pk)
    return _creator_refused(request, creator, level_form=form)


# --- applications and candidates ----------------------------------------------------------------------


class ApplicationListView(ScopedListView):
    """Applications, those waiting for a decision first."""

    queryset = (Application.objects.select_related("member__home_store", "proposed_by", "decided_by")
                .annotate(waiting=Case(When(state=ApplicationState.PENDING, then=1), default=0))
                .order_by("-waiting", "-created_at", "-id"))
    filterset_class = ApplicationFilterSet
    template_name = "koc/application_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_decide"] = can_write_creators(self.request.user)
        mentors = ApproveForm(mentors=queries.creator_choices(self.request.user)).fields["mentor"]
        context["mentor_choices"] = list(mentors.choices) if context["can_decide"] else []  # once, not per row
        return context


def _application_for(request, pk):
    return get_visible_or_404(Application.objects.select_related("member"), request.user, pk=pk)


@scoped_view(pk=Application)
@require_POST
def application_approve(request, pk: int):
    from koc.services import creators as creator_services

    application = _application_for(request, pk)
    _forbid_unless(can_write_creators(request.user))
    form = ApproveForm(request.POST, mentors=queries.creator_choices(request.user))
    if form.is_valid():
        mentor = form.cleaned_data["mentor"]
        creator = creator_services.approve(application=application, actor=request.user,
                                           mentor_id=mentor.pk if mentor else None)
        messages.success(request, _("%(name)s joined the programme.") % {"name": application.member.name})
        return redirect("koc-creator-detail", pk=creator.pk)
    messages.error(request, _("Pick a mentor from the list, or none."))
    return redirect("koc-application-list")


@scoped_view(pk=Application)
@require_POST
def application_reject(request, pk: int):
    from koc.services import creators as creator_services

    application = _application_for(request, pk)
    _forbid_unless(can_write_creators(request.user))
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            creator_services.reject(application=application, actor=request.user, reason=form.cleaned_data["reason"])
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Application of %(name)s rejected.") % {"name": application.member.name})
            return redirect("koc-application-list")
    messages.error(request, "; ".join(str(e) for errors in form.errors.values() for e in errors)
                   or _("The application could not be rejected."))
    return redirect(f"{_url('koc-application-list')}#application-{application.pk}")


def _url(name, *args) -> str:
    from django.urls import reverse

    return reverse(name, args=args)


class CandidateListView(ScopedTemplateView):
    template_name = "koc/candidate_list.html"

    def get_context_data(self, **kwargs):
        from koc.services import candidates

        context = super().get_context_data(**kwargs)
        store = self.request.GET.get("store")
        context["rows"] = candidates.candidates(actor=self.request.user,
                                                store_id=int(store) if store and store.isdigit() else None)
        context["pending_ids"] = set(Application.objects.filter(
            state=ApplicationState.PENDING, member_id__in=[r.member_id for r in context["rows"]],
        ).values_list("member_id", flat=True))
        context["can_propose"] = can_write_creators(self.request.user)
        context["programme"] = Programme.current()
        return context


@scoped_view
@require_POST
def candidate_propose(request):
    """Propose a member from the candidates list: an application waiting for a decision."""
    from koc.services import creators as creator_services
    from members.models import Member

    _forbid_unless(can_write_creators(request.user))
    member_id = request.POST.get("member", "")
    if not member_id.isdigit():
        raise Http404
    member = get_visible_or_404(Member.objects.all(), request.user, pk=int(member_id))
    creator_services.apply(member_id=member.pk, actor=request.user, proposed=True,
                           motivation=request.POST.get("motivation", ""))
    messages.success(request, _("%(name)s proposed; the application waits for a decision.") % {"name": member.name})
    return redirect(request.POST.get("next") == "member" and _url("member-detail", member.pk)
                    or _url("koc-application-list"))


# --- posts ----------------------------------------------------------------------------------------


class PostListView(ScopedListView):
    queryset = Post.objects.select_related("creator__member", "topic").order_by("-published_at", "-id")
    filterset_class = PostFilterSet
    template_name = "koc/post_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_post"] = can_write_posts(self.request.user)
        creator_id = self.request.GET.get("creator", "")
        if creator_id.isdigit():
            context["creator"] = scope(Creator.objects.filter(pk=int(creator_id)), self.request.user).select_related(
                "member").first()
        return context


def _post_context(request, post, **forms) -> dict:
    snapshots = list(MetricSnapshot.objects.filter(post=post).order_by("taken_at"))
    return {
        "post": post,
        "snapshots": snapshots,
        "chart": {"labels": {"at": [timezone.localtime(s.taken_at).strftime("%m-%d %H:%M") for s in snapshots],
                             "views": _("Views"), "interactions": _("Interactions (unweighted)")},
                  "views": [s.views for s in snapshots],
                  "interactions": [s.likes + s.saves + s.comments + s.shares for s in snapshots]},
        "reposts": Repost.objects.filter(post=post).select_related("community", "campaign", "by"),
        "can_post": can_write_posts(request.user),
        "can_repost": can_write_programme(request.user),
        "snapshot_form": forms.get("snapshot_form") or SnapshotForm(initial={
            "taken_at": timezone.localtime(), **{name: getattr(post, name) for name in SnapshotForm.COUNTERS}}),
    }


class PostDetailView(ScopedDetailView):
    queryset = Post.objects.select_related("creator__member", "creator__level", "topic", "submitted_by")
    template_name = "koc/post_detail.html"
    context_object_name = "post"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(_post_context(self.request, self.object))
        return context


def _post_form(request, data=None, **kwargs) -> PostForm:
    form = PostForm(data, creators=queries.creator_choices(request.user), topics=queries.open_topics(), **kwargs)
    form.fields["url"].widget.attrs.update({
        "hx-get": _url("koc-post-platform"), "hx-trigger": "load, input changed delay:300ms, change",
        "hx-target": "#platform-detected", "hx-swap": "innerHTML"})
    return form


@scoped_view
def post_platform(request):
    """The platform a pasted link belongs to, for the post forms to show as it is typed (htmx)."""
    from koc.services import links

    url = (request.GET.get("url") or "").strip()
    context = {"url": url}
    if url:
        try:
            platform, _key = links.classify(url)
        except ServiceError as exc:
            context["problem"] = "; ".join(str(p) for problems in exc.details.values() for p in problems) or exc.message
        else:
            context["platform"] = dict(Platform.choices)[platform]
    return render(request, "koc/_platform.html", context)


def _record_post(request, form, *, source) -> Post | None:
    if not form.is_valid():
        return None
    data = form.cleaned_data
    from koc.services import posts as post_services

    try:
        return post_services.record_post(
            creator=data["creator"], actor=request.user, url=data["url"], published_at=data["published_at"],
            platform=data["platform"] or None, title=data["title"],
            topic_id=data["topic"].pk if data["topic"] else None, source=source)
    except ServiceError as exc:
        apply_errors(form, exc)
        return None


@scoped_view
def post_create(request):
    """Record a post on the dashboard (a creator picked among those the user may see)."""
    _forbid_unless(can_write_posts(request.user))
    initial = {"published_at": timezone.localtime()}
    if (creator := request.GET.get("creator", "")).isdigit():
        initial["creator"] = int(creator)
    form = _post_form(request, request.POST or None, initial=initial)
    if request.method == "POST":
        post = _record_post(request, form, source=PostSource.STAFF)
        if post is not None:
            messages.success(request, _("Post recorded."))
            return redirect("koc-post-detail", pk=post.pk)
    return render(request, "koc/post_form.html", {"form": form}, status=400 if form.errors else 200)


@scoped_view
def phone_post(request):
    """The phone page a creator or a clerk submits a post from: pick the creator, paste the link (its
    platform is read from it), the topic and when it was published."""
    _forbid_unless(can_write_posts(request.user))
    form = _post_form(request, request.POST or None, initial={"published_at": timezone.localtime()})
    if request.method == "POST":
        post = _record_post(request, form, source=PostSource.STAFF)
        if post is not None:
            messages.success(request, _("Post recorded for %(name)s (%(platform)s).") % {
                "name": post.creator.member.name, "platform": post.get_platform_display()})
            return redirect("koc-phone-post")
    recent = Post.objects.visible_to(request.user).filter(submitted_by=request.user).select_related(
        "creator__member").order_by("-created_at")[:5]
    return render(request, "koc/m_post.html", {"form": form, "recent": recent}, status=400 if form.errors else 200)


@scoped_view(pk=Post)
@require_POST
def post_snapshot(request, pk: int):
    from koc.services import posts as post_services

    post = get_visible_or_404(PostDetailView.queryset, request.user, pk=pk)
    _forbid_unless(can_write_posts(request.user))
    form = SnapshotForm(request.POST)
    if form.is_valid():
        values = dict(form.cleaned_data)
        try:
            post_services.record_metrics(post=post, actor=request.user, source="staff", **values)
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Metrics recorded."))
            return redirect("koc-post-detail", pk=post.pk)
    context = _post_context(request, post, snapshot_form=form)
    return render(request, "koc/post_detail.html", context, status=400)


@scoped_view(pk=Post)
@require_POST
def post_repost(request, pk: int):
    from koc.services import topics as topic_services

    post = get_visible_or_404(Post.objects.all(), request.user, pk=pk)
    community = request.POST.get("community", "")
    campaign = request.POST.get("campaign", "")
    topic_services.repost(post=post, actor=request.user,
                          community_id=int(community) if community.isdigit() else None,
                          campaign_id=int(campaign) if campaign.isdigit() else None)
    messages.success(request, _("Post officially reposted."))
    return redirect("koc-post-detail", pk=post.pk)


# --- topics ---------------------------------------------------------------------------------------


class TopicListView(ScopedListView):
    queryset = Topic.objects.select_related("min_level").order_by("-starts_at", "-id")
    template_name = "koc/topic_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        board = {row["topic"].pk: row for row in queries.topic_leaderboard(self.request.user, limit=1000)}
        rows = list(context["object_list"])
        for topic in rows:
            topic.figures = board.get(topic.pk)
        context["rows"] = rows
        context["can_write"] = can_write_programme(self.request.user)
        return context


class TopicDetailView(ScopedDetailView):
    queryset = Topic.objects.select_related("min_level", "created_by")
    template_name = "koc/topic_detail.html"
    context_object_name = "topic"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        topic = self.object
        context["figures"] = queries.topic_figures(topic, user)
        context["participants"] = scope(Participation.objects.filter(topic=topic), user).select_related(
            "creator__member", "creator__level")[:200]
        context["posts"] = Post.objects.visible_to(user).filter(topic=topic).select_related(
            "creator__member").order_by("-views", "-id")[:50]
        context["can_write"] = can_write_programme(user)
        return context


@scoped_view
def topic_create(request):
    from koc.services import topics as topic_services

    _forbid_unless(can_write_programme(request.user))
    form = TopicForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            topic = topic_services.create_topic(actor=request.user, **form.values())
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Topic %(title)s created.") % {"title": topic.title})
            return redirect("koc-topic-detail", pk=topic.pk)
    return render(request, "koc/topic_form.html", {"form": form, "topic": None}, status=400 if form.errors else 200)


@scoped_view(pk=Topic)
def topic_edit(request, pk: int):
    from koc.services import topics as topic_services

    topic = get_visible_or_404(Topic.objects.all(), request.user, pk=pk)
    _forbid_unless(can_write_programme(request.user))
    form = TopicForm(request.POST or None, topic=topic)
    if request.method == "POST" and form.is_valid():
        try:
            topic_services.update_topic(topic=topic, actor=request.user, **form.values())
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Topic %(title)s saved.") % {"title": form.cleaned_data["title"]})
            return redirect("koc-topic-detail", pk=topic.pk)
    return render(request, "koc/topic_form.html", {"form": form, "topic": topic}, status=400 if form.errors else 200)


@scoped_view(pk=Topic)
@require_POST
def topic_status(request, pk: int):
    from koc.services import topics as topic_services

    topic = get_visible_or_404(Topic.objects.all(), request.user, pk=pk)
    if request.POST.get("to") == TopicStatus.CLOSED:
        topic_services.close_topic(topic=topic, actor=request.user)
        messages.success(request, _("Topic closed."))
    else:
        topic_services.open_topic(topic=topic, actor=request.user)
        messages.success(request, _("Topic open."))
    return redirect("koc-topic-detail", pk=topic.pk)


# --- levels, benefits, recalculations -------------------------------------------------------------------

LEVEL_FIELDS = ("id", "rank", "name", "min_posts", "min_viral", "min_interactions", "description")


def _ladder_rows(post=None, levels=None) -> list[dict]:
    """The ladder's rows as the form shows them: the saved levels, or what was sent, plus two blank rows."""
    if post is not None:
        count = int(post.get("rows", "0") or 0) if str(post.get("rows", "0")).isdigit() else 0
        rows = []
        for i in range(min(count, 50)):
            row = {f: post.get(f"level-{i}-{f}", "").strip() for f in LEVEL_FIELDS}
            row["delete"] = bool(post.get(f"level-{i}-delete"))
            if any(row[f] for f in LEVEL_FIELDS):
                rows.append(row)
        return rows
    rows = [{f: getattr(level, f) for f in LEVEL_FIELDS} | {"delete": False} for level in levels]
    rows += [dict.fromkeys(LEVEL_FIELDS, "") | {"delete": False} for _i in range(2)]
    return rows


def _ladder_items(rows: list[dict]) -> list[dict]:
    items = []
    for row in rows:
        if row["delete"] or not (row["name"] or row["rank"]):
            continue
        item = {f: _number(row[f]) for f in LEVEL_FIELDS if f not in ("id", "name", "description")}
        item.update(name=row["name"], description=row["description"])
        if row["id"]:
            item["id"] = _number(row["id"])
        items.append(item)
    return items


def _number(value):
    """A whole number as sent, or the text itself for the service to refuse on its field."""
    text = str(value).strip()
    return int(text) if text.isdigit() else (0 if text == "" else text)


def _level_errors(exc: ServiceError) -> tuple[dict, list[str]]:
    """The service's errors keyed `levels.<i>.<field>` (or `<i>.<field>`), by row; the rest on top."""
    per_row: dict[int, dict[str, list[str]]] = {}
    other: list[str] = []
    for key, problems in (exc.details or {}).items():
        problems = [str(p) for p in (problems if isinstance(problems, list | tuple) else [problems])]
        parts = str(key).replace("[", ".").replace("]", "").split(".")
        parts = [p for p in parts if p and p != "levels"]
        if parts and parts[0].isdigit():
            field = parts[1] if len(parts) > 1 else "row"
            per_row.setdefault(int(parts[0]), {}).setdefault(field, []).extend(problems)
        else:
            other.extend(problems)
    if not exc.details:
        other.append(exc.message)
    return per_row, other


class LevelListView(ScopedTemplateView):
    template_name = "koc/level_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(_levels_context(self.request))
        return context


def _levels_context(request, *, rows=None, row_errors=None, errors=None, benefit_form=None) -> dict:
    levels = list(Level.objects.order_by("rank"))
    counts = queries.pyramid(request.user)
    by_level = {r["level"].pk: r["creators"] for r in counts["rows"]}
    for level in levels:
        level.creator_count = by_level.get(level.pk, 0)
    rows = rows if rows is not None else _ladder_rows(levels=levels)
    for index, row in enumerate(rows):
        row["index"] = index
        row["errors"] = (row_errors or {}).get(index, {})
    return {
        "levels": levels,
        "rows": rows,
        "ladder_errors": errors or [],
        "benefits": Benefit.objects.select_related("level", "community").order_by("level__rank", "name"),
        "runs": TierRun.objects.order_by("-started_at")[:20],
        "can_write": can_write_programme(request.user),
        "benefit_form": benefit_form or BenefitForm(communities=_communities(request.user)),
    }


def _communities(user):
    from communities.models import Community

    return scope(Community.objects.order_by("name"), user)


@scoped_view
@require_POST
def benefit_create(request):
    from koc.services import rights

    _forbid_unless(can_write_programme(request.user))
    form = BenefitForm(request.POST, communities=_communities(request.user))
    if form.is_valid():
        try:
            benefit = rights.save_benefit(actor=request.user, **form.values())
        except ServiceError as exc:
            for ours, theirs in (("level", "level_id"), ("community", "community_id")):
                if theirs in exc.details:
                    exc.details[ours] = exc.details.pop(theirs)
            apply_errors(form, exc)
        else:
            messages.success(request, _("Benefit %(name)s saved; holders brought in line.") % {"name": benefit.name})
            return redirect("koc-level-list")
    return render(request, "koc/level_list.html", _levels_context(request, benefit_form=form), status=400)


@scoped_view
@require_POST
def level_save(request):
    from koc.services import levels as level_services

    _forbid_unless(can_write_programme(request.user))
    rows = _ladder_rows(post=request.POST)
    items = _ladder_items(rows)
    try:
        level_services.save_ladder(actor=request.user, levels=items)
    except ServiceError as exc:
        kept = [row for row in rows if not row["delete"] and (row["name"] or row["rank"])]
        row_errors, other = _level_errors(exc)
        return render(request, "koc/level_list.html",
                      _levels_context(request, rows=kept, row_errors=row_errors, errors=other), status=400)
    messages.success(request, _("Ladder saved."))
    return redirect("koc-level-list")


@scoped_view
@require_POST
def level_recalculate(request):
    from koc.services import tiers

    _forbid_unless(can_write_programme(request.user))
    run = tiers.recalculate(actor=request.user, trigger="manual")
    messages.success(request, _("Recalculated: %(n)s creators counted, %(up)s promoted, %(down)s demoted.") % {
        "n": run.creators, "up": run.promoted, "down": run.demoted})
    return redirect("koc-level-list")


# --- launches -------------------------------------------------------------------------------------


class LaunchListView(ScopedListView):
    queryset = Launch.objects.order_by("-public_at", "-id")
    template_name = "koc/launch_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_write"] = can_write_programme(self.request.user)
        context["form"] = getattr(self, "form", None) or LaunchForm()
        rows = list(context["object_list"])
        wanted = self.request.GET.get("launch", "")
        for launch in rows:
            launch.early = _early_access(launch, self.request.user) if str(launch.pk) == wanted else None
        context["rows"] = rows
        return context


def _early_access(launch, user):
    from koc.services import rights

    return rights.early_access_list(launch, actor=user)


@scoped_view
@require_POST
def launch_create(request):
    from koc.services import rights

    _forbid_unless(can_write_programme(request.user))
    form = LaunchForm(request.POST)
    if form.is_valid():
        try:
            launch = rights.save_launch(actor=request.user, **form.cleaned_data)
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Launch %(name)s saved.") % {"name": launch.name})
            return redirect("koc-launch-list")
    view = LaunchListView()
    view.setup(request)
    view.form = form
    view.object_list = view.get_queryset()
    return render(request, "koc/launch_list.html", view.get_context_data(), status=400)


# --- settings -------------------------------------------------------------------------------------


def _settings_context(request, *, form=None, rate_form=None) -> dict:
    programme = Programme.current()
    return {
        "form": form or ProgrammeForm(instance=programme),
        "rate_form": rate_form or RateForm(),
        "rates": PlatformRate.objects.order_by("platform"),
        "formula": _formula_lines(),
        "can_write": can_write_programme(request.user),
        "programme": programme,
    }


@scoped_view
def settings_page(request):
    from koc.services import settings as settings_services

    if request.method != "POST":
        return render(request, "koc/settings.html", _settings_context(request))
    _forbid_unless(can_write_programme(request.user))
    if request.POST.get("what") == "rate":
        rate_form = RateForm(request.POST)
        if rate_form.is_valid():
            try:
                settings_services.set_rate(actor=request.user, **rate_form.cleaned_data)
            except ServiceError as exc:
                apply_errors(rate_form, exc)
            else:
                messages.success(request, _("Rate saved."))
                return redirect("koc-settings")
        return render(request, "koc/settings.html", _settings_context(request, rate_form=rate_form), status=400)
    form = ProgrammeForm(request.POST, instance=Programme.current())
    if form.is_valid():
        try:
            settings_services.update_programme(actor=request.user, **{name: form.cleaned_data[name]
                                                                      for name in ProgrammeForm.Meta.fields})
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Programme settings saved."))
            return redirect("koc-settings")
    return render(request, "koc/settings.html", _settings_context(request, form=form), status=400)


urlpatterns = [
    path("koc/", OverviewView.as_view(), name="koc-overview"),
    path("koc/creators/", CreatorListView.as_view(), name="koc-creator-list"),
    path("koc/creators/<int:pk>/", CreatorDetailView.as_view(), name="koc-creator-detail"),
    path("koc/creators/<int:pk>/edit/", creator_edit, name="koc-creator-edit"),
    path("koc/creators/<int:pk>/accounts/", creator_account_add, name="koc-creator-account-add"),
    path("koc/creators/<int:pk>/accounts/<int:account>/remove/", creator_account_remove,
         name="koc-creator-account-remove"),
    path("koc/creators/<int:pk>/level/", creator_set_level, name="koc-creator-level"),
    path("koc/applications/", ApplicationListView.as_view(), name="koc-application-list"),
    path("koc/applications/<int:pk>/approve/", application_approve, name="koc-application-approve"),
    path("koc/applications/<int:pk>/reject/", application_reject, name="koc-application-reject"),
    path("koc/candidates/", CandidateListView.as_view(), name="koc-candidate-list"),
    path("koc/candidates/propose/", candidate_propose, name="koc-candidate-propose"),
    path("koc/posts/", PostListView.as_view(), name="koc-post-list"),
    path("koc/posts/new/", post_create, name="koc-post-create"),
    path("koc/posts/<int:pk>/", PostDetailView.as_view(), name="koc-post-detail"),
    path("koc/posts/<int:pk>/metrics/", post_snapshot, name="koc-post-snapshot"),
    path("koc/posts/<int:pk>/repost/", post_repost, name="koc-post-repost"),
    path("koc/topics/", TopicListView.as_view(), name="koc-topic-list"),
    path("koc/topics/new/", topic_create, name="koc-topic-create"),
    path("koc/topics/<int:pk>/", TopicDetailView.as_view(), name="koc-topic-detail"),
    path("koc/topics/<int:pk>/edit/", topic_edit, name="koc-topic-edit"),
    path("koc/topics/<int:pk>/status/", topic_status, name="koc-topic-status"),
    path("koc/levels/", LevelListView.as_view(), name="koc-level-list"),
    path("koc/levels/save/", level_save, name="koc-level-save"),
    path("koc/levels/recalculate/", level_recalculate, name="koc-level-recalculate"),
    path("koc/levels/benefits/", benefit_create, name="koc-benefit-create"),
    path("koc/launches/", LaunchListView.as_view(), name="koc-launch-list"),
    path("koc/launches/new/", launch_create, name="koc-launch-create"),
    path("koc/settings/", settings_page, name="koc-settings"),
    path("koc/m/post/", phone_post, name="koc-phone-post"),
    path("koc/posts/platform/", post_platform, name="koc-post-platform"),
]
