"""What a key holds by default, what its page offers, and the record of keys issued and revoked."""

from __future__ import annotations

import importlib
import io
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from scrm import permissions
from scrm.models import ApiKey, AuditLog


def test_the_default_read_leaves_out_privacy_and_every_write():
    read = permissions.parse("read")
    assert "privacy:read" not in read and "members:read" in read
    assert not [s for s in read if s.endswith(":write")]
    assert "privacy:read" in permissions.parse("privacy:read")  # only ever by name


def test_create_api_key_default_is_read_without_privacy(db):
    out = io.StringIO()
    call_command("create_api_key", "BI", stdout=out, stderr=io.StringIO())
    key = ApiKey.objects.get()
    assert "privacy:read" not in key.scopes and "orders:read" in key.scopes
    assert not [s for s in key.scopes if s.endswith(":write")]


def test_create_api_key_for_a_store(store_a):
    call_command(
        "create_api_key", "POS", "--scopes", "all", "--store", "SH01", stdout=io.StringIO(), stderr=io.StringIO()
    )
    key = ApiKey.objects.get()
    assert "orders:write" in key.scopes and "tiers:write" not in key.scopes and "stores:write" not in key.scopes
    with pytest.raises(CommandError, match="tiers:write"):
        call_command(
            "create_api_key",
            "bad",
            "--scopes",
            "tiers:write",
            "--store",
            "SH01",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )


def test_issue_and_revoke_are_audited_without_the_secret(client, alice, store_a):
    client.force_login(alice)
    response = client.post(reverse("api-key-list"), {"name": "POS", "preset": "pos", "store": store_a.pk})
    assert response.status_code == 201, response.content[:500]
    key = ApiKey.objects.get()
    assert key.scopes == ["members:read", "orders:read", "orders:write"]
    plaintext = response.content.decode().split('<pre class="secret">')[1].split("</pre>")[0]
    issued = AuditLog.objects.get(action="api_key.issue")
    assert issued.user == alice and issued.object_id == str(key.pk)
    assert issued.detail["scopes"] == key.scopes and issued.detail["store"] == "SH01"
    assert client.post(reverse("api-key-revoke", args=[key.pk])).status_code == 302
    revoked = AuditLog.objects.get(action="api_key.revoke")
    assert revoked.user == alice and revoked.detail["prefix"] == key.prefix
    secret = plaintext.split("_", 2)[2]
    assert secret not in str(list(AuditLog.objects.values_list("detail", flat=True)))


def test_the_page_groups_scopes_by_resource_with_labels(client, alice):
    client.force_login(alice)
    page = client.get(reverse("api-key-list")).content.decode()
    assert page.count('data-resource="') == len(permissions.resources())
    assert 'data-resource="orders"' in page and "Orders and refunds" in page
    assert 'data-resource="privacy" data-sensitive' in page
    assert 'data-resource="tiers" data-brand-setting' in page
    assert 'data-scope-shortcut="read"' in page and "POS integration" in page


def test_the_page_refuses_brand_setting_writes_on_a_store_key(client, alice, store_a):
    client.force_login(alice)
    response = client.post(reverse("api-key-list"), {"name": "x", "scopes": ["tiers:write"], "store": store_a.pk})
    assert response.status_code == 400
    assert "tiers:write" in str(response.context["form"].errors["scopes"])
    assert not ApiKey.objects.exists()


def test_a_key_without_any_scope_is_refused_on_the_page(client, alice):
    client.force_login(alice)
    response = client.post(reverse("api-key-list"), {"name": "x"})
    assert response.status_code == 400 and "scopes" in response.context["form"].errors


def test_existing_keys_lose_what_they_can_no_longer_use(store_a):
    migration = importlib.import_module("scrm.migrations.0005_api_key_scopes_least_privilege")
    from scrm.services import api_keys

    store_key = api_keys.issue(name="pos", scopes=[], store=store_a).api_key
    brand_key = api_keys.issue(name="hq", scopes=[]).api_key
    old_default = api_keys.issue(name="bi", scopes=[]).api_key
    chosen = api_keys.issue(name="dsr", scopes=[]).api_key
    ApiKey.objects.filter(pk=store_key.pk).update(scopes=["orders:write", "tiers:write", "stores:write"])
    ApiKey.objects.filter(pk=brand_key.pk).update(scopes=["tiers:write"])
    ApiKey.objects.filter(pk=old_default.pk).update(scopes=migration.OLD_DEFAULT_READ)
    ApiKey.objects.filter(pk=chosen.pk).update(scopes=["members:read", "privacy:read"])
    migration.forwards(None, SimpleNamespace(connection=connection))
    scopes = dict(ApiKey.objects.values_list("name", "scopes"))
    assert scopes["pos"] == ["orders:write"]
    assert scopes["hq"] == ["tiers:write"]
    assert "privacy:read" not in scopes["bi"] and "members:read" in scopes["bi"]
    assert scopes["dsr"] == ["members:read", "privacy:read"]  # given by name: kept
