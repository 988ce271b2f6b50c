"""Who may change what every store shares: each credential against each brand-wide setting, through
the API and the dashboard. Operators and brand-wide keys change them; store managers, clerks and
store-bound keys (even one still holding a write scope from before) read them and are refused a
change (403, nothing written); a key of a closed store is refused at authentication (401)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from campaigns.models import SendPolicy
from koc.models import PlatformRate, Programme
from loyalty.points.models import PointsPolicy, Reward
from loyalty.referrals.models import CommissionRule
from loyalty.tiers.models import TierLadder
from members.models import AttributeDefinition, TagGroup
from scrm import permissions
from scrm.actors import SystemActor
from scrm.models import ApiKey, Store
from scrm.services import api_keys

CREDENTIALS = ["operator", "manager", "clerk", "brand_key", "store_key_read", "store_key_write", "closed_store_key"]
ALLOWED = {"operator", "brand_key"}


@pytest.fixture
def ladder(db):
    from loyalty.tiers import services

    return services.save_ladder(
        actor=SystemActor("test"),
        data={"name": "会员", "window_days": 365, "levels": [{"rank": 1, "name": "可可小白", "threshold": "0"}]},
    )


def _key(scopes, store=None) -> str:
    """A key holding `scopes` as stored (written past the service, as keys issued before store-bound
    keys were refused brand-setting writes are)."""
    issued = api_keys.issue(name="k", scopes=[], store=store)
    ApiKey.objects.filter(pk=issued.api_key.pk).update(scopes=sorted(scopes))
    return issued.plaintext


@pytest.fixture
def client_as(alice, bob, carol, store_a, store_b):
    def build(who: str) -> APIClient:
        client = APIClient()
        users = {"operator": alice, "manager": bob, "clerk": carol}
        if who in users:
            client.force_authenticate(users[who])
            return client
        if who == "brand_key":
            plaintext = _key(permissions.all_scopes())
        elif who == "store_key_read":
            plaintext = _key(permissions.read_scopes(), store=store_a)
        elif who == "store_key_write":
            plaintext = _key(permissions.all_scopes(), store=store_a)
        else:
            plaintext = _key(permissions.all_scopes(), store=store_b)
            Store.objects.filter(pk=store_b.pk).update(is_active=False)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        return client

    return build


def _state():
    """What the attempts below would change, to prove a refusal wrote nothing."""
    policy = PointsPolicy.current()
    ladder = TierLadder.objects.first()
    return (
        str(policy.points_per_unit),
        ladder.name if ladder else None,
        Reward.objects.count(),
        CommissionRule.objects.count(),
        TagGroup.objects.count(),
        AttributeDefinition.objects.count(),
        sorted(Store.objects.values_list("code", flat=True)),
        SendPolicy.objects.filter(pk=1).values_list("daily_cap", flat=True).first(),
        Programme.objects.filter(pk=1).values_list("viral_interactions", flat=True).first(),
        sorted(PlatformRate.objects.values_list("platform", "cpm")),
    )


def _attempts(store_a):
    return [
        ("points policy", "patch", "/api/v1/points-policy/current/", {"points_per_unit": "7"}),
        ("tier ladder", "patch", "/api/v1/tier-ladder/current/", {"name": "改名"}),
        ("rewards", "post", "/api/v1/rewards/", {"name": "杯子", "kind": "gift", "points_cost": 1}),
        ("commission rules", "post", "/api/v1/commission-rules/", {"name": "五折", "rate": "0.5"}),
        ("attribution", "put", "/api/v1/orders/attribution-policy/", {"rule": "last_served", "window_days": 9}),
        ("tag groups", "post", "/api/v1/tag-groups/", {"name": "口味"}),
        ("attributes", "post", "/api/v1/attributes/", {"code": "dialect", "label": "方言", "type": "text"}),
        ("store code", "patch", f"/api/v1/stores/{store_a.pk}/", {"code": "SH99"}),
        ("open a store", "post", "/api/v1/stores/", {"code": "SH09", "name": "新店", "region": "east", "city": "上海"}),
        ("send policy", "patch", "/api/v1/send-policy/current/", {"daily_cap": 7, "weekly_cap": 0, "monthly_cap": 0}),
        ("koc settings", "patch", "/api/v1/koc/settings/current/", {"viral_interactions": 77}),
        ("koc rate", "put", "/api/v1/koc/rates/douyin/", {"cpm": "33"}),
    ]


@pytest.mark.parametrize("who", CREDENTIALS)
def test_brand_settings_through_the_api(who, client_as, ladder, store_a):
    client = client_as(who)
    for name, method, url, body in _attempts(store_a):
        before = _state()
        response = getattr(client, method)(url, body, format="json")
        if who == "closed_store_key":
            assert response.status_code == 401, (name, response.content[:300])
            assert response.json()["error"]["details"] == {"reason": "store_inactive"}
        elif who in ALLOWED:
            assert response.status_code in (200, 201), (name, response.content[:300])
        else:
            assert response.status_code == 403, (name, who, response.status_code, response.content[:300])
            error = response.json()["error"]
            assert error["code"] == "permission_denied"
            assert ":write" in error["message"], error  # says which scope the change needs
            assert _state() == before, (name, who)
    if who in ALLOWED:
        assert Store.objects.filter(code="SH99").exists() and Store.objects.filter(code="SH09").exists()


@pytest.mark.parametrize("who", ["manager", "clerk", "store_key_read", "store_key_write"])
def test_store_credentials_read_the_brand_settings(who, client_as, ladder):
    client = client_as(who)
    urls = [
        "/api/v1/points-policy/current/",
        "/api/v1/tier-ladder/current/",
        "/api/v1/rewards/",
        "/api/v1/commission-rules/",
        "/api/v1/tag-groups/",
        "/api/v1/attributes/",
        "/api/v1/stores/",
        "/api/v1/send-policy/current/",
        "/api/v1/koc/settings/current/",
        "/api/v1/koc/rates/",
        "/api/v1/koc/levels/",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (who, url, response.content[:200])


@pytest.mark.parametrize("who", ["manager", "store_key_write"])
def test_services_refuse_store_actors_whoever_calls_them(who, bob, store_a, ladder):
    """The decision is the services': called directly, with no API or view in front."""
    from loyalty.orders import services as orders
    from loyalty.points import services as points
    from loyalty.referrals import services as referrals
    from loyalty.tiers import services as tiers
    from members.services import attributes, tags
    from scrm.api.auth import ApiPrincipal
    from scrm.errors import Forbidden
    from scrm.services import stores

    if who == "manager":
        actor = bob
    else:
        key = ApiKey.objects.get(prefix=_key(permissions.all_scopes(), store=store_a).split("_")[1])
        actor = ApiPrincipal(key)
    calls = [
        lambda: points.update_policy(actor=actor, values={"points_per_unit": 7}),
        lambda: points.save_reward(actor=actor, values={"name": "杯子", "kind": "gift", "points_cost": 1}),
        lambda: tiers.save_ladder(actor=actor, data={"name": "改名"}, partial=True),
        lambda: referrals.create_rule(data={"name": "五折", "rate": "0.5"}, actor=actor),
        lambda: orders.set_attribution_policy(rule="last_served", window_days=9, actor=actor),
        lambda: tags.create_group(actor=actor, name="口味"),
        lambda: attributes.create_definition(actor=actor, code="dialect", label="方言", type="text"),
        lambda: stores.update_store(actor=actor, store=store_a, values={"code": "SH99"}),
    ]
    before = _state()
    for call in calls:
        with pytest.raises(Forbidden):
            call()
    assert _state() == before


