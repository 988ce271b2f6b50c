"""Every route reaches its rows through the scoped path, proven for every route rather than for the
routes someone remembered.

1. The sweep: each pattern of the dashboard URLconf and each route of the API router is on a scoped
   base (Scoped*ViewSet / NestedScopedMixin / ScopedViewSet in the API; ScopedListView,
   ScopedDetailView, ScopedTemplateView or a `scoped_view` function on the dashboard), or on the
   allowlist with its reason. A new route that is neither fails here.
2. Across stores: every list and detail route is asked, as a store-bound API key of store A and as a
   staff account of store A, for another store's object: detail routes answer 404 (and reach the
   same kind of object of store A, so the 404 is the scoping's and not a broken URL), list routes
   leave it out (and show store A's).
"""

from __future__ import annotations

import csv
import inspect
import io
import itertools
import re
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.sites import site as admin_site
from django.core.files.base import ContentFile
from django.db import models
from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver, path, reverse
from django.utils import timezone
from rest_framework import viewsets
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from appointments.models import Booking
from appointments.models import Service as AppointmentService
from campaigns.models import Campaign, CampaignImage, WecomMassTask
from members.io.models import ImportJob
from members.models import Member, Tag
from members.segments.models import Segment
from scrm import permissions
from scrm.api.urls import router
from scrm.api.viewsets import NestedScopedMixin, ScopedQuerysetMixin, ScopedViewSet
from scrm.dashboard import ScopedDetailView, ScopedListView, ScopedTemplateView, scoped_view
from scrm.models import ApiKey, Role, Store, User
from scrm.scoping import store_path
from webhooks.models import Subscription
from wecom.models import SyncRun

# Routes that read no store's rows, each with the reason; keyed by URL name ("api:" for the API).
ALLOWLIST = {
    "healthz": "health probe: asks the database and the broker whether they answer, reads no rows",
    "login": "the sign-in form",
    "logout": "signs the session out",
    "otp-verify": "the login's code step: reads the signed-in account's own authenticator device",
    "account-security": "the signed-in account's own second factor (its authenticator device)",
    "set_language": "i18n: keeps the chosen language in the session",
    "referral-landing": "public page of a referral code: shows the brand and the code, nothing of its member",
    "wecom-callback": "WeCom's callback: signed by msg_signature, not a session; stores events, reads no store's rows",
    "appointments-public": "a signed booking link: the store (and service or member) its token names, free times",
    "community-join": "a signed invitation link: the community its token names, and a button to join it",
    "community-feedback": "a signed feedback link: the event its token names and that member's own rating",
    "link-follow": "a campaign's tracked link: records the click its signed token names and redirects, shows nothing",
    "sms-reply": "the SMS provider's reply callback: signed by HMAC, not a session; stores the reply, shows nothing",
    "api:root": "lists the API's resources (links only)",
    "api:me": "describes the caller itself: its kind, store and scopes",
    "api:schema": "the OpenAPI schema",
    "api:docs": "the API's docs page (Swagger UI)",
    "api:redoc": "the API's docs page (Redoc)",
}
# The Django admin is the operators' raw access (is_staff only), outside the dashboard's scoping.
ALLOWED_NAMESPACES = {"admin": "Django admin: staff superusers' raw access, not the dashboard"}

# URL arguments that name no object, with a value to build the URL with.
NON_OBJECT_ARGUMENTS = {"fmt": "csv", "code": "NOSUCH", "action": "recount"}


@dataclass
class Route:
    name: str  # as reversed: "member-detail", "api:member-detail"
    pattern: str
    callback: object
    arguments: tuple[str, ...]
    namespace: str = ""

    @property
    def viewset(self):
        return getattr(self.callback, "cls", None)

    @property
    def view_class(self):
        return getattr(self.callback, "view_class", None)

    @property
    def actions(self) -> dict:
        return getattr(self.callback, "actions", None) or {}

    def __str__(self) -> str:
        return self.name or self.pattern


def walk(patterns, prefix: str = "", namespace: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}".strip(":") if entry.namespace else namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            yield Route(name, prefix + str(entry.pattern), entry.callback,
                        tuple(entry.pattern.regex.groupindex), namespace)


