"""Ticket codes as a scanner or a keyboard delivers them: mutated, cut, padded, typed."""

from __future__ import annotations

import base64

import hypothesis.strategies as st
from gatekit import Issuer
from hypothesis import HealthCheck, given, settings

from gate.decision import Decision, classify_or_reject
from venue import codes
from venue.codes import CodeKind, parse_short_serial, verify_signature
from venue.errors import CodeError

ISSUER = Issuer()
VALID = ISSUER.code(7, 42)
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated_codes(draw: st.DrawFn) -> str:
    """A real signed code with a few characters replaced, dropped or added."""
    text = list(VALID)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["replace", "drop", "insert"]))
        i = draw(st.integers(0, len(text) - 1))
        ch = draw(st.sampled_from([*B32, "0", "1", "=", " ", "\x00", "é", "-", "\n"]))
        if op == "replace":
            text[i] = ch
        elif op == "drop" and len(text) > 1:
            del text[i]
        else:
            text.insert(i, ch)
    return "".join(text)


@FUZZ
@given(mutated_codes())
def test_mutated_generated_codes_are_classified_or_refused(text: str) -> None:
    try:
        scanned = codes.classify(text)
    except CodeError as exc:
        assert exc.reason == "invalid"
        return
    if scanned.kind is CodeKind.GENERATED:
        assert scanned.generated is not None
        try:
            verify_signature(scanned.generated, ISSUER.key.public_key())
        except CodeError:
            return
        # A signature that still verifies must be the original code (whitespace aside).
        assert text.strip() == VALID


@FUZZ
@given(st.binary(min_size=0, max_size=120))
def test_base32_payloads_of_the_right_length_never_crash(raw: bytes) -> None:
    """Well-formed base32 with garbage inside: past the prefix and length checks."""
    body = base64.b32encode(raw).decode().rstrip("=")
    text = ("V1" + body + "A" * 200)[: len(VALID)]
    result = classify_or_reject(text)
    assert isinstance(result, Decision) or result.kind in set(CodeKind)


@FUZZ
@given(st.text(alphabet="0123456789-+ ./x", max_size=30))
def test_short_serials_parse_or_are_none(text: str) -> None:
    try:
        short = parse_short_serial(text)
    except CodeError as exc:  # shaped like a serial, wrong check digit: said clearly
        assert exc.reason == "invalid"
        return
    if short is not None:
        assert codes.short_serial(short.series_id, short.serial) == text.strip()