# --- the dashboard's forms -----------------------------------------------------------------------------


def _form_posts():
    return [
        (
            "points-policy",
            {
                "points_per_unit": "7",
                "expiry_mode": "never",
                "expiry_days": "365",
                "expiry_years": "1",
                "birthday_multiplier": "1",
                "point_value": "0.01",
            },
        ),
        ("reward-create", {"name": "杯子", "kind": "gift", "points_cost": "1"}),
        (
            "commission-rule-create",
            {"name": "五折", "rate": "0.5", "fixed_amount": "0", "return_window_days": "7", "priority": "0"},
        ),
        ("tier-ladder-edit", {"name": "改名"}),
        ("order-attribution", {"rule": "last_served", "window_days": "9"}),
        ("tag-group-create", {"name": "口味", "multiple": "on", "sort_order": "0"}),
    ]


@pytest.mark.parametrize("who", ["manager", "clerk"])
def test_dashboard_forms_refuse_store_roles(who, client, bob, carol, ladder):
    client.force_login({"manager": bob, "clerk": carol}[who])
    for name, data in _form_posts():
        before = _state()
        response = client.post(reverse(name), data)
        assert response.status_code == 403, (name, who, response.status_code)
        assert _state() == before, name


def test_dashboard_forms_let_operators_through(client, alice, ladder):
    client.force_login(alice)
    for name, data in _form_posts():
        if name == "tier-ladder-edit":
            continue  # its formset of levels: tests/loyalty/tiers/test_screens.py saves it as an operator
        response = client.post(reverse(name), data)
        assert response.status_code in (200, 302), (name, response.status_code)
        assert response.status_code != 403, name


# --- keys and their stores ---------------------------------------------------------------------------


def test_a_key_dies_with_its_store(api_client, make_key, store_a, members):
    plaintext = make_key(scopes=["members:read"], store=store_a)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert api_client.get("/api/v1/members/").status_code == 200
    from scrm.services import stores

    stores.update_store(actor=SystemActor("test"), store=store_a, values={"is_active": False})
    response = api_client.get("/api/v1/members/")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["details"] == {"reason": "store_inactive"} and "SH01" in error["message"]


def test_store_bound_keys_cannot_be_issued_brand_setting_writes(store_a):
    from scrm.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        api_keys.issue(name="pos", scopes=["orders:write", "tiers:write", "stores:write"], store=store_a)
    assert refused.value.details == {"scopes": ["stores:write", "tiers:write"]}
    assert not ApiKey.objects.exists()
    # The same scopes are fine brand-wide, and a store key gets everything else.
    api_keys.issue(name="hq", scopes=["tiers:write", "stores:write"])
    api_keys.issue(name="pos", scopes=permissions.available_scopes(store_bound=True), store=store_a)


def test_a_store_bound_key_does_not_hold_brand_setting_writes_it_was_given(api_client, store_a):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {_key(permissions.all_scopes(), store=store_a)}")
    held = set(api_client.get("/api/v1/me/").json()["scopes"])
    assert "orders:write" in held and "members:write" in held
    assert not held & {
        "tiers:write",
        "rewards:write",
        "stores:write",
        "tags:write",
        "attributes:write",
        "commission_rules:write",
    }


def test_brand_settings_are_the_registered_ones():
    assert {name for name, res in permissions.resources().items() if res.brand_setting} == {
        "stores",
        "tiers",
        "rewards",
        "commission_rules",
        "tags",
        "attributes",
        "send_policy",
        "koc_programme",
        "task_settings",
    }