def all_routes() -> list[Route]:
    return list(walk(get_resolver().url_patterns))


def scoped_base(route: Route) -> str | None:
    """Which scoped path the route's view is on, or None."""
    if route.viewset is not None:
        for base in (NestedScopedMixin, ScopedQuerysetMixin, ScopedViewSet):
            if issubclass(route.viewset, base):
                return base.__name__
        return None
    if route.view_class is not None:
        for base in (ScopedListView, ScopedDetailView, ScopedTemplateView):
            if issubclass(route.view_class, base):
                return base.__name__
        return None
    if getattr(route.callback, "scoped_objects", None) is not None:
        return "scoped_view"
    return None


def allowed(route: Route) -> bool:
    return route.name in ALLOWLIST or route.namespace.split(":")[0] in ALLOWED_NAMESPACES


def unscoped(routes) -> list[str]:
    return [str(route) for route in routes if scoped_base(route) is None and not allowed(route)]


# --- 1. the sweep -----------------------------------------------------------------------------


def test_every_route_is_scoped_or_allowlisted():
    assert unscoped(all_routes()) == []


def test_the_allowlist_names_routes_that_exist():
    names = {route.name for route in all_routes()}
    assert set(ALLOWLIST) <= names
    assert all(reason.strip() for reason in [*ALLOWLIST.values(), *ALLOWED_NAMESPACES.values()])


def test_every_router_viewset_is_walked():
    walked = {route.viewset for route in all_routes() if route.viewset is not None}
    assert {viewset for _prefix, viewset, _basename in router.registry} <= walked


def test_allowlisted_routes_are_not_on_a_scoped_base_by_accident():
    # An allowlist entry that became scoped should leave the list, so the list stays the exceptions.
    assert [str(r) for r in all_routes() if r.name in ALLOWLIST and scoped_base(r) is not None] == []


def _plain_view(request):
    return HttpResponse("every member")


class _PlainApiView(APIView):
    def get(self, request):
        return Response([])


class _PlainViewSet(viewsets.ViewSet):
    def list(self, request):
        return Response([])


def test_a_new_unscoped_route_fails_the_sweep():
    extra_router = SimpleRouter()
    extra_router.register("leaks", _PlainViewSet, basename="leak")
    extra = [
        path("leak/", _plain_view, name="leak-page"),
        path("api/v1/leak/", _PlainApiView.as_view(), name="leak-api"),
        path("api/v1/", (extra_router.urls, "api", "api")),
        path("healthz-like/", _plain_view, name="not-allowlisted"),
    ]
    routes = all_routes() + list(walk(extra))
    assert sorted(unscoped(routes)) == ["api:leak-list", "leak-api", "leak-page", "not-allowlisted"]
    # The same function marked scoped passes: the mark is what the sweep reads.
    assert unscoped(walk([path("fine/", scoped_view(_plain_view), name="fine")])) == []


def _view_modules() -> set[str]:
    modules = set()
    for route in all_routes():
        if allowed(route):
            continue
        view = route.viewset or route.view_class or route.callback
        modules.add(inspect.getmodule(view).__name__)
    return modules


def test_views_find_objects_only_through_the_scoped_lookup():
    # get_object_or_404 reads a model's unscoped default manager; get_visible_or_404 is the one lookup.
    offenders = [name for name in sorted(_view_modules())
                 if re.search(r"\bget_object_or_404\b", inspect.getsource(sys.modules[name]))]
    assert offenders == []


# Role comparisons a view may still make, with why: anything else asks a services predicate.
ROLE_CHECKS_ALLOWED = {
    ("scrm.views", "request.user.role == Role.STORE_STAFF"): "routing: store staff open the phone's Today page",
}


def test_views_ask_services_for_permission_instead_of_comparing_roles():
    found = set()
    for name in _view_modules():
        source = inspect.getsource(sys.modules[name])
        for match in re.finditer(r"[\w.]*\.role\s*(?:==|!=|not in|in)\s*[\w.(]+", source):
            found.add((name, match.group(0)))
    assert found - set(ROLE_CHECKS_ALLOWED) == set()


