"""Ticket codes: signed codes verify, any change breaks them, short serials catch typos."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
import segno
from hypothesis import given
from hypothesis import strategies as st

from venue import codes
from venue.errors import CodeError
from venue.reasons import Reason

KEY = codes.new_private_key()
PUB = codes.public_key_bytes(KEY)


def make(**kw: object) -> str:
    args: dict[str, object] = {"key_id": 3, "series_id": 7, "serial": 42}
    args.update(kw)
    return codes.sign_code(KEY, **args)  # type: ignore[arg-type]


def test_generated_round_trip_and_qr_mode() -> None:
    until = datetime(2027, 1, 1, tzinfo=UTC)
    text = make(valid_until=until)
    assert len(text) == codes.TEXT_LEN
    scanned = codes.classify(text)
    assert scanned.kind is codes.CodeKind.GENERATED
    g = scanned.generated
    assert g is not None
    assert (g.key_id, g.series_id, g.serial, g.valid_from, g.valid_until) == (3, 7, 42, None, until)
    codes.verify_signature(g, PUB)
    assert g.ref == "7:42"
    assert segno.make(text, error="m").mode == "alphanumeric"


def test_every_single_character_change_is_caught() -> None:
    text = make()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    caught = 0
    for i in range(len(codes.PREFIX), len(text)):
        for repl in itertools.islice((c for c in alphabet if c != text[i]), 2):
            tampered = text[:i] + repl + text[i + 1 :]
            with pytest.raises(CodeError) as info:
                scanned = codes.classify(tampered)
                assert scanned.generated is not None
                codes.verify_signature(scanned.generated, PUB)
            assert info.value.reason == Reason.INVALID
            caught += 1
    assert caught == 2 * (len(text) - len(codes.PREFIX))


def test_other_key_fails() -> None:
    other = codes.public_key_bytes(codes.new_private_key())
    g = codes.classify(make()).generated
    assert g is not None
    with pytest.raises(CodeError):
        codes.verify_signature(g, other)


def test_ranges_refused() -> None:
    with pytest.raises(ValueError):
        make(serial=-1)
    with pytest.raises(ValueError):
        make(key_id=70000)


def test_short_serial_catches_typos_and_transpositions() -> None:
    s = codes.short_serial(12, 3456)
    assert codes.parse_short_serial(s) == codes.ShortSerial(12, 3456)
    series, serial, check = s.split("-")
    for i in range(len(serial)):
        for d in "0123456789":
            if d == serial[i]:
                continue
            typo = f"{series}-{serial[:i]}{d}{serial[i + 1:]}-{check}"
            with pytest.raises(CodeError):
                codes.parse_short_serial(typo)
    swapped = f"{series}-{serial[1]}{serial[0]}{serial[2:]}-{check}"
    with pytest.raises(CodeError):
        codes.parse_short_serial(swapped)
    assert codes.parse_short_serial("hello") is None
    assert codes.classify(" 12 3456 " + check).kind is codes.CodeKind.SERIAL


def test_imported_hash_is_salted_and_normalised() -> None:
    a = codes.imported_hash(b"salt", " ABC-123\n")
    assert a == codes.imported_hash(b"salt", "ABC-123")
    assert a != codes.imported_hash(b"pepper", "ABC-123")
    assert len(a) == 32


@pytest.mark.parametrize("text", ["", "   ", "x" * 600, "abc\x00def", "V1" + "A" * 133])
def test_garbage_is_invalid(text: str) -> None:
    with pytest.raises(CodeError) as info:
        codes.classify(text)
    assert info.value.reason == Reason.INVALID


@given(st.text(max_size=200))
def test_classify_only_raises_code_errors(text: str) -> None:
    try:
        codes.classify(text)
    except CodeError:
        pass
