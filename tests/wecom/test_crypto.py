"""WeCom callback crypto, with wechatpy's WeChatCrypto as the oracle in both directions."""

import base64

import pytest
from wechatpy.crypto import _get_signature
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException

from wecom.crypto import CallbackCrypto, CryptoError, SignatureError, new_aes_key, parse_xml

TOKEN = "siyuToken123"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wwsiyu0123456789"

EVENT = (
    "<xml><ToUserName><![CDATA[wwsiyu0123456789]]></ToUserName>"
    "<FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1700000000</CreateTime>"
    "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>"
    "<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[sh01_staff1]]></UserID>"
    "<ExternalUserID><![CDATA[wmABC王女士]]></ExternalUserID><State><![CDATA[store:SH01]]></State>"
    "<WelcomeCode><![CDATA[WELCOME]]></WelcomeCode></xml>"
)


@pytest.fixture
def crypto():
    return CallbackCrypto(token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID)


@pytest.fixture
def oracle():
    return WeChatCrypto(TOKEN, AES_KEY, CORP_ID)


def test_round_trip_keeps_the_message(crypto):
    for text in ["", "a", "王女士 二胎妈妈", "x" * 31, "y" * 32, "z" * 5000, EVENT]:
        encrypted = crypto.encrypt(text)
        assert crypto.decrypt(encrypted) == text
    assert crypto.encrypt("same") != crypto.encrypt("same")  # a fresh random prefix each time


def test_ciphertext_is_padded_to_32_byte_blocks(crypto):
    for n in range(0, 70):
        raw = base64.b64decode(crypto.encrypt("m" * n))
        assert len(raw) % 32 == 0
        assert len(raw) > 16 + 4 + n + len(CORP_ID)


def test_we_decrypt_what_wechatpy_encrypts(crypto, oracle):
    xml = oracle.encrypt_message(EVENT, "nonce42", "1700000001")
    fields = parse_xml(xml)
    assert set(fields) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    plain = crypto.decrypt_message(
        msg_signature=fields["MsgSignature"], timestamp="1700000001", nonce="nonce42", body=xml.encode()
    )
    assert plain == EVENT
    assert parse_xml(plain)["ExternalUserID"] == "wmABC王女士"


def test_wechatpy_decrypts_what_we_encrypt(crypto, oracle):
    body = crypto.encrypt_message(EVENT, timestamp="1700000002", nonce="abc")
    fields = parse_xml(body)
    assert fields["TimeStamp"] == "1700000002" and fields["Nonce"] == "abc"
    plain = oracle.decrypt_message(body.decode(), fields["MsgSignature"], "1700000002", "abc")
    assert plain == EVENT


def test_url_verification_both_ways(crypto, oracle):
    echostr = crypto.encrypt("1234567890123456789")
    signature = crypto.signature("1700000003", "n1", echostr)
    assert oracle.check_signature(signature, "1700000003", "n1", echostr) == "1234567890123456789"
    their_echo = PrpCrypto(base64.b64decode(AES_KEY + "=")).encrypt("echo-me", CORP_ID).decode()
    their_sig = crypto.signature("1700000004", "n2", their_echo)
    assert (
        crypto.verify_url(msg_signature=their_sig, timestamp="1700000004", nonce="n2", echostr=their_echo) == "echo-me"
    )


def test_signature_matches_wechatpy_and_is_order_independent(crypto):
    assert crypto.signature("1", "2", "3") == _get_signature(TOKEN, "1", "2", "3")
    assert len(crypto.signature("1", "2", "3")) == 40


def test_wrong_signature_is_refused(crypto, oracle):
    body = crypto.encrypt_message(EVENT, timestamp="1700000005", nonce="abc")
    good = parse_xml(body)["MsgSignature"]
    with pytest.raises(SignatureError):
        crypto.decrypt_message(msg_signature="0" * 40, timestamp="1700000005", nonce="abc", body=body)
    with pytest.raises(SignatureError):  # the timestamp is signed too
        crypto.decrypt_message(msg_signature=good, timestamp="1700000006", nonce="abc", body=body)
    with pytest.raises(SignatureError):
        crypto.verify_url(msg_signature="", timestamp="1", nonce="2", echostr=crypto.encrypt("x"))
    assert issubclass(SignatureError, CryptoError)
    with pytest.raises(InvalidSignatureException):  # the oracle agrees it is wrong
        oracle.decrypt_message(body.decode(), "0" * 40, "1700000005", "abc")


