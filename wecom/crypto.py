"""WeCom's callback crypto: the signed, AES-256-CBC encrypted envelope of every callback.

The scheme is the one WeCom documents and wechatpy's ``WeChatCrypto`` implements: the key is the
43-character EncodingAESKey base64-decoded (with its missing "="), the IV its first 16 bytes, PKCS#7
padding to a 32-byte block, a plaintext of 16 random bytes + 4-byte big-endian length + message +
corp id, and ``msg_signature`` = SHA-1 of the sorted token, timestamp, nonce and ciphertext. Both
Siyu's callback endpoint and the local WeCom server use this module, so it must not touch Django.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import struct
import xml.parsers.expat
from xml.sax.saxutils import escape

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK_SIZE = 32
RANDOM_PREFIX = 16


class CryptoError(Exception):
    """A callback could not be decrypted or parsed: bad padding, length, corp id or XML."""


class SignatureError(CryptoError):
    """The msg_signature does not match the token, timestamp, nonce and ciphertext."""


def new_aes_key() -> str:
    """A fresh random EncodingAESKey: 32 random bytes, base64 without its trailing "=" (43 chars)."""
    return base64.b64encode(os.urandom(32)).decode("ascii").rstrip("=")


def _decode_key(aes_key: str) -> bytes:
    if not isinstance(aes_key, str) or len(aes_key) != 43:
        raise ValueError("EncodingAESKey must be 43 characters")
    try:
        key = base64.b64decode(aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("EncodingAESKey is not valid base64") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


def _pad(data: bytes) -> bytes:
    count = BLOCK_SIZE - len(data) % BLOCK_SIZE
    return data + bytes([count]) * count


def _unpad(data: bytes) -> bytes:
    if not data:
        raise CryptoError("empty plaintext")
    count = data[-1]
    if count < 1 or count > BLOCK_SIZE or count > len(data) or data[-count:] != bytes([count]) * count:
        raise CryptoError("bad padding")
    return data[:-count]


class CallbackCrypto:
    """Sign, encrypt and decrypt WeCom callbacks for one corp (token, EncodingAESKey, corp id)."""

    def __init__(self, *, token: str, aes_key: str, corp_id: str):
        if not token:
            raise ValueError("token must not be empty")
        if not corp_id:
            raise ValueError("corp_id must not be empty")
        self.token = token
        self.corp_id = corp_id
        self._key = _decode_key(aes_key)

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        parts = sorted([self.token, str(timestamp), str(nonce), encrypted])
        # SHA-1 is what WeCom signs with; the protocol chooses it, not us.
        return hashlib.sha1("".join(parts).encode("utf-8"), usedforsecurity=False).hexdigest()

    def encrypt(self, plaintext: str) -> str:
        message = plaintext.encode("utf-8")
        raw = os.urandom(RANDOM_PREFIX) + struct.pack(">I", len(message)) + message
        raw += self.corp_id.encode("utf-8")
        encryptor = self._cipher().encryptor()
        data = encryptor.update(_pad(raw)) + encryptor.finalize()
        return base64.b64encode(data).decode("ascii")

    def decrypt(self, encrypted: str) -> str:
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise CryptoError("ciphertext is not base64") from exc
        if not data or len(data) % 16:
            raise CryptoError("ciphertext length is not a multiple of the AES block")
        decryptor = self._cipher().decryptor()
        raw = _unpad(decryptor.update(data) + decryptor.finalize())
        if len(raw) < RANDOM_PREFIX + 4:
            raise CryptoError("plaintext too short")
        (length,) = struct.unpack(">I", raw[RANDOM_PREFIX : RANDOM_PREFIX + 4])
        start = RANDOM_PREFIX + 4
        if start + length > len(raw):
            raise CryptoError("message length exceeds the plaintext")
        message, receive_id = raw[start : start + length], raw[start + length :]
        if not hmac.compare_digest(receive_id, self.corp_id.encode("utf-8")):
            raise CryptoError("corp id does not match")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CryptoError("message is not UTF-8") from exc

    def check(self, *, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = self.signature(timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected.encode("ascii"), str(msg_signature or "").encode("utf-8")):
            raise SignatureError("msg_signature does not match")

    def verify_url(self, *, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        self.check(msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, encrypted=echostr)
        return self.decrypt(echostr)

    def decrypt_message(self, *, msg_signature: str, timestamp: str, nonce: str, body: bytes) -> str:
        envelope = parse_xml(body)
        encrypted = envelope.get("Encrypt")
        if not encrypted:
            raise CryptoError("no Encrypt element")
        self.check(msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, encrypted=encrypted)
        return self.decrypt(encrypted)

    def encrypt_message(self, plaintext_xml: str, *, timestamp: str, nonce: str) -> bytes:
        encrypted = self.encrypt(plaintext_xml)
        signature = self.signature(timestamp, nonce, encrypted)
        return (
            "<xml>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{escape(str(timestamp))}</TimeStamp>"
            f"<Nonce><![CDATA[{nonce}]]></Nonce>"
            "</xml>"
        ).encode()


def new_nonce() -> str:
    return secrets.token_hex(8)


def parse_xml(text: str | bytes) -> dict[str, str]:
    """The root element's children as a flat dict of their text (CDATA included).

    Refuses a DOCTYPE or any entity declaration (no entity expansion, no external entities), so a
    hostile body cannot blow up memory or read files. Grandchildren's text is joined into their
    child's value; repeated children keep the last value.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CryptoError("XML is not UTF-8") from exc
    parser = xml.parsers.expat.ParserCreate("utf-8")
    result: dict[str, str] = {}
    depth = 0
    current: list[str] = []
    name = ""

    def refuse(*_args):
        raise CryptoError("DOCTYPE and entities are not allowed")

    def start(tag, _attrs):
        nonlocal depth, current, name
        depth += 1
        if depth == 2:
            name, current = tag, []

    def end(_tag):
        nonlocal depth
        if depth == 2:
            result[name] = "".join(current)
        depth -= 1

    def chars(data):
        if depth >= 2:
            current.append(data)

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(text, True)
    except xml.parsers.expat.ExpatError as exc:
        raise CryptoError(f"malformed XML: {exc}") from exc
    return {key: _strip_layout(value) for key, value in result.items()}


def _strip_layout(value: str) -> str:
    # Whitespace-only text is indentation between grandchildren, not a value.
    return value if value.strip() else ""