def test_admin_is_allowlisted_as_a_whole():
    assert any(r.namespace == admin_site.name for r in all_routes())


# --- 2. across stores ------------------------------------------------------------------------------

_numbers = itertools.count(1)


def _n() -> int:
    return next(_numbers)


def _member(store) -> Member:
    n = _n()
    return Member.objects.create(name=f"会员{n}", phone=f"+86139{n:08d}", home_store=store)


def _staff(store) -> User:
    return User.objects.create(username=f"staff{_n()}", role=Role.STORE_STAFF, store=store)


def _segment(store) -> Segment:
    return Segment.objects.create(name=f"segment {_n()}", definition={"all": []}, store=store)


def _import_job(store) -> ImportJob:
    job = build_generic(ImportJob, store)
    job.report.save("errors.csv", ContentFile(b"row,column,message\r\n"), save=True)
    return job


def _sync_run(store) -> SyncRun:
    return SyncRun.objects.create(kind="contacts", status="done")  # finished: one active run per kind allowed


def _wecom_task(store) -> WecomMassTask:
    # The phone page lists a clerk's own WeCom tasks still waiting: the store's first clerk's.
    clerk = User.objects.filter(store=store, role=Role.STORE_STAFF).order_by("pk").first() or _staff(store)
    return WecomMassTask.objects.create(campaign=build(Campaign, store), staff=clerk, store=store,
                                        sender=f"u{_n()}", text="x", state="created")


def _campaign_image(store) -> CampaignImage:
    image = build_generic(CampaignImage, store)
    image.file.save(f"{_n()}.png", ContentFile(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16), save=True)
    return image


# How to make an object of a model for a store when filling its required fields is not enough.
def _subscription(store) -> Subscription:
    # A key reaches its own subscriptions only: a store's subscription is its newest key's (the
    # sweep's key for store A), or a new key's for another store.
    key = ApiKey.objects.filter(store=store, revoked_at__isnull=True).order_by("-pk").first()
    if key is None:
        n = _n()
        key = ApiKey.objects.create(name=f"key {n}", prefix=f"sweep{n}", key_hash="x", scopes=[], store=store)
    return Subscription.objects.create(api_key=key, name=f"hook {_n()}", url="http://127.0.0.1:8999/hook",
                                       event_types=["ping"], store=store, secret="whsec_sweep")


def _campaign(store) -> Campaign:
    # A campaign to customer groups: /api/v1/group-campaigns/ serves those only, the other routes any.
    campaign = build_generic(Campaign, store)
    Campaign.objects.filter(pk=campaign.pk).update(channel="wecom_group")
    campaign.channel = "wecom_group"
    return campaign


def _appointment_service(store) -> AppointmentService:
    return AppointmentService.objects.create(store=store, name=f"service {_n()}", duration_minutes=30)


def _booking(store) -> Booking:
    at = timezone.now() + timedelta(days=1)
    return Booking.objects.create(member=_member(store), service=_appointment_service(store), staff=_staff(store),
                                  store=store, starts_at=at, ends_at=at + timedelta(minutes=30), held_from=at,
                                  held_until=at + timedelta(minutes=30), source="api")


FACTORIES = {Member: _member, User: _staff, Segment: _segment, ImportJob: _import_job, SyncRun: _sync_run,
             Campaign: _campaign,
             WecomMassTask: _wecom_task, CampaignImage: _campaign_image, Subscription: _subscription,
             AppointmentService: _appointment_service, Booking: _booking}


def _value(f, n: int):
    if f.choices:
        return f.choices[0][0]
    if isinstance(f, models.DecimalField):
        return Decimal("1")
    if isinstance(f, models.DateTimeField):
        return timezone.now()
    if isinstance(f, models.DateField):
        return date.today()
    if isinstance(f, models.BooleanField):
        return False
    if isinstance(f, models.IntegerField):
        return 1
    if isinstance(f, models.JSONField):
        return {}
    if isinstance(f, models.FileField):
        return f"scoping/{n}.csv"
    if isinstance(f, models.CharField | models.TextField):
        return "" if f.blank and not f.unique else f"x{n}"[: f.max_length or None]
    if f.get_internal_type() == "ArrayField":
        return []
    raise NotImplementedError(f"say how to make {f.model.__name__}.{f.name} in FACTORIES")


