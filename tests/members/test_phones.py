"""A phone is refused rather than guessed: letters are not keypad digits and a value with two numbers
does not keep the first, in the normaliser, the member service and API, the import and an order's
buyer; the common spellings of one number still work."""

from __future__ import annotations

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from loyalty.orders import services as orders
from loyalty.orders.models import Order
from members.io.messages import error_message
from members.io.models import ImportStatus
from members.models import Identity, Member
from members.phones import LETTERS, SEVERAL, InvalidPhone, normalize_phone
from members.services import identities, upsert
from scrm.errors import InvalidInput
from tests.loyalty.orders.data import order
from tests.members.io.conftest import run_import

LETTER_TYPOS = ["138OO138OOO", "13800abc000", "１３８ＯＯ１３８０００", "+86 138 0013 8000 转 123", "Tel 13800138000"]
TWO_NUMBERS = [
    "13800138000/13900139000",
    "13800138000;13900139000",
    "13800138000, 13900139000",
    "13800138000、13900139000",
    "13800138000 or 13900139000",
    "13800138000 13900139000",
    "+8613800138000 +8613900139000",
    "021 6552 9988 13800138000",
]


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.mark.parametrize("value", LETTER_TYPOS)
def test_letters_are_refused_not_read_as_keypad_digits(value):
    with pytest.raises(InvalidPhone) as exc:
        normalize_phone(value)
    assert exc.value.reason == LETTERS
    assert str(exc.value) == f"{value} contains letters; a phone number has digits only."


@pytest.mark.parametrize("value", TWO_NUMBERS)
def test_two_numbers_in_one_value_are_refused(value):
    with pytest.raises(InvalidPhone) as exc:
        normalize_phone(value)
    assert exc.value.reason == SEVERAL
    assert "holds more than one phone number" in str(exc.value)


@pytest.mark.parametrize(
    ("value", "e164"),
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("138-0013-8000", "+8613800138000"),
        ("138.0013.8000", "+8613800138000"),
        ("(+86) 138-0013-8000", "+8613800138000"),
        ("+86 13800138000", "+8613800138000"),
        ("0086-13800138000", "+8613800138000"),
        ("１３８００１３８０００", "+8613800138000"),
        ("＋86 １３８－００１３－８０００", "+8613800138000"),
        ("010-6552 9988", "+861065529988"),
        ("(021) 6552-9988", "+862165529988"),
        ("+1 650 253 0000", "+16502530000"),
    ],
)
def test_common_spellings_of_one_number_are_accepted(value, e164):
    assert normalize_phone(value) == e164


@pytest.mark.parametrize("value", ["1380013800", "12345", "+", "-", "13800138000#", "13800138000,"])
def test_what_is_not_a_valid_number_is_refused(value):
    with pytest.raises(InvalidPhone):
        normalize_phone(value)


# --- every path that takes a phone -------------------------------------------------------------------


@pytest.mark.parametrize("value", ["138OO138OOO", "13800abc000", "13800138000/13900139000"])
def test_upsert_refuses_the_phone_and_writes_nothing(alice, store_a, value):
    with pytest.raises(InvalidInput) as exc:
        upsert.upsert_member(identities=[{"channel": "wecom", "external_id": "wmA"}],
                             profile={"name": "王芳", "phone": value}, actor=alice)
    assert list(exc.value.details) == ["phone"]
    assert value in exc.value.details["phone"][0]
    assert not Member.objects.exists() and not Identity.objects.exists()


def test_a_phone_identity_with_letters_is_refused():
    key, errors = identities.clean_identity({"channel": "phone", "external_id": "138OO138OOO"})
    assert key is None
    assert errors == {"external_id": ["138OO138OOO contains letters; a phone number has digits only."]}


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_login(alice)
    return client


def _error(response):
    assert response.status_code == 400, response.content
    return response.json()["error"]["details"]


def test_api_create_upsert_bulk_and_profile_refuse_letters_and_two_numbers(api, store_a, members):
    details = _error(api.post("/api/v1/members/", {"name": "x", "phone": "138OO138OOO"}, format="json"))
    assert details == {"phone": ["138OO138OOO contains letters; a phone number has digits only."]}
    details = _error(api.post("/api/v1/members/upsert/", {"identities": [{"channel": "wecom", "external_id": "w1"}],
                                                          "phone": "13800abc000"}, format="json"))
    assert list(details) == ["phone"]
    items = [{"identities": [{"channel": "pos", "namespace": "SH01", "external_id": f"card{i}"}], "name": f"会员{i}",
              "phone": phone} for i, phone in enumerate(["13700000001", "13800138000/13900139000"])]
    details = _error(api.post("/api/v1/members/bulk-upsert/", {"items": items}, format="json"))
    assert list(details["items"]) == ["1"] and list(details["items"]["1"]) == ["phone"]
    assert "holds more than one phone number" in details["items"]["1"]["phone"][0]
    member = members[0][0]
    details = _error(api.patch(f"/api/v1/members/{member.pk}/", {"phone": "138OO138OOO"}, format="json"))
    assert list(details) == ["phone"]
    assert not Member.objects.filter(phone__in=["+8613866138666", "+8613800222000"]).exists()
    assert Member.objects.count() == 5


def test_import_reports_letters_and_two_numbers_by_row(alice, store_a):
    content = ("name,phone\n甲,13800138000\n乙,138OO138OOO\n丙,13800abc000\n丁,13900139000/13700137000\n"
               "戊,1380013800\n")
    job = run_import(alice, content, mode="valid_rows")
    assert job.status == ImportStatus.DONE, (job.message, job.errors)
    assert [(e["row"], e["column"], e["value"], error_message(e)) for e in job.errors] == [
        (3, "phone", "138OO138OOO", "“138OO138OOO” contains letters; a phone number has digits only."),
        (4, "phone", "13800abc000", "“13800abc000” contains letters; a phone number has digits only."),
        (5, "phone", "13900139000/13700137000",
         "“13900139000/13700137000” holds more than one phone number; give one number per cell."),
        (6, "phone", "1380013800", "“1380013800” is not a valid phone number."),
    ]
    assert list(Member.objects.values_list("phone", flat=True)) == ["+8613800138000"]


def test_order_buyer_phone_is_refused_not_matched_to_a_stranger(alice, members):
    stranger = Member.objects.create(name="陌生人", phone="+8613866138666", home_store=members[0][0].home_store)
    for value in ("138OO138OOO", "13800130000/13800130001"):
        with pytest.raises(InvalidInput) as exc:
            orders.record_order(data=order(phone=value), actor=alice)
        assert list(exc.value.details) == ["phone"], exc.value.details
        assert value in exc.value.details["phone"][0]
    assert not Order.objects.exists()
    assert not stranger.orders.exists()
