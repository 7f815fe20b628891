"""Phone numbers: the customer's identity, and the thing we must never leak.

A number is parsed once, at the edge, into E.164 with ``phonenumbers`` (which knows every
country's lengths and prefixes). After that it is shown only masked (``+380 •• ••• •• 67``), logged
only as a keyed hash, and scrubbed from any log line that slips one through.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache

import phonenumbers
from phonenumbers import Leniency, NumberParseException, PhoneNumberFormat, PhoneNumberMatcher

from venue.errors import PhoneNumberError

MASK = "•"
MAX_INPUT = 40
"""Longest text we try to parse as a phone number; longer input is refused outright."""

_default_region = "UA"
_DIGITS = re.compile(r"\d")
_CANDIDATE = re.compile(r"\+?\d[\d\s().\-]{6,}\d")


def set_default_region(region: str) -> None:
    """Set the region used for numbers typed without a ``+`` prefix (from the site's config)."""
    global _default_region
    region = region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise PhoneNumberError(f"unknown region {region!r}")
    _default_region = region


def normalize(raw: str, region: str | None = None) -> str:
    """Parse what a customer typed into E.164 (``+380671234567``).

    Args:
        raw: The number as typed: with or without ``+``, spaces, dashes, brackets.
        region: ISO country for numbers without a ``+`` prefix; defaults to the site's.

    Raises:
        PhoneNumberError: the text is not a possible, valid number; the message says why in words a
            customer can read.
    """
    if not isinstance(raw, str):
        raise PhoneNumberError("phone number must be text")
    text = raw.strip()
    if not text:
        raise PhoneNumberError("phone number is empty")
    if len(text) > MAX_INPUT:
        raise PhoneNumberError("phone number is too long")
    try:
        number = phonenumbers.parse(text, (region or _default_region).upper())
    except NumberParseException as exc:
        raise PhoneNumberError(_parse_error_text(exc)) from None
    if not phonenumbers.is_possible_number(number):
        raise PhoneNumberError("phone number has the wrong number of digits")
    if not phonenumbers.is_valid_number(number):
        raise PhoneNumberError("not a valid phone number")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _parse_error_text(exc: NumberParseException) -> str:
    return {
        NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        NumberParseException.NOT_A_NUMBER: "not a phone number",
        NumberParseException.TOO_SHORT_AFTER_IDD: "phone number is too short",
        NumberParseException.TOO_SHORT_NSN: "phone number is too short",
        NumberParseException.TOO_LONG: "phone number is too long",
    }.get(exc.error_type, "not a phone number")


def is_valid(raw: str, region: str | None = None) -> bool:
    try:
        normalize(raw, region)
    except PhoneNumberError:
        return False
    return True


@lru_cache(maxsize=4096)
def mask(e164: str) -> str:
    """Mask a number for screens and receipts: ``+380671234567`` → ``+380 •• ••• •• 67``.

    The country code and the last two digits stay, so a customer recognises their own number and
    a passer-by learns nothing useful.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return MASK * 4
    formatted = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    cc = f"+{number.country_code}"
    if not formatted.startswith(cc):
        return MASK * 4
    rest = formatted[len(cc) :]
    digits_total = len(_DIGITS.findall(rest))
    out: list[str] = []
    seen = 0
    for ch in rest:
        if ch.isdigit():
            seen += 1
            if seen == digits_total - 1 and out and out[-1] not in (" ", "-"):
                out.append(" ")  # the last two digits stand on their own
            out.append(ch if seen > digits_total - 2 else MASK)
        else:
            out.append(" " if ch in "-()" else ch)
    return cc + re.sub(r"\s+", " ", "".join(out))


def phone_hash(e164: str, key: bytes) -> str:
    """A keyed hash for logs and lookups: stable per site, useless without the site's key."""
    if not key:
        raise ValueError("phone_hash needs a non-empty key")
    return hmac.new(key, e164.encode("ascii", "replace"), hashlib.sha256).hexdigest()[:24]


def redact(text: str) -> str:
    """Replace every phone number found in free text by its masked form.

    Used by the logging filter as the last line of defence. A cheap digit count runs first so the
    matcher only looks at lines that could hold a number.
    """
    if len(_DIGITS.findall(text)) < 7 or not _CANDIDATE.search(text):
        return text
    out: list[str] = []
    last = 0
    try:
        matches = list(PhoneNumberMatcher(text, _default_region, leniency=Leniency.VALID))
    except Exception:  # a matcher bug must never stop a log line; fall back to a blunt scrub
        return _CANDIDATE.sub("[phone]", text)
    for m in matches:
        if _looks_like_time(m.raw_string) or _inside_token(text, m.start, m.end):
            continue
        out.append(text[last : m.start])
        out.append(mask(phonenumbers.format_number(m.number, PhoneNumberFormat.E164)))
        last = m.end
    out.append(text[last:])
    return "".join(out)


_TIMEISH = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{1,2}:\d{2}|^\d+\.\d+$")


def _looks_like_time(raw: str) -> bool:
    return bool(_TIMEISH.match(raw))


def _inside_token(text: str, start: int, end: int) -> bool:
    """True when the digits are part of a longer word (a UUID, a hex id, a key=value run)."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return before.isalnum() or before in "-_" or after.isalnum() or after in "-_"