def test_wrong_corp_id_is_refused(oracle):
    other = CallbackCrypto(token=TOKEN, aes_key=AES_KEY, corp_id="wwsomeoneelse")
    with pytest.raises(CryptoError, match="corp id"):
        other.decrypt(CallbackCrypto(token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID).encrypt("hello"))
    xml = WeChatCrypto(TOKEN, AES_KEY, "wwsomeoneelse").encrypt_message("hi", "n", "1")
    fields = parse_xml(xml)
    ours = CallbackCrypto(token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID)
    with pytest.raises(CryptoError):
        ours.decrypt_message(msg_signature=fields["MsgSignature"], timestamp="1", nonce="n", body=xml)


def test_wrong_key_is_refused(crypto):
    other = CallbackCrypto(token=TOKEN, aes_key=new_aes_key(), corp_id=CORP_ID)
    with pytest.raises(CryptoError):
        other.decrypt(crypto.encrypt("hello there, a message of some length"))


def test_tampered_ciphertext_is_refused(crypto):
    raw = bytearray(base64.b64decode(crypto.encrypt("a message long enough to span blocks" * 2)))
    failures = 0
    for position in [len(raw) - 1, len(raw) - 17, len(raw) - 33]:
        tampered = bytearray(raw)
        tampered[position] ^= 0x5A
        try:
            crypto.decrypt(base64.b64encode(bytes(tampered)).decode())
        except CryptoError:
            failures += 1
    assert failures == 3
    with pytest.raises(CryptoError):
        crypto.decrypt(base64.b64encode(bytes(raw[:-5])).decode())  # not whole blocks
    with pytest.raises(CryptoError):
        crypto.decrypt("not base64 !!")
    with pytest.raises(CryptoError):
        crypto.decrypt("")


def test_malformed_keys_are_value_errors():
    for bad in ["", "short", AES_KEY + "A", AES_KEY[:-1] + "!", 43 * "@"]:
        with pytest.raises(ValueError):
            CallbackCrypto(token=TOKEN, aes_key=bad, corp_id=CORP_ID)
    with pytest.raises(ValueError):
        CallbackCrypto(token="", aes_key=AES_KEY, corp_id=CORP_ID)


def test_new_aes_key_is_a_working_43_char_key():
    keys = {new_aes_key() for _ in range(20)}
    assert len(keys) == 20
    for key in keys:
        assert len(key) == 43
        assert WeChatCrypto(TOKEN, key, CORP_ID).key == base64.b64decode(key + "=")
        c = CallbackCrypto(token=TOKEN, aes_key=key, corp_id=CORP_ID)
        assert c.decrypt(c.encrypt("ok")) == "ok"


def test_parse_xml_flat_dict_with_cdata():
    fields = parse_xml(b"<xml><A><![CDATA[x <y> z]]></A><B>2</B><C/><D>\n  <E>inner</E>\n</D></xml>")
    assert fields == {"A": "x <y> z", "B": "2", "C": "", "D": "\n  inner\n"}


@pytest.mark.parametrize(
    "hostile",
    [
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><A>&a;</A></xml>',
        '<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml><A>1</A></xml>',
        '<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><A>&e;</A></xml>',
    ],
)
def test_doctype_and_entities_are_refused(hostile, crypto):
    with pytest.raises(CryptoError):
        parse_xml(hostile)
    with pytest.raises(CryptoError):
        crypto.decrypt_message(msg_signature="x", timestamp="1", nonce="2", body=hostile.encode())


def test_malformed_xml_and_missing_encrypt(crypto):
    with pytest.raises(CryptoError):
        parse_xml("<xml><A>1</xml>")
    with pytest.raises(CryptoError):
        parse_xml(b"\xff\xfe")
    with pytest.raises(CryptoError):
        crypto.decrypt_message(msg_signature="x", timestamp="1", nonce="2", body=b"<xml><A>1</A></xml>")
