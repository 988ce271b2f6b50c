"""Who reaches which rows: access_for and scope() per role and per key, the base classes that
make scoping impossible to skip, and the same rules seen through the API with a session."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from members.models import Member
from scrm import permissions as scopes
from scrm.api.auth import ApiPrincipal
from scrm.api.viewsets import ScopedModelViewSet, ScopedReadOnlyViewSet
from scrm.dashboard import ScopedDetailView, ScopedListView
from scrm.models import ApiKey, AuditLog, Region, Role, Store, User
from scrm.scoping import NO_ACCESS, Access, access_for, scope
from scrm.services import api_keys


def principal(scopes=("members:read",), store=None) -> ApiPrincipal:
    """A key holding `scopes` as stored, even those its binding cannot be issued with (keys issued
    before brand settings were refused to store-bound keys)."""
    key = api_keys.issue(name="k", scopes=[], store=store).api_key
    ApiKey.objects.filter(pk=key.pk).update(scopes=sorted(set(scopes)))
    key.refresh_from_db()
    return ApiPrincipal(key)


def session(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


# --- access_for ---------------------------------------------------------------------------


def test_operator_reaches_every_store(alice):
    assert access_for(alice) == Access(all_stores=True, store_id=None)


def test_store_roles_reach_their_store(bob, carol, dave, store_a, store_b):
    assert access_for(bob) == Access(all_stores=False, store_id=store_a.pk)
    assert access_for(carol) == Access(all_stores=False, store_id=store_a.pk)
    assert access_for(dave) == Access(all_stores=False, store_id=store_b.pk)
    assert access_for(carol).allows_store(store_a.pk)
    assert not access_for(carol).allows_store(store_b.pk)
    assert not access_for(carol).allows_store(None)


def test_keys_reach_their_store_or_every_store(store_a, store_b):
    assert access_for(principal()) == Access(all_stores=True, store_id=None)
    bound = access_for(principal(store=store_a))
    assert bound == Access(all_stores=False, store_id=store_a.pk)
    assert not bound.allows_store(store_b.pk)


def test_anonymous_and_inactive_reach_nothing(carol):
    assert access_for(None) == NO_ACCESS
    assert access_for(AnonymousUser()) == NO_ACCESS
    carol.is_active = False
    assert access_for(carol) == NO_ACCESS
    assert not NO_ACCESS.allows_store(None)


# --- scope() -------------------------------------------------------------------------------


def test_scope_restricts_each_model_by_its_store_path(alice, carol, members, store_a, dave):
    mine, theirs = members
    assert set(scope(Member.objects.all(), carol)) == set(mine)
    assert set(scope(Member.objects.all(), alice)) == set(mine + theirs)
    assert list(scope(Store.objects.all(), carol)) == [store_a]
    assert set(scope(User.objects.all(), carol)) == {carol}
    assert set(scope(User.objects.all(), alice)) == {alice, carol, dave}


def test_scope_restricts_keys_and_audit_entries_to_the_store(carol, store_a, store_b):
    api_keys.issue(name="a", scopes=[], store=store_a)
    api_keys.issue(name="b", scopes=[], store=store_b)
    api_keys.issue(name="brand", scopes=[])
    AuditLog.objects.create(action="member.export", store=store_a)
    AuditLog.objects.create(action="member.export", store=store_b)
    assert [k.name for k in scope(ApiKey.objects.all(), carol)] == ["a"]
    exports = AuditLog.objects.filter(action="member.export")
    assert [e.store_id for e in scope(exports, carol)] == [store_a.pk]


def test_scope_applies_to_store_bound_keys(members, store_b):
    mine, theirs = members
    assert set(scope(Member.objects.all(), principal(store=store_b))) == set(theirs)
    assert set(scope(Member.objects.all(), principal())) == set(mine + theirs)


def test_shared_reference_data_is_for_any_signed_in_actor(carol, stores):
    assert scope(Region.objects.all(), carol).count() == 2
    assert scope(Region.objects.all(), principal(store=stores[1])).count() == 2
    assert scope(Region.objects.all(), AnonymousUser()).count() == 0
    assert scope(Region.objects.all(), None).count() == 0
    carol.is_active = False
    assert scope(Region.objects.all(), carol).count() == 0


def test_deactivated_account_gets_nothing(carol, members):
    carol.is_active = False
    for model in (Member, Store, User, Region):
        assert not scope(model.objects.all(), carol).exists()


def test_anonymous_gets_no_store_data(members):
    for model in (Member, Store, User, ApiKey):
        assert not scope(model.objects.all(), AnonymousUser()).exists()
        assert not scope(model.objects.all(), None).exists()


def test_scope_refuses_a_model_that_does_not_say_how_it_is_scoped(alice):
    with pytest.raises(ImproperlyConfigured, match="store_scope_field"):
        scope(Group.objects.all(), alice)


# --- base classes -------------------------------------------------------------------------


@pytest.mark.parametrize("base", [ScopedReadOnlyViewSet, ScopedModelViewSet])
def test_api_viewset_cannot_override_get_queryset(base):
    with pytest.raises(TypeError, match="get_queryset"):

        class LeakyViewSet(base):
            queryset = Member.objects.all()

            def get_queryset(self):
                return Member.objects.all()


def test_api_viewset_cannot_take_get_queryset_from_a_mixin():
    class UnscopedMixin:
        def get_queryset(self):
            return Member.objects.all()

    with pytest.raises(TypeError, match="get_queryset"):

        class LeakyViewSet(UnscopedMixin, ScopedReadOnlyViewSet):
            queryset = Member.objects.all()


def test_api_viewset_subclass_of_a_subclass_is_checked_too():
    class Base(ScopedReadOnlyViewSet):
        queryset = Member.objects.all()

    with pytest.raises(TypeError, match="get_queryset"):

        class Leaky(Base):
            def get_queryset(self):
                return Member.objects.all()


@pytest.mark.parametrize("base", [ScopedListView, ScopedDetailView])
def test_dashboard_view_cannot_override_get_queryset(base):
    with pytest.raises(TypeError, match="get_queryset"):

        class LeakyView(base):
            queryset = Member.objects.all()

            def get_queryset(self):
                return Member.objects.all()


def test_well_behaved_subclasses_are_accepted():
    class MemberList(ScopedListView):
        queryset = Member.objects.all()

    class MemberViewSet(ScopedReadOnlyViewSet):
        queryset = Member.objects.all()

        def filter_queryset(self, queryset):
            return super().filter_queryset(queryset)

    assert MemberList and MemberViewSet


# --- through the API, with a session --------------------------------------------------------


def test_operator_sees_everything(alice, bob, members, stores):
    mine, theirs = members
    client = session(alice)
    assert ids(client.get("/api/v1/members/")) == {m.pk for m in mine + theirs}
    assert ids(client.get("/api/v1/stores/")) == {s.pk for s in stores}
    assert {u["username"] for u in client.get("/api/v1/staff/").json()["results"]} == {"alice", "bob", "carol", "dave"}
    assert client.get(f"/api/v1/members/{theirs[0].pk}/").status_code == 200


@pytest.mark.parametrize("username", ["bob", "carol"])
def test_store_roles_see_only_their_store(request, username, members, store_a, store_b):
    user = request.getfixturevalue(username)
    mine, theirs = members
    client = session(user)
    assert ids(client.get("/api/v1/members/")) == {m.pk for m in mine}
    assert client.get(f"/api/v1/members/{mine[0].pk}/").status_code == 200
    assert ids(client.get("/api/v1/stores/")) == {store_a.pk}
    assert {u["username"] for u in client.get("/api/v1/staff/").json()["results"]} == {"carol"} | {user.username}


@pytest.mark.parametrize(
    "path",
    ["/api/v1/members/{member}/", "/api/v1/stores/{store}/", "/api/v1/staff/{staff}/"],
)
def test_another_stores_rows_are_404_not_403(carol, dave, members, store_b, path):
    _mine, theirs = members
    url = path.format(member=theirs[0].pk, store=store_b.pk, staff=dave.pk)
    response = session(carol).get(url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_filters_cannot_widen_the_scope(carol, dave, members, store_b):
    client = session(carol)
    assert ids(client.get("/api/v1/members/", {"store": store_b.pk})) == set()
    assert ids(client.get("/api/v1/members/", {"owner": dave.pk})) == set()
    assert ids(client.get("/api/v1/staff/", {"store": store_b.pk})) == set()


def test_store_roles_never_hold_api_key_scopes(bob, carol):
    for role in (Role.STORE_MANAGER, Role.STORE_STAFF):
        assert not {s for s in scopes.scopes_for_role(role) if s.startswith("api_keys:")}
    assert {"api_keys:read", "api_keys:write"} <= scopes.scopes_for_role(Role.OPERATOR)
    for user in (bob, carol):
        granted = session(user).get("/api/v1/me/").json()["scopes"]
        assert "members:read" in granted
        assert not [s for s in granted if s.startswith("api_keys:")]


def test_store_roles_only_read_stores(bob, carol, store_a):
    for user in (bob, carol):
        client = session(user)
        assert client.get("/api/v1/stores/").status_code == 200
        created = client.post("/api/v1/stores/", {"code": "SH09", "name": "新店", "region": "east", "city": "上海"})
        assert created.status_code == 403
        assert "stores:write" in created.json()["error"]["message"]
        renamed = client.patch(f"/api/v1/stores/{store_a.pk}/", {"name": "改名"})
        assert renamed.status_code == 403
    store_a.refresh_from_db()
    assert store_a.name == "上海南京西路店"
    assert not Store.objects.filter(code="SH09").exists()


def test_operator_creates_and_edits_a_store(alice, stores):
    client = session(alice)
    response = client.post(
        "/api/v1/stores/", {"code": "SH09", "name": "上海新天地店", "region": "east", "city": "上海"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["region"] == "east"
    assert response.json()["region_name"] == "华东"
    store = Store.objects.get(code="SH09")
    assert store.region.code == "east"

    response = client.patch(f"/api/v1/stores/{store.pk}/", {"region": "north"})
    assert response.status_code == 200
    store.refresh_from_db()
    assert store.region.code == "north"


def test_operator_store_input_is_validated(alice, stores):
    response = session(alice).post("/api/v1/stores/", {"code": "SH09", "region": "nowhere", "city": "上海"})
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert set(details) == {"name", "region"}


def test_store_bound_key_cannot_open_a_store(api_client, store_a):
    api_client.force_authenticate(principal(scopes=["stores:read", "stores:write"], store=store_a))
    client = api_client
    response = client.post("/api/v1/stores/", {"code": "SH09", "name": "新店", "region": "east", "city": "上海"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Store.objects.filter(code="SH09").exists()


def test_brand_wide_key_with_write_scope_opens_a_store(key_client, stores):
    client = key_client(scopes=["stores:write"])
    response = client.post("/api/v1/stores/", {"code": "SH09", "name": "新店", "region": "east", "city": "上海"})
    assert response.status_code == 201, response.content


# --- the scoped manager: Model.objects.visible_to(actor) ------------------------------------------------


def test_store_bound_models_read_their_rows_through_visible_to(alice, carol, members, store_a):
    from scrm.scoping import ScopedQuerySet

    mine, theirs = members
    assert set(Member.objects.visible_to(carol)) == set(mine)
    assert set(Member.live.visible_to(alice)) == set(mine + theirs)
    assert list(Store.objects.visible_to(carol)) == [store_a]
    assert set(User.objects.visible_to(carol)) == {carol}
    # It chains like any queryset method, and what it returns can be cut again.
    assert list(Member.objects.filter(pk=theirs[0].pk).visible_to(carol)) == []
    assert isinstance(Member.live.filter(name__startswith="张"), ScopedQuerySet)


def test_the_live_manager_stays_live(carol, members):
    mine, _theirs = members
    Member.objects.filter(pk=mine[0].pk).update(erased_at="2024-01-01T00:00:00Z")
    assert set(Member.live.visible_to(carol)) == set(mine[1:])
    assert set(Member.objects.visible_to(carol)) == set(mine)


def test_every_store_bound_model_has_visible_to():
    from django.apps import apps

    from scrm.scoping import store_path

    missing = [
        model._meta.label
        for model in apps.get_models()
        if model._meta.app_config.name.split(".")[0] in {"scrm", "members", "loyalty", "insights"}
        and store_path(model) is not None
        and not hasattr(model._default_manager, "visible_to")
    ]
    assert missing == [], "give these models objects = ScopedManager() (or a manager built from ScopedQuerySet)"


def test_the_staff_manager_keeps_creating_superusers_as_operators(db):
    admin = User.objects.create_superuser("root", password="pw-root")
    assert admin.role == Role.OPERATOR
    assert hasattr(User.objects, "visible_to")


# --- get_visible_or_404 ------------------------------------------------------------------------------


def test_get_visible_or_404_takes_a_model_a_manager_or_a_queryset(carol, members):
    from django.http import Http404

    from scrm.scoping import get_visible_or_404

    mine, theirs = members
    assert get_visible_or_404(Member, carol, pk=mine[0].pk) == mine[0]
    assert get_visible_or_404(Member.live, carol, pk=mine[0].pk) == mine[0]
    assert get_visible_or_404(Member.live.select_related("home_store"), carol, pk=str(mine[0].pk)) == mine[0]
    for pk in (theirs[0].pk, 10**9, "abc", None, ""):
        with pytest.raises(Http404):
            get_visible_or_404(Member.live, carol, pk=pk)


# --- Access.narrowed_to, what the segment engine evaluates for ---------------------------------------------


def test_access_narrowed_to_a_store(alice, carol, store_a, store_b):
    assert access_for(alice).narrowed_to(None) == Access(all_stores=True, store_id=None)
    assert access_for(alice).narrowed_to(store_b.pk) == Access(all_stores=False, store_id=store_b.pk)
    assert access_for(carol).narrowed_to(None) == Access(all_stores=False, store_id=store_a.pk)
    assert access_for(carol).narrowed_to(store_a.pk) == Access(all_stores=False, store_id=store_a.pk)
    assert access_for(carol).narrowed_to(store_b.pk) == NO_ACCESS
    assert not NO_ACCESS.reaches_any and access_for(carol).reaches_any and access_for(alice).reaches_any


def test_the_segment_engine_reaches_what_scrm_scoping_says(alice, carol, members, store_a, store_b):
    from members.segments import queries as segment_queries
    from scrm.actors import SystemActor

    mine, theirs = members
    everyone = {"all": []}
    assert segment_queries.count(everyone, carol) == len(mine)
    assert segment_queries.count(everyone, alice) == len(mine + theirs)
    assert segment_queries.count(everyone, SystemActor("test rule")) == len(mine + theirs)
    assert segment_queries.count(everyone, SystemActor("test rule"), store_id=store_b.pk) == len(theirs)
    assert segment_queries.count(everyone, carol, store_id=store_b.pk) == 0
    assert segment_queries.count(everyone, AnonymousUser()) == 0
    assert set(segment_queries.member_queryset(everyone, SystemActor("test rule"))) == set(mine + theirs)
    assert set(segment_queries.member_queryset(everyone, principal(store=store_b))) == set(theirs)
    assert not segment_queries.member_queryset(everyone, carol, store_id=store_b.pk).exists()


def test_the_segment_engine_keeps_no_actor_of_its_own():
    from members.segments import queries as segment_queries

    assert not hasattr(segment_queries, "SYSTEM")
    assert not hasattr(segment_queries, "store_restriction")


# --- the bases for routes with no model list of their own --------------------------------------------------


def test_non_model_api_viewset_must_name_its_scope_and_no_queryset():
    from scrm.api.viewsets import ScopedViewSet

    with pytest.raises(TypeError, match="scope_resource"):

        class Unnamed(ScopedViewSet):
            pass

    with pytest.raises(TypeError, match="queryset"):

        class WithQueryset(ScopedViewSet):
            scope_resource = "members"
            queryset = Member.objects.all()

    with pytest.raises(TypeError, match="queryset"):

        class WithGetQueryset(ScopedViewSet):
            scope_resource = "members"

            def get_queryset(self):
                return Member.objects.all()


def test_non_model_api_viewset_reads_through_visible(carol, members):
    from rest_framework.test import APIRequestFactory, force_authenticate

    from scrm.api.viewsets import ScopedViewSet

    class Names(ScopedViewSet):
        scope_resource = "members"

        def list(self, request):
            from rest_framework.response import Response

            return Response(sorted(m.name for m in self.visible(Member.live.all())))

    request = APIRequestFactory().get("/names/")
    force_authenticate(request, user=carol)
    response = Names.as_view({"get": "list"})(request)
    assert response.data == sorted(m.name for m in members[0])


def test_scoped_view_marks_and_requires_login(client, carol, members):
    from django.http import HttpResponse
    from django.test import RequestFactory

    from scrm.dashboard import scoped_view

    @scoped_view(pk=Member)
    def page(request, pk):
        return HttpResponse("ok")

    assert page.scoped_objects == {"pk": Member}
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    assert page(request, pk=1).status_code == 302
    request.user = carol
    assert page(request, pk=1).status_code == 200
    assert scoped_view(lambda request: HttpResponse()).scoped_objects == {}


def test_dashboard_list_under_a_parent_finds_it_scoped(client, carol, members):
    mine, theirs = members
    client.force_login(carol)
    assert client.get(f"/members/{mine[0].pk}/points/").status_code == 200
    assert client.get(f"/members/{theirs[0].pk}/points/").status_code == 404


# --- permission predicates: the services answer, views ask ---------------------------------------------


def _predicates():
    from insights import services as insights_services
    from loyalty.orders import services as order_services
    from loyalty.points import services as point_services
    from loyalty.referrals import services as referral_services
    from loyalty.tiers import services as tier_services
    from members.io import exports as member_exports
    from members.io import services as member_io
    from scrm.services import staff

    # predicate -> the staff roles it lets through (and whether a store-bound key with every scope may)
    managers = {Role.OPERATOR, Role.STORE_MANAGER}
    return {
        "staff.can_manage_accounts": (staff.can_manage_accounts, managers, False),
        "api_keys.can_manage_keys": (api_keys.can_manage_keys, {Role.OPERATOR}, False),
        "insights.can_read_figures": (insights_services.can_read_figures, managers, False),
        "members.io.can_import": (member_io.can_import, managers, True),
        "members.io.can_export": (member_exports.can_export, managers, True),
        "orders.can_refund": (order_services.can_refund, managers, True),
        "orders.can_import_orders": (order_services.can_import_orders, managers, True),
        "orders.can_manage_attribution": (order_services.can_manage_attribution, {Role.OPERATOR}, False),
        "points.can_edit_rewards": (point_services.can_edit_rewards, {Role.OPERATOR}, False),
        "points.can_edit_policy": (point_services.can_edit_policy, {Role.OPERATOR}, False),
        "points.can_redeem": (point_services.can_redeem, set(Role.values), True),
        "points.can_adjust": (point_services.can_adjust, {Role.OPERATOR}, True),
        "referrals.can_change_rules": (referral_services.can_change_rules, {Role.OPERATOR}, False),
        "referrals.can_mark_paid": (referral_services.can_mark_paid, {Role.OPERATOR}, True),
        "tiers.can_edit_ladder": (tier_services.can_edit_ladder, {Role.OPERATOR}, False),
    }


@pytest.mark.parametrize("name", sorted(_predicates()))
def test_permission_predicates_by_role(name, alice, bob, carol, store_a):
    from scrm import permissions

    predicate, roles, store_key = _predicates()[name]
    for user in (alice, bob, carol):
        assert predicate(user) is (user.role in roles), (name, user.username)
    assert predicate(principal(scopes=permissions.all_scopes(), store=store_a)) is store_key, name
    assert not predicate(AnonymousUser()), name