def build_generic(model, store):
    """An object of `model` belonging to `store`: every required field filled, related objects made
    for the same store, and the first step of the model's store path set even where it may be null."""
    path = store_path(model)
    first_hop = path.split("__")[0] if path else None
    values, n = {}, _n()
    for f in model._meta.concrete_fields:
        if isinstance(f, models.AutoField) or getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            continue
        if f.name != first_hop and (f.null or f.has_default()):
            continue
        values[f.name] = build(f.related_model, store) if f.is_relation else _value(f, n)
    return model.objects.create(**values)


def build(model, store):
    if model is Store:
        return store
    factory = FACTORIES.get(model)
    return factory(store) if factory else build_generic(model, store)


def _related(child, model):
    """The object of `model` that `child` hangs off (a redemption's member)."""
    for f in child._meta.concrete_fields:
        if f.is_relation and f.related_model is model:
            return getattr(child, f.name)
    raise AssertionError(f"{type(child).__name__} has no link to {model.__name__}")


@dataclass
class ObjectRoute:
    """What a route's URL arguments name: {argument: (model, attribute giving its value)}."""

    objects: dict = field(default_factory=dict)

    def child_model(self):
        models_ = [model for model, _attr in self.objects.values()]
        for candidate in models_:
            links = {f.related_model for f in candidate._meta.concrete_fields if f.is_relation}
            if all(other is candidate or other in links for other in models_):
                return candidate
        raise AssertionError(f"no model among {models_} links to the others")

    def kwargs_for(self, store) -> dict:
        child = build(self.child_model(), store)
        kwargs = {}
        for argument, (model, attr) in self.objects.items():
            obj = child if isinstance(child, model) else _related(child, model)
            kwargs[argument] = getattr(obj, attr)
        return kwargs

    @property
    def shared(self) -> bool:
        return all(store_path(model) is None for model, _attr in self.objects.values())


def declared_objects(route: Route) -> ObjectRoute:
    """The models a route's URL arguments look up, read from the view's own declarations."""
    found = ObjectRoute()
    viewset = route.viewset
    if viewset is not None:
        if issubclass(viewset, NestedScopedMixin) and viewset.parent_kwarg in route.arguments:
            found.objects[viewset.parent_kwarg] = (viewset.parent_queryset.model, "pk")
        lookup = getattr(viewset, "lookup_url_kwarg", None) or getattr(viewset, "lookup_field", "pk")
        singleton = getattr(viewset, "lookup_value_regex", "") == "current"  # /points-policy/current/
        if lookup in route.arguments and getattr(viewset, "queryset", None) is not None and not singleton:
            attr = viewset.lookup_field
            found.objects[lookup] = (viewset.queryset.model, attr)
    elif route.view_class is not None:
        view = route.view_class
        if issubclass(view, ScopedDetailView) and view.pk_url_kwarg in route.arguments:
            found.objects[view.pk_url_kwarg] = (view.queryset.model, "pk")
        if issubclass(view, ScopedListView) and view.parent_queryset is not None:
            found.objects[view.parent_kwarg] = (view.parent_queryset.model, "pk")
    else:
        for argument, model in (getattr(route.callback, "scoped_objects", None) or {}).items():
            if argument in route.arguments:
                found.objects[argument] = (model, "pk")
    return found


def _kind(route: Route) -> str:
    if route.viewset is not None:
        return "api"
    return "dashboard"


def scoped_routes() -> list[Route]:
    return [r for r in all_routes() if scoped_base(r) is not None and not allowed(r)]


def detail_routes() -> list[Route]:
    return [r for r in scoped_routes() if declared_objects(r).objects]


def api_list_routes() -> list[Route]:
    return [r for r in scoped_routes() if r.viewset is not None and not r.arguments and r.actions.get("get") == "list"]


