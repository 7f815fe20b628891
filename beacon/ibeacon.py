"""The iBeacon frame parser: manufacturer data in, :class:`IBeacon` or ``None`` out.

It runs once for every advertisement a busy venue's scanner hears (thousands a second, most of
them not iBeacons), so it is pure, never raises, and rejects cheaply: one dict lookup, a length
check and two byte compares come before the single ``struct`` unpack, and a hit allocates one
tuple.

Frame (Apple company id ``0x004C``; bleak strips the company id and gives the rest)::

    offset  0     1     2..17   18..19  20..21  22
            0x02  0x15  uuid    major   minor   tx power at 1 m
                                (big-endian)    (signed dBm)
"""

from __future__ import annotations

import struct
import uuid as _uuid
from collections.abc import Mapping
from typing import NamedTuple

APPLE = 0x004C
"""Bluetooth SIG company identifier of Apple, under which iBeacon frames are advertised."""
IBEACON_TYPE = 0x02
IBEACON_LENGTH = 0x15
FRAME_LENGTH = 2 + IBEACON_LENGTH
"""Bytes of manufacturer data after the company id: type, length and 21 bytes of payload."""

_unpack_from = struct.Struct(">16sHHb").unpack_from
_tuple_new = tuple.__new__


class IBeacon(NamedTuple):
    """One parsed iBeacon advertisement.

    Attributes:
        uuid: Proximity UUID as 16 raw bytes (compare against the app's UUIDs without building a
            :class:`uuid.UUID` on the hot path; see :attr:`uuid_str` for display).
        major: 0..65535. For the venue app it rotates daily (see :mod:`venue.beacon_ids`).
        minor: 0..65535, rotating with ``major``.
        tx_power: Calibrated RSSI at 1 m in dBm, -128..127 (signed byte), used for distance.
    """

    uuid: bytes
    major: int
    minor: int
    tx_power: int

    @property
    def uuid_str(self) -> str:
        """The UUID in canonical text form, for humans and JSON."""
        return str(_uuid.UUID(bytes=self.uuid))


def parse(manufacturer_data: Mapping[int, bytes] | None) -> IBeacon | None:
    """Parse the iBeacon frame out of bleak's ``AdvertisementData.manufacturer_data``.

    Args:
        manufacturer_data: Company id → bytes after the company id, as bleak gives it. ``None``
            and, at run time, anything else (wrong types from a misbehaving backend) are
            tolerated and give ``None``.

    Returns:
        The beacon, or ``None`` for every other frame: other companies, other Apple frames
        (e.g. 0x10 "nearby"), wrong lengths, truncated frames, garbage.
    """
    try:
        data = manufacturer_data.get(APPLE)  # type: ignore[union-attr]  # None: AttributeError
        if (
            data is None
            or len(data) != FRAME_LENGTH
            or data[0] != IBEACON_TYPE
            or data[1] != IBEACON_LENGTH
        ):
            return None
        return _tuple_new(IBeacon, _unpack_from(data, 2))  # type: ignore[no-any-return]
    except Exception:  # wrong types from outside: not an iBeacon, never a crash
        return None


def parse_frame(data: bytes) -> IBeacon | None:
    """Parse the bytes after Apple's company id (what :func:`parse` does after its lookup)."""
    return parse({APPLE: data})


def build_frame(uuid: bytes | str | _uuid.UUID, major: int, minor: int, tx_power: int) -> bytes:
    """The manufacturer data (after the company id) a phone advertises: for tests and simulation.

    Raises:
        ValueError: for a bad UUID or out-of-range major, minor or tx power.
    """
    if isinstance(uuid, str):
        raw = _uuid.UUID(uuid).bytes
    elif isinstance(uuid, _uuid.UUID):
        raw = uuid.bytes
    else:
        raw = bytes(uuid)
    if len(raw) != 16:
        raise ValueError("uuid must be 16 bytes")
    try:
        payload = struct.pack(">16sHHb", raw, major, minor, tx_power)
    except struct.error as exc:
        raise ValueError(f"bad iBeacon field: {exc}") from None
    return bytes((IBEACON_TYPE, IBEACON_LENGTH)) + payload


def uuid_bytes(text: str) -> bytes:
    """A UUID from config text to the 16 raw bytes :attr:`IBeacon.uuid` holds.

    Raises:
        ValueError: when ``text`` is not a UUID.
    """
    return _uuid.UUID(text).bytes
