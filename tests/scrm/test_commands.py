"""The management commands an operator runs by hand: API keys, staff accounts and the demo brand."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from members.models import Member
from scrm.models import ApiKey, Role, Store, User

KEY_FORMAT = re.compile(r"^sy_[0-9a-f]{8}_[A-Za-z0-9_-]{40,}$")


def run(*args, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def get_with_key(key, path="/api/v1/members/"):
    return Client().get(path, HTTP_AUTHORIZATION=f"Bearer {key}")


# --- create_api_key -----------------------------------------------------------------------


def test_create_api_key_prints_only_the_key(members):
    out, err = run("create_api_key", "POS sync")
    assert out.endswith("\n") and out.count("\n") == 1
    key = out.strip()
    assert KEY_FORMAT.match(key), out
    assert key not in err
    api_key = ApiKey.objects.get()
    assert api_key.name == "POS sync"
    assert api_key.prefix in err
    assert api_key.store is None and api_key.expires_at is None
    assert "members:read" in api_key.scopes and not [s for s in api_key.scopes if s.endswith(":write")]
    assert get_with_key(key).status_code == 200


def test_create_api_key_with_scopes_store_and_expiry(store_a, members):
    out, _err = run(
        "create_api_key", "CRM", "--scopes", "members:read,members:write", "--store", "SH01", "--expires-in-days", "30"
    )
    api_key = ApiKey.objects.get()
    assert api_key.scopes == ["members:read", "members:write"]
    assert api_key.store == store_a
    assert abs(api_key.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)

    response = get_with_key(out.strip())
    assert response.status_code == 200
    assert {m["home_store"] for m in response.json()["results"]} == {"SH01"}
    assert get_with_key(out.strip(), "/api/v1/stores/").status_code == 403


def test_create_api_key_with_an_expiry_time(db):
    run("create_api_key", "BI", "--expires-at", "2099-06-30T00:00:00+08:00")
    assert ApiKey.objects.get().expires_at.isoformat() == "2099-06-29T16:00:00+00:00"


def test_create_api_key_all_scopes(db):
    run("create_api_key", "admin tool", "--scopes", "all")
    assert {"members:write", "stores:write", "api_keys:write"} <= set(ApiKey.objects.get().scopes)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--scopes", "members:read,members:erase"], "--scopes"),
        (["--store", "XX99"], "--store"),
        (["--expires-at", "next tuesday"], "--expires-at"),
        (["--expires-at", "2099-13-45T00:00:00"], "--expires-at"),
        (["--expires-at", "2001-01-01T00:00:00+08:00"], "--expires-at"),
        (["--expires-in-days", "0"], "--expires-in-days"),
        (["--expires-in-days", "99999999999"], "--expires-in-days"),
    ],
)
def test_create_api_key_rejects_bad_options(stores, args, option):
    with pytest.raises(CommandError, match=re.escape(option)):
        run("create_api_key", "x", *args)
    assert not ApiKey.objects.exists()


# --- revoke_api_key -----------------------------------------------------------------------


def test_revoke_api_key_by_prefix(members):
    key = run("create_api_key", "POS")[0].strip()
    assert get_with_key(key).status_code == 200
    prefix = key.split("_")[1]

    out, _err = run("revoke_api_key", prefix)
    assert prefix in out
    assert ApiKey.objects.get().revoked_at is not None
    response = get_with_key(key)
    assert response.status_code == 401
    assert response.json()["error"]["details"] == {"reason": "revoked"}


def test_revoke_api_key_lists_keys_with_their_state(db):
    run("create_api_key", "live")
    dead = run("create_api_key", "dead")[0].strip()
    run("revoke_api_key", dead.split("_")[1])
    out, _err = run("revoke_api_key", "--list")
    lines = {line.split()[2]: line.split()[1] for line in out.splitlines()}
    assert lines == {"live": "active", "dead": "revoked"}


def test_revoke_api_key_unknown_prefix(db):
    with pytest.raises(CommandError, match="deadbeef"):
        run("revoke_api_key", "deadbeef")
    with pytest.raises(CommandError):
        run("revoke_api_key")


# --- reset_password and create_staff ------------------------------------------------------


def test_reset_password_prints_a_working_password(carol):
    out, _err = run("reset_password", "carol")
    password = out.strip()
    assert out.count("\n") == 1 and len(password) >= 10
    assert not Client().login(username="carol", password="pw-carol")
    assert Client().login(username="carol", password=password)


def test_reset_password_with_a_chosen_password(carol):
    run("reset_password", "carol", "--password", "cocoa-beans-2024")
    assert Client().login(username="carol", password="cocoa-beans-2024")


def test_reset_password_rejects_a_weak_password(carol):
    with pytest.raises(CommandError, match="password"):
        run("reset_password", "carol", "--password", "12345")
    assert Client().login(username="carol", password="pw-carol")


def test_reset_password_unknown_user(db):
    with pytest.raises(CommandError, match="nobody"):
        run("reset_password", "nobody")


def test_create_staff_for_a_store(store_a):
    out, _err = run("create_staff", "erin", "--role", "store_staff", "--store", "SH01", "--name", "Erin")
    erin = User.objects.get(username="erin")
    assert (erin.role, erin.store, erin.display_name) == (Role.STORE_STAFF, store_a, "Erin")
    assert not erin.is_staff
    assert Client().login(username="erin", password=out.strip())


def test_create_operator(db):
    out, _err = run("create_staff", "olga", "--role", "operator")
    olga = User.objects.get(username="olga")
    assert olga.store is None and olga.is_staff
    assert Client().login(username="olga", password=out.strip())


@pytest.mark.parametrize("role", ["store_staff", "store_manager"])
def test_create_staff_store_role_needs_a_store(db, role):
    with pytest.raises(CommandError, match="store"):
        run("create_staff", "erin", "--role", role)
    assert not User.objects.filter(username="erin").exists()


def test_create_staff_rejects_an_unknown_store_or_a_taken_name(store_a, carol):
    with pytest.raises(CommandError, match="--store"):
        run("create_staff", "erin", "--role", "store_staff", "--store", "XX99")
    with pytest.raises(CommandError, match="username"):
        run("create_staff", "carol", "--role", "store_staff", "--store", "SH01")


# --- seed_demo ------------------------------------------------------------------------------


@pytest.fixture
def demo_home(settings, tmp_path):
    """Keep the demo password file out of the working tree's var/."""
    settings.BASE_DIR = tmp_path
    return tmp_path