def dashboard_list_routes() -> list[Route]:
    return [r for r in scoped_routes() if r.view_class is not None and issubclass(r.view_class, ScopedListView)
            and not r.arguments]


def test_every_url_argument_names_an_object_or_is_known():
    missing = []
    for route in scoped_routes():
        declared = declared_objects(route).objects
        viewset = route.viewset
        for argument in route.arguments:
            singleton = viewset is not None and getattr(viewset, "lookup_value_regex", "") == "current"
            if argument not in declared and argument not in NON_OBJECT_ARGUMENTS and not singleton:
                missing.append(f"{route}: {argument}")
    assert missing == [], "declare the model each URL argument looks up (scoped_view(pk=Model), parent_queryset)"


def test_the_sweep_covers_the_routes_it_should():
    names = {r.name for r in detail_routes()}
    assert {"member-detail", "order-refund", "member-points", "staff-reset-password", "api:member-detail",
            "api:member-tag-list", "api:order-refunds", "api:member-tier-detail-floor"} <= names
    assert {"api:member-list", "api:order-list", "api:commission-list"} <= {r.name for r in api_list_routes()}
    assert {"member-list", "order-list", "commission-list"} <= {r.name for r in dashboard_list_routes()}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def key_a(api_client, make_key, store_a):
    plaintext = make_key(scopes=permissions.available_scopes(store_bound=True), store=store_a)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return api_client


def _api_call(client, route: Route, kwargs: dict):
    method = "get" if "get" in route.actions else next(iter(route.actions))
    url = reverse(route.name, kwargs={**{a: NON_OBJECT_ARGUMENTS[a] for a in route.arguments if a not in kwargs},
                                      **kwargs})
    return getattr(client, method)(url, {} if method == "get" else None, format=None if method == "get" else "json")


def _id(row: dict, model):
    value = row.get("id", row.get(model._meta.pk.name))
    return value["id"] if isinstance(value, dict) else value


def _rows(response) -> list[dict]:
    data = response.json()
    return data["results"] if isinstance(data, dict) and "results" in data else data


# API routes of the brand as a whole: a key bound to a store is refused them (403) whatever its
# scopes, so the sweep checks that instead of listing brand-wide rows to it.
BRAND_ONLY_ROUTES = {
    "api:wecom-event-list": "the WeCom corp's callback events",
    "api:wecom-event-detail": "the WeCom corp's callback events",
    "api:wecom-sync-run-list": "the WeCom corp's contact and tag syncs",
    "api:wecom-sync-run-detail": "the WeCom corp's contact and tag syncs",
    "api:wecom-sync-run-failures": "the WeCom corp's contact and tag syncs",
    "api:wecom-sync-run-cancel": "the WeCom corp's contact and tag syncs",
}


@pytest.mark.parametrize("route", [pytest.param(r, id=r.name) for r in detail_routes() if r.viewset is not None])
def test_api_detail_routes_answer_404_for_another_stores_object(route, key_a, store_a, store_b, carol):
    objects = declared_objects(route)
    if route.name in BRAND_ONLY_ROUTES:
        assert _api_call(key_a, route, objects.kwargs_for(store_a)).status_code == 403, route.name
        return
    if objects.shared:  # brand-wide data: a store's key reaches it like everyone else
        ours = _api_call(key_a, route, objects.kwargs_for(store_a))
        assert ours.status_code != 404, (route.name, "a store key did not reach brand-wide data", ours.content[:300])
        return
    theirs = _api_call(key_a, route, objects.kwargs_for(store_b))
    assert theirs.status_code == 404, (route.name, theirs.status_code, theirs.content[:300])
    ours = _api_call(key_a, route, objects.kwargs_for(store_a))
    assert ours.status_code != 404, (route.name, "the route did not reach store A's object", ours.content[:300])


# Routes with no model rows of their own (exports, figures) have their own checks below.
@pytest.mark.parametrize("route", [pytest.param(r, id=r.name) for r in api_list_routes()
                                   if not issubclass(r.viewset, ScopedViewSet)])
