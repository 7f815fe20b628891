"""Ticket and coupon codes: what the hub issues and what a gate can check without the hub.

Three shapes of scanned text:

* **Generated** codes are signed by the hub with Ed25519: ``V1`` + base32 (RFC 4648, no padding) of
  a 19-byte payload (version, key id, series id, serial number, validity) and its 64-byte
  signature. Base32 keeps to ``A-Z2-7``, which QR encodes in alphanumeric mode and which every
  keyboard-wedge scanner types correctly whatever the keyboard layout. A gate verifies them with
  public keys only; the serial is below the series' issue limit, so nobody can mint extra codes.
* **Short serials** (``12-345-6``: series, serial, Damm check digit) are for typing by hand at a
  staffed point. They are not secret-proof (anyone who knows a ticket reference can form one), so
  they are accepted only where a person checks (steward page, or a gate configured to allow it).
* Anything else is an **opaque** code: a series' shared code or an imported code. Gates never
  receive imported codes in clear, only :func:`imported_hash` of them.

The ticket *reference* ``series:serial`` names a ticket in events and logs without its secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from venue.errors import CodeError
from venue.reasons import Reason

PREFIX = "V1"
_PAYLOAD = struct.Struct(">BHIIII")  # version, key id, series, serial, valid_from, valid_until
PAYLOAD_VERSION = 1
SIG_LEN = 64
RAW_LEN = _PAYLOAD.size + SIG_LEN  # 83 bytes
TEXT_LEN = len(PREFIX) + (RAW_LEN * 8 + 4) // 5  # 135 characters
MAX_CODE_TEXT = 512
"""Longest scanned text we look at; anything longer is garbage, not a ticket."""

_SHORT = re.compile(r"^\s*(\d{1,9})[-\s](\d{1,9})[-\s](\d)\s*$")


class CodeKind(StrEnum):
    GENERATED = "generated"
    SERIAL = "serial"
    OPAQUE = "opaque"


@dataclass(frozen=True, slots=True)
class GeneratedCode:
    """The signed payload of a generated code; ``signed``/``signature`` for verification."""

    key_id: int
    series_id: int
    serial: int
    valid_from: datetime | None
    valid_until: datetime | None
    signed: bytes
    signature: bytes

    @property
    def ref(self) -> str:
        return ticket_ref(self.series_id, self.serial)


@dataclass(frozen=True, slots=True)
class ShortSerial:
    series_id: int
    serial: int

    @property
    def ref(self) -> str:
        return ticket_ref(self.series_id, self.serial)


@dataclass(frozen=True, slots=True)
class ScannedCode:
    """Scanned text classified; exactly one of ``generated``/``short`` is set unless opaque."""

    kind: CodeKind
    text: str
    generated: GeneratedCode | None = None
    short: ShortSerial | None = None


def ticket_ref(series_id: int, serial: int) -> str:
    """The public name of a ticket, safe for events and logs."""
    return f"{series_id}:{serial}"


def _ts(when: datetime | None) -> int:
    if when is None:
        return 0
    if when.tzinfo is None:
        raise ValueError("validity times must be timezone-aware")
    return int(when.timestamp())


def _from_ts(value: int) -> datetime | None:
    return None if value == 0 else datetime.fromtimestamp(value, UTC)


# --- keys ---------------------------------------------------------------------------------------


def new_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The raw 32-byte public key, the form the replica carries."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


def load_public_key(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


# --- generated codes ----------------------------------------------------------------------------


def sign_code(
    key: Ed25519PrivateKey,
    *,
    key_id: int,
    series_id: int,
    serial: int,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> str:
    """Make the text of a generated code (what goes in the QR)."""
    for name, value, top in (
        ("key_id", key_id, 0xFFFF),
        ("series_id", series_id, 0xFFFFFFFF),
        ("serial", serial, 0xFFFFFFFF),
    ):
        if not 0 <= value <= top:
            raise ValueError(f"{name} {value} out of range")
    payload = _PAYLOAD.pack(
        PAYLOAD_VERSION, key_id, series_id, serial, _ts(valid_from), _ts(valid_until)
    )
    raw = payload + key.sign(payload)
    return PREFIX + base64.b32encode(raw).decode("ascii").rstrip("=")


def _decode_generated(text: str) -> GeneratedCode:
    body = text[len(PREFIX) :]
    if len(text) != TEXT_LEN:
        raise CodeError(
            f"generated code has {len(text)} characters, expected {TEXT_LEN}", Reason.INVALID
        )
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        raise CodeError("generated code is not base32", Reason.INVALID) from None
    if len(raw) != RAW_LEN:
        raise CodeError("generated code has the wrong length", Reason.INVALID)
    payload, signature = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    version, key_id, series_id, serial, vf, vu = _PAYLOAD.unpack(payload)
    if version != PAYLOAD_VERSION:
        raise CodeError(f"unknown code version {version}", Reason.INVALID)
    return GeneratedCode(
        key_id=key_id,
        series_id=series_id,
        serial=serial,
        valid_from=_from_ts(vf),
        valid_until=_from_ts(vu),
        signed=payload,
        signature=signature,
    )


def verify_signature(code: GeneratedCode, public_key: Ed25519PublicKey | bytes) -> None:
    """Raise :class:`CodeError` (``invalid``) unless ``code`` was signed by ``public_key``.

    Knowing which key ids are current, retired or unknown is the caller's business (hub table or
    gate replica); this only checks the signature.
    """
    pub = load_public_key(public_key) if isinstance(public_key, bytes) else public_key
    try:
        pub.verify(code.signature, code.signed)
    except InvalidSignature:
        raise CodeError("signature does not match", Reason.INVALID) from None


# --- short serials ------------------------------------------------------------------------------

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def damm(digits: str) -> int:
    """Damm check digit: catches every single-digit error and every adjacent transposition."""
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return interim


def _check_input(series_id: int, serial: int) -> str:
    return f"{series_id:09d}{serial:09d}"


def short_serial(series_id: int, serial: int) -> str:
    """``series-serial-check`` for typing by hand."""
    return f"{series_id}-{serial}-{damm(_check_input(series_id, serial))}"


def parse_short_serial(text: str) -> ShortSerial | None:
    """The short serial in ``text``, ``None`` if it is not shaped like one.

    Raises:
        CodeError: shaped like a short serial but the check digit is wrong (a typo).
    """
    m = _SHORT.match(text)
    if not m:
        return None
    series_id, serial, check = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if damm(_check_input(series_id, serial)) != check:
        raise CodeError("check digit does not match: mistyped serial?", Reason.INVALID)
    return ShortSerial(series_id, serial)


# --- imported and shared codes ------------------------------------------------------------------


def normalize_opaque(text: str) -> str:
    """How imported and shared codes are compared: outer whitespace stripped, case kept."""
    return text.strip()


def imported_hash(salt: bytes, code: str) -> str:
    """What a gate holds instead of an imported code: 128 bits of salted SHA-256, hex."""
    return hashlib.sha256(salt + normalize_opaque(code).encode("utf-8")).hexdigest()[:32]


# --- classification -----------------------------------------------------------------------------


def classify(text: str) -> ScannedCode:
    """Tell what kind of code a scanned text is, decoding what can be decoded without keys.

    Raises:
        CodeError: with reason ``invalid`` for text that is empty, too long, not printable, a
            broken generated code or a short serial with a wrong check digit.
    """
    if not isinstance(text, str):
        raise CodeError("code is not text", Reason.INVALID)
    stripped = text.strip()
    if not stripped:
        raise CodeError("empty code", Reason.INVALID)
    if len(stripped) > MAX_CODE_TEXT:
        raise CodeError(f"code longer than {MAX_CODE_TEXT} characters", Reason.INVALID)
    if not stripped.isprintable():
        raise CodeError("code holds control characters", Reason.INVALID)
    if stripped.startswith(PREFIX) and len(stripped) == TEXT_LEN:
        return ScannedCode(CodeKind.GENERATED, stripped, generated=_decode_generated(stripped))
    short = parse_short_serial(stripped)
    if short is not None:
        return ScannedCode(CodeKind.SERIAL, stripped, short=short)
    return ScannedCode(CodeKind.OPAQUE, normalize_opaque(stripped))