def test_seed_demo_is_idempotent_and_grows_to_the_asked_size(db, demo_home):
    out, _err = run("seed_demo", "--members", "300")
    stores, staff = Store.objects.count(), User.objects.count()
    assert stores == 12
    assert staff > stores * 3
    assert Member.objects.count() == 300
    assert "(300 added)" in out
    assert "  members: 300 members (300 added)" in out  # the size reaches the members' own demo seed
    assert Member.objects.filter(home_store__isnull=True).count() == 0
    assert Member.objects.filter(owner__isnull=True).count() == 0

    out, _err = run("seed_demo", "--members", "300")
    assert (Store.objects.count(), User.objects.count(), Member.objects.count()) == (stores, staff, 300)
    assert "(0 added)" in out

    out, _err = run("seed_demo", "--members", "500")
    assert Member.objects.count() == 500
    assert "(200 added)" in out
    assert Member.objects.values("phone").distinct().count() == 500


def test_seed_demo_fills_orders_tiers_points_referrals_and_figures_once(db, demo_home):
    from insights.models import MemberRFM
    from loyalty.orders.models import Order
    from loyalty.points.models import PointEntry, Reward
    from loyalty.referrals.models import ReferralCode
    from loyalty.tiers.models import MemberTier, TierLevel

    out, _err = run("seed_demo", "--members", "300")
    for app in ("orders", "tiers", "points", "referrals", "insights"):
        assert f"  {app}: " in out
    figures = (
        Order.objects.count(), TierLevel.objects.count(), MemberTier.objects.count(), Reward.objects.count(),
        PointEntry.objects.count(), ReferralCode.objects.count(), MemberRFM.objects.count(),
    )
    orders, levels, tiers, rewards, entries, codes, rfm = figures
    assert orders > 300 and levels == 6 and tiers > 0 and rewards > 0 and entries > 0 and codes == 300 and rfm > 0
    assert Order.objects.filter(member__isnull=True).exists(), "some orders wait for their buyer"

    run("seed_demo", "--members", "300")
    again = (
        Order.objects.count(), TierLevel.objects.count(), MemberTier.objects.count(), Reward.objects.count(),
        PointEntry.objects.count(), ReferralCode.objects.count(), MemberRFM.objects.count(),
    )
    assert again == figures


def test_members_demo_waits_for_the_organisation(db):
    from members import demo as members_demo

    assert members_demo.seed(members=10).startswith("members: no demo stores")
    assert not Member.objects.exists()


def demo_logins(out: str) -> list[tuple[str, str]]:
    """(username, password) from the indented lines after 'Demo logins'."""
    return re.findall(r"^ +(\S+) +(\S+)$", out.split("Demo logins", 1)[1], flags=re.MULTILINE)


def test_seed_demo_prints_three_logins_that_work(db, demo_home):
    out, _err = run("seed_demo", "--members", "0")
    logins = demo_logins(out)
    assert len(logins) == 3
    roles = {}
    for username, password in logins:
        assert Client().login(username=username, password=password), username
        roles[User.objects.get(username=username).role] = username
    assert set(roles) == {Role.OPERATOR, Role.STORE_MANAGER, Role.STORE_STAFF}
    assert (demo_home / "var" / "demo-password").read_text().strip() == logins[0][1]

    # A second run keeps the same password, so the printed logins stay valid.
    out_again, _err = run("seed_demo", "--members", "0")
    assert demo_logins(out_again) == logins


def test_seed_demo_refuses_a_negative_size(db, demo_home):
    with pytest.raises(CommandError, match="--members"):
        run("seed_demo", "--members", "-1")


def test_seed_demo_refuses_production_without_force(db, demo_home, settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        run("seed_demo", "--members", "0")
    assert not Store.objects.exists()
