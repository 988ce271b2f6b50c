"""The audit log is append-only in the database (a trigger refuses UPDATE and DELETE, whatever the
client), with one narrow exception for scrubbing an erased member's entries; the admin shows it
read-only. The admin saves a member through the member services (consent for sensitive values, a
timeline entry for every change), shows revoked keys read-only and neither adds nor deletes
accounts or keys."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from members.models import AttributeDefinition, MemberEvent
from scrm.audit import scrub_member
from scrm.models import ApiKey, AuditLog
from scrm.services import audit


@pytest.fixture
def admin_client(alice):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client = Client()
    client.force_login(alice)
    return client


def _entry(alice, member=None, **detail):
    return audit.record(
        actor=alice, action="member.view", obj=member, detail=detail or {"phone": "+8613800000000"}, ip="10.0.0.1"
    )


def test_the_database_refuses_to_change_or_delete_an_entry(alice, members):
    entry = _entry(alice, members[0][0])
    for statement in (
        lambda: AuditLog.objects.filter(pk=entry.pk).update(action="nothing"),
        lambda: AuditLog.objects.filter(pk=entry.pk).delete(),
        lambda: connection.cursor().execute("DELETE FROM scrm_auditlog"),
        lambda: connection.cursor().execute("UPDATE scrm_auditlog SET detail = '{}'"),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            statement()
    entry.refresh_from_db()
    assert entry.action == "member.view" and entry.detail == {"phone": "+8613800000000"}


def test_scrub_member_blanks_that_members_entries_only(alice, members):
    member, other = members[0][0], members[0][1]
    mine = _entry(alice, member)
    theirs = _entry(alice, other)
    erasure = audit.record(actor=alice, action="member.erase", obj=member, detail={"members": [member.pk]})
    assert scrub_member(member.pk) == 1
    mine.refresh_from_db(), theirs.refresh_from_db(), erasure.refresh_from_db()
    assert (mine.detail, mine.ip, mine.action, mine.user) == ({"scrubbed": True}, None, "member.view", alice)
    assert theirs.detail == {"phone": "+8613800000000"} and theirs.ip == "10.0.0.1"
    assert erasure.detail == {"members": [member.pk]}
    assert scrub_member(member.pk) == 0  # a rerun changes nothing


def test_the_scrub_permission_is_narrow(alice, members):
    member, other = members[0][0], members[0][1]
    mine, theirs = _entry(alice, member), _entry(alice, other)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('siyu.audit_scrub_member', %s, true)", [str(member.pk)])
        for statement in (
            lambda: AuditLog.objects.filter(pk=theirs.pk).update(detail={}),  # another member
            lambda: AuditLog.objects.filter(pk=mine.pk).update(action="member.nothing"),  # another column
            lambda: AuditLog.objects.filter(pk=mine.pk).delete(),  # a deletion
        ):
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                statement()
        cursor = connection.cursor()
        cursor.execute("SELECT set_config('siyu.audit_scrub_member', '', true)")
    # scrub_member clears the setting right after its one statement: nothing after it may use it.
    scrub_member(member.pk)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditLog.objects.filter(pk=mine.pk).update(detail={"again": True})


def test_the_admin_cannot_change_or_delete_audit_entries(admin_client, alice, members):
    entry = _entry(alice, members[0][0])
    change = reverse("admin:scrm_auditlog_change", args=[entry.pk])
    assert admin_client.get(change).status_code == 200  # view only
    assert admin_client.post(change, {"action": "x"}).status_code == 403
    delete = reverse("admin:scrm_auditlog_delete", args=[entry.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    changelist = admin_client.post(
        reverse("admin:scrm_auditlog_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert changelist.status_code in (200, 302)
    assert AuditLog.objects.filter(pk=entry.pk).exists()


def test_a_revoked_key_is_read_only_in_the_admin(admin_client, make_key):
    make_key(name="pos")
    key = ApiKey.objects.get(name="pos")
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    change = reverse("admin:scrm_apikey_change", args=[key.pk])
    page = admin_client.get(change).content.decode()
    assert 'name="name"' not in page
    assert admin_client.post(change, {"name": "renamed", "scopes": "members:read"}).status_code == 403
    assert admin_client.post(reverse("admin:scrm_apikey_delete", args=[key.pk]), {"post": "yes"}).status_code == 403
    key.refresh_from_db()
    assert key.name == "pos"


def test_the_admin_neither_adds_nor_deletes_accounts_nor_sets_their_passwords(admin_client, carol):
    assert admin_client.get(reverse("admin:scrm_user_add")).status_code == 403
    assert admin_client.post(reverse("admin:scrm_user_delete", args=[carol.pk]), {"post": "yes"}).status_code == 403
    password = reverse("admin:auth_user_password_change", args=[carol.pk])
    response = admin_client.post(password, {"password1": "a-new-pass-123", "password2": "a-new-pass-123"})
    assert response.status_code == 403
    carol.refresh_from_db()
    assert carol.check_password("pw-carol")


class _FormFields(HTMLParser):
    """The values a browser would send for the admin's change form."""

    def __init__(self):
        super().__init__()
        self.data, self._select, self._textarea = {}, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "checkbox", "file"):
            self.data[name] = a.get("value", "")
        elif tag == "input" and name and a.get("type") == "checkbox" and "checked" in a:
            self.data[name] = a.get("value", "on")
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data


def _change_form(client, url) -> dict:
    parser = _FormFields()
    parser.feed(client.get(url).content.decode())
    return parser.data


def test_the_member_admin_refuses_a_sensitive_value_without_consent(admin_client, members):
    AttributeDefinition.objects.create(code="allergy", label="过敏", type="text", sensitive=True)
    member = members[0][0]
    url = reverse("admin:members_member_change", args=[member.pk])
    data = _change_form(admin_client, url)
    data["attributes"] = '{"allergy": "peanuts"}'
    response = admin_client.post(url, data)
    assert response.status_code == 200  # the form again, with the error
    assert "consent" in response.content.decode().lower()
    member.refresh_from_db()
    assert "allergy" not in member.attributes


def test_a_member_change_in_the_admin_leaves_a_trace(admin_client, alice, members):
    member = members[0][0]
    url = reverse("admin:members_member_change", args=[member.pk])
    data = _change_form(admin_client, url)
    data["name"] = "张新名"
    before = MemberEvent.objects.filter(member=member).count()
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    member.refresh_from_db()
    assert member.name == "张新名"
    events = MemberEvent.objects.filter(member=member).order_by("-pk")
    assert events.count() == before + 1 and events[0].actor == alice