def test_api_list_routes_leave_out_another_stores_rows(route, key_a, store_a, store_b):
    model = route.viewset.queryset.model
    if route.name in BRAND_ONLY_ROUTES:
        assert _api_call(key_a, route, {}).status_code == 403, route.name
        return
    if store_path(model) is None:  # brand-wide data: a store's key lists it like everyone else
        shared = build(model, store_a)
        response = _api_call(key_a, route, {})
        assert response.status_code == 200, response.content[:300]
        rows = _rows(response)
        if isinstance(rows, dict):  # one brand-wide setting (the points policy, the ladder), not a list
            return
        assert shared.pk in {_id(row, model) for row in rows}, route.name
        return
    ours, theirs = build(model, store_a), build(model, store_b)
    response = _api_call(key_a, route, {})
    assert response.status_code == 200, response.content[:300]
    listed = {_id(row, model) for row in _rows(response)}
    assert ours.pk in listed
    assert theirs.pk not in listed


def _dashboard_call(client, route: Route, kwargs: dict, data=None):
    url = reverse(route.name, kwargs={**{a: NON_OBJECT_ARGUMENTS[a] for a in route.arguments if a not in kwargs},
                                      **kwargs})
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url, data or {})
    return response


# Form data a POST route needs before it reads its object (without it, store A's object would not be
# reached either, and the 404 would prove nothing).
POST_DATA = {"member-toggle-tag": lambda: {"tag": build(Tag, None).pk}}


def _as_store_staff(client, route: Route, objects: ObjectRoute, store_a, users):
    """The first of carol (clerk) and bob (manager) of store A the route does not refuse outright,
    and its answer for store A's object; (None, None) when the route is for operators only."""
    for user in users:
        client.force_login(user)
        data = POST_DATA.get(route.name, dict)()
        response = _dashboard_call(client, route, objects.kwargs_for(store_a), data)
        if response.status_code != 403:
            return user, response
    return None, None


@pytest.mark.parametrize("route", [pytest.param(r, id=r.name) for r in detail_routes() if r.viewset is None])
def test_dashboard_detail_routes_answer_404_for_another_stores_object(route, client, store_a, store_b, carol, bob):
    objects = declared_objects(route)
    user, ours = _as_store_staff(client, route, objects, store_a, [carol, bob])
    if user is None:  # operators only: every store role was refused (403) before any object was read
        return
    if objects.shared:  # brand-wide data: store staff reach it like everyone else
        assert ours.status_code != 404, (route.name, "store staff did not reach brand-wide data")
        return
    assert ours.status_code != 404, (route.name, "the route did not reach store A's object")
    theirs = _dashboard_call(client, route, objects.kwargs_for(store_b), POST_DATA.get(route.name, dict)())
    assert theirs.status_code == 404, (route.name, user.username, theirs.status_code)


# Query strings a list needs to show every row of the store (the phone list shows a clerk's own first).
LIST_QUERY = {"mobile-member-list": {"all": "1"}, "mobile-communities": {"all": "1"}, "journeys-phone": {"all": "1"}}


@pytest.mark.parametrize("route", [pytest.param(r, id=r.name) for r in dashboard_list_routes()])
def test_dashboard_list_routes_leave_out_another_stores_rows(route, client, store_a, store_b, carol, bob):
    model = route.view_class.queryset.model
    shared = store_path(model) is None
    ours = build(model, store_a)
    theirs = None if shared else build(model, store_b)
    for user in (carol, bob):
        client.force_login(user)
        response = client.get(reverse(route.name), LIST_QUERY.get(route.name, {}))
        if response.status_code != 403:
            break
    else:  # operators only: every store role was refused (403) before any row was read
        return
    assert response.status_code == 200
    listed = {obj.pk for obj in response.context["object_list"]}
    assert ours.pk in listed  # a store's own rows, or brand-wide rows every store sees
    if theirs is not None:
        assert theirs.pk not in listed


# --- routes with no model of their own -------------------------------------------------------------------


