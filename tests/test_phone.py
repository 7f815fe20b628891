"""Phone numbers: E.164, masked for screens, hashed for logs, scrubbed from free text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from venue import phone
from venue.errors import PhoneNumberError


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("067 123 45 67", "UA", "+380671234567"),
        ("(067) 123-45-67", "UA", "+380671234567"),
        ("+380671234567", "GB", "+380671234567"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+1 415 555 2671", None, "+14155552671"),
    ],
)
def test_normalize(raw: str, region: str | None, e164: str) -> None:
    assert phone.normalize(raw, region) == e164


@pytest.mark.parametrize("raw", ["", "abc", "123", "+999 1234567", "0" * 60, "+380 67 123"])
def test_invalid_numbers_get_clear_errors(raw: str) -> None:
    with pytest.raises(PhoneNumberError) as info:
        phone.normalize(raw, "UA")
    assert str(info.value)
    assert not phone.is_valid(raw, "UA")


def test_mask_keeps_country_and_last_two() -> None:
    assert phone.mask("+380671234567") == "+380 •• ••• •• 67"
    masked = phone.mask("+442079460958")
    assert masked.startswith("+44 ") and masked.endswith(" 58")
    assert sum(c.isdigit() for c in masked) == 4
    assert phone.mask("garbage") == "••••"


def test_hash_is_keyed_and_stable() -> None:
    a = phone.phone_hash("+380671234567", b"k1")
    assert a == phone.phone_hash("+380671234567", b"k1")
    assert a != phone.phone_hash("+380671234567", b"k2")
    assert "380671234567" not in a
    with pytest.raises(ValueError):
        phone.phone_hash("+380671234567", b"")


@pytest.mark.parametrize(
    "text",
    [
        "customer +380 67 123 4567 checked in",
        "call 0671234567 now",
        "phone=+380671234567",
        "uk +44 20 7946 0958.",
    ],
)
def test_redact_removes_numbers(text: str) -> None:
    out = phone.redact(text)
    assert "123 4567" not in out and "1234567" not in out and "7946 0958" not in out
    assert "•" in out


@pytest.mark.parametrize(
    "text",
    [
        "at 2026-11-23 23:35:49.123 latency 12.5 ms",
        "event 0194f2a1-7c3b-7def-8abc-0123456789ab",
        "order 12345678 total 99.50",
        "serial 7-42-3 ts=1732406149",
    ],
)
def test_redact_leaves_other_numbers(text: str) -> None:
    assert phone.redact(text) == text


@given(st.text(max_size=80))
def test_normalize_only_raises_phone_errors(text: str) -> None:
    try:
        phone.normalize(text, "UA")
    except PhoneNumberError:
        pass
    phone.redact(text)
