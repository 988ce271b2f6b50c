"""Email addresses as identities: the channel the email campaigns send to. The API stores them in
lower case and refuses what is not an address; a file import stores them in lower case too, so the
same address from either side is one identity."""

from __future__ import annotations

import pytest

from members.io.models import ImportStatus
from members.models import Identity, Member
from members.services.identities import clean_identity
from tests.members.io.conftest import run_import

pytestmark = pytest.mark.django_db


def test_an_email_identity_is_stored_in_lower_case_without_a_namespace():
    key, errors = clean_identity({"channel": "email", "external_id": "  Li.Na@Example.COM "})
    assert errors == {}
    assert key.external_id == "li.na@example.com"
    _key, errors = clean_identity({"channel": "email", "namespace": "shop", "external_id": "a@b.cn"})
    assert "namespace" in errors


@pytest.mark.parametrize("value", ["not-an-address", "a@", "@b.cn", "a b@c.cn"])
def test_what_is_not_an_address_is_refused_naming_the_field(value):
    key, errors = clean_identity({"channel": "email", "external_id": value})
    assert key is None
    assert errors == {"external_id": ["Not an email address."]}


def test_an_imported_email_column_is_stored_in_lower_case_and_matches_the_api_s(alice, store_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    job = run_import(alice, "name,phone,email\n甲,13800138000,Jia@Example.COM\n", mode="valid_rows")
    assert job.status == ImportStatus.DONE, (job.message, job.errors)
    assert list(Identity.objects.filter(channel="email").values_list("external_id", flat=True)) == ["jia@example.com"]
    again = run_import(alice, "name,email\n甲,JIA@example.com\n", mode="valid_rows")
    assert again.status == ImportStatus.DONE, (again.message, again.errors)
    assert Identity.objects.filter(channel="email").count() == 1
    assert Member.objects.count() == 1
