"""iBeacon parser: real frames, other frames, garbage, and an independent decoder."""

from __future__ import annotations

import struct
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.ibeacon import APPLE, IBeacon, build_frame, parse, parse_frame

AIRLOCATE = "e2c56db5-dffb-48d2-b060-d0f5a71096e0"  # Apple's AirLocate sample UUID

# (manufacturer data hex after the company id, uuid, major, minor, tx): written out by hand from
# the iBeacon layout, not produced by our own builder.
VALID = [
    ("0215e2c56db5dffb48d2b060d0f5a71096e00000" "0000c5", AIRLOCATE, 0, 0, -59),
    ("0215e2c56db5dffb48d2b060d0f5a71096e0ffff" "ffff7f", AIRLOCATE, 65535, 65535, 127),
    ("0215e2c56db5dffb48d2b060d0f5a71096e00001" "000280", AIRLOCATE, 1, 2, -128),
    ("021553fee14baa2c4bb080d9c6815dcc2d493039" "d43100", "53fee14b-aa2c-4bb0-80d9-c6815dcc2d49",
     12345, 54321, 0),
    ("0215f7826da64fa24e988024bc5b71e0893e0100" "ff00b3", "f7826da6-4fa2-4e98-8024-bc5b71e0893e",
     256, 65280, -77),
]


@pytest.mark.parametrize(("hexdata", "u", "major", "minor", "tx"), VALID)
def test_real_frames_parse(hexdata: str, u: str, major: int, minor: int, tx: int) -> None:
    b = parse({APPLE: bytes.fromhex(hexdata)})
    assert b == IBeacon(uuid.UUID(u).bytes, major, minor, tx)
    assert b is not None and b.uuid_str == u
    assert (b.major, b.minor, b.tx_power) == (major, minor, tx)


def test_other_companies_alongside_apple_do_not_matter() -> None:
    md = {0x0006: b"\x01\x09\x20", APPLE: bytes.fromhex(VALID[0][0]), 0x0075: b"\x42"}
    assert parse(md) is not None


def test_bytearray_and_memoryview_values_parse() -> None:
    raw = bytes.fromhex(VALID[1][0])
    assert parse({APPLE: bytearray(raw)}) == parse({APPLE: raw})
    assert parse({APPLE: memoryview(raw)}) == parse({APPLE: raw})


IBEACON = bytes.fromhex(VALID[0][0])
NOT_IBEACON = [
    pytest.param({}, id="no manufacturer data"),
    pytest.param({APPLE: bytes.fromhex("1005031c0d5b1a")}, id="apple 0x10 nearby"),
    pytest.param({APPLE: bytes.fromhex("12199e6e0b0c4a5b7a1e4c6d5e7f8091a2b3c4d5e6f7081920")},
                 id="apple 0x12 find my"),
    pytest.param({APPLE: bytes.fromhex("0c0e00a0d1b2c3d4e5f60718293a")}, id="apple 0x0c handoff"),
    pytest.param({APPLE: IBEACON[:-1]}, id="truncated by one"),
    pytest.param({APPLE: IBEACON[:2]}, id="header only"),
    pytest.param({APPLE: b""}, id="empty"),
    pytest.param({APPLE: IBEACON + b"\x00"}, id="one byte too long"),
    pytest.param({APPLE: b"\x02\x14" + IBEACON[2:]}, id="wrong length byte"),
    pytest.param({APPLE: b"\x03\x15" + IBEACON[2:]}, id="wrong type byte"),
    pytest.param({0x0006: IBEACON}, id="microsoft with an ibeacon payload"),
    pytest.param({0x004D: IBEACON}, id="company next to apple"),
    pytest.param({0x4C00: IBEACON}, id="company id byte-swapped"),
    pytest.param({str(APPLE): IBEACON}, id="key as text"),
    pytest.param({APPLE: IBEACON.hex()}, id="value as text"),
    pytest.param({APPLE: list(IBEACON)}, id="value as list of ints"),
    pytest.param({APPLE: None}, id="value none"),
    pytest.param({APPLE: 12345}, id="value int"),
    pytest.param(None, id="none instead of a dict"),
    pytest.param([APPLE, IBEACON], id="list instead of a dict"),
    pytest.param(IBEACON, id="bytes instead of a dict"),
]


@pytest.mark.parametrize("md", NOT_IBEACON)
def test_everything_else_is_none(md: object) -> None:
    assert parse(md) is None


def test_build_frame_matches_hand_written_frame() -> None:
    assert build_frame(AIRLOCATE, 0, 0, -59) == IBEACON
    assert parse_frame(IBEACON) == parse({APPLE: IBEACON})
    with pytest.raises(ValueError):
        build_frame(AIRLOCATE, 65536, 0, 0)
    with pytest.raises(ValueError):
        build_frame(b"short", 0, 0, 0)


anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
    lambda inner: st.lists(inner) | st.dictionaries(st.integers() | st.text(), inner),
    max_leaves=10,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.integers(0, 0xFFFF), st.binary(max_size=40)))
def test_parse_never_raises_on_bytes(md: dict[int, bytes]) -> None:
    b = parse(md)
    data = md.get(APPLE)
    expected = data is not None and len(data) == 23 and data[:2] == b"\x02\x15"
    assert (b is not None) == expected


@settings(max_examples=400, deadline=None)
@given(anything | st.dictionaries(st.just(APPLE), anything))
def test_parse_never_raises_on_anything(md: object) -> None:
    assert parse(md) is None or isinstance(parse(md), IBeacon)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=16, max_size=16), st.integers(0, 65535), st.integers(0, 65535),
       st.integers(-128, 127))
def test_round_trip(u: bytes, major: int, minor: int, tx: int) -> None:
    frame = b"\x02\x15" + u + struct.pack(">HHb", major, minor, tx)
    assert parse({APPLE: frame}) == IBeacon(u, major, minor, tx)


def test_cross_check_with_beacontools() -> None:
    """Every corner value parsed the same by beacontools (an independent construct-based parser)."""
    bt = pytest.importorskip("beacontools", reason="beacontools is a dev dependency")
    corpus = [
        (u, major, minor, tx)
        for u in (AIRLOCATE, "00000000-0000-0000-0000-000000000000",
                  "ffffffff-ffff-ffff-ffff-ffffffffffff")
        for major, minor in ((0, 0), (0, 65535), (65535, 0), (65535, 65535), (258, 772))
        for tx in range(-128, 128, 5)
    ]
    for u, major, minor, tx in corpus:
        md = build_frame(u, major, minor, tx)
        ours = parse({APPLE: md})
        # beacontools wants the raw AD structure: length, 0xFF, company id (LE), data
        theirs = bt.parse_packet(bytes([len(md) + 3, 0xFF, 0x4C, 0x00]) + md)
        assert ours is not None and theirs is not None
        assert (ours.uuid_str, ours.major, ours.minor, ours.tx_power) == (
            theirs.uuid, theirs.major, theirs.minor, theirs.tx_power
        )