def test_every_non_model_api_list_route_has_a_check_here():
    checked = {"api:export-list", "api:export-members", "api:insights-figures-list", "api:member-timeline-list",
               "api:wecom-connection-list", "api:wecom-connection-test", "api:koc-creator-next-level-list",
               # candidates and the metrics batch: tests/koc/content/test_cross_store.py
               "api:koc-candidate-list", "api:koc-metrics-batch",
               "api:insights-cockpit-list",
               # webhook event types are brand-wide reference; the event log's store cut:
               # tests/webhooks/test_api.py::test_the_replay_read_filters_types_by_scope_and_store
               "api:webhook-event-type-list", "api:webhook-event-list",
               # a service's free slots at a store: test_appointment_availability_is_another_stores_404
               "api:appointment-availability-list"}
    non_model = {r.name for r in scoped_routes() if r.viewset is not None and issubclass(r.viewset, ScopedViewSet)}
    assert non_model == checked, "add a cross-store check for the new route below"


def test_cockpit_counts_only_the_keys_store(key_a, store_a, store_b):
    from insights.cockpit import services as cockpit_services
    from members.models import Member

    _member(store_a), _member(store_b)
    cockpit_services.refresh()
    response = key_a.get(reverse("api:insights-cockpit-list"), {"section": "pool"})
    assert response.status_code == 200
    figures = {f["key"]: f["value"] for f in response.json()["sections"][0]["figures"]}
    assert figures["pool"] == Member.live.filter(home_store=store_a).count()
    assert key_a.get(reverse("api:insights-cockpit-list"), {"store": store_b.pk}).status_code == 404


def test_wecom_connection_is_refused_to_a_store_bound_key(key_a):
    # The corp's connection is the brand's: a key bound to a store is refused, whatever its scopes.
    assert key_a.get(reverse("api:wecom-connection-list")).status_code == 403
    assert key_a.post(reverse("api:wecom-connection-test")).status_code == 403


def test_member_timeline_is_another_stores_404(key_a, store_b):
    # Also swept as a route under a member; kept here because it reads through members.timeline.
    response = key_a.get(reverse("api:member-timeline-list", kwargs={"member_id": _member(store_b).pk}))
    assert response.status_code == 404


def test_export_columns_say_the_store_key_is_masked(key_a):
    response = key_a.get(reverse("api:export-list"))
    assert response.status_code == 200
    assert response.json()["masked"] is True


def test_member_export_leaves_out_another_stores_members(key_a, store_a, store_b):
    ours, theirs = _member(store_a), _member(store_b)
    response = key_a.get(reverse("api:export-members"), {"format": "csv", "columns": "id,name"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    exported = {row[0] for row in rows[1:]}
    assert str(ours.pk) in exported
    assert str(theirs.pk) not in exported


def test_figures_count_only_the_keys_store(key_a, store_a, store_b):
    from loyalty.orders.models import Order

    for store, amount in ((store_a, "100"), (store_b, "900")):
        Order.objects.create(channel=Order._meta.get_field("channel").choices[0][0], external_id=f"o{_n()}",
                             total_amount=Decimal(amount), placed_at=timezone.now() - timedelta(hours=1),
                             store=store, member=_member(store))
    response = key_a.get(reverse("api:insights-figures-list"))
    assert response.status_code == 200
    sales = response.json()["sales"]
    assert Decimal(str(sales["gmv"])) == Decimal("100")
    assert {row["store"] for row in sales["by_store"]} == {store_a.pk}


def test_koc_next_level_is_another_stores_404(key_a, store_b):
    from koc.models import Creator

    creator = Creator.objects.create(member=_member(store_b))
    response = key_a.get(reverse("api:koc-creator-next-level-list", kwargs={"creator_id": creator.pk}))
    assert response.status_code == 404


def test_appointment_availability_is_another_stores_404(key_a, store_a, store_b):
    ours, theirs = _appointment_service(store_a), _appointment_service(store_b)
    url = reverse("api:appointment-availability-list")
    assert key_a.get(url, {"service": ours.pk, "store": store_a.code}).status_code == 200
    assert key_a.get(url, {"service": theirs.pk, "store": store_b.code}).status_code == 404
    assert key_a.get(url, {"service": theirs.pk, "store": store_a.code}).status_code == 404
