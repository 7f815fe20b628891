"""The payloads of the MQTT contract: event envelope, status, command and command result.

Encoding is defined once here. Decoding never raises anything but :class:`PayloadError` (with a
``reason`` for counters), so an MQTT callback can count and drop a bad message and keep running.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from venue.errors import PayloadError
from venue.ids import new_id
from venue.topics import _NAME, check_id

MAX_PAYLOAD = 64 * 1024
"""Largest payload we accept; a gate or beacon event is a few hundred bytes."""

ENVELOPE_VERSION = 1

# Keys that must never travel in an event: a clear phone number or a whole ticket secret.
FORBIDDEN_KEYS = frozenset({"phone", "phone_number", "msisdn", "code", "secret"})


def rfc3339(when: datetime) -> str:
    """UTC timestamp with milliseconds and a ``Z``; naive datetimes are refused."""
    if when.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any, what: str = "ts") -> datetime:
    """Parse an RFC 3339 timestamp with an offset; raise :class:`PayloadError` otherwise."""
    if not isinstance(value, str) or len(value) > 40:
        raise PayloadError(f"{what}: expected an RFC 3339 timestamp", "bad_field")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"{what}: {value!r} is not an RFC 3339 timestamp", "bad_field") from None
    if when.tzinfo is None:
        raise PayloadError(f"{what}: timestamp has no UTC offset", "bad_field")
    return when.astimezone(UTC)


def _finite(obj: Any) -> None:
    if isinstance(obj, float) and not math.isfinite(obj):
        raise PayloadError("payload holds NaN or infinity", "bad_field")


def load_json(payload: bytes | str, *, limit: int = MAX_PAYLOAD) -> Any:
    """Bytes from the wire to JSON, with the size checked before parsing."""
    if len(payload) > limit:
        raise PayloadError(f"payload of {len(payload)} bytes exceeds {limit}", "too_large")
    try:
        text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
        return json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise PayloadError("payload is not UTF-8", "not_utf8") from None
    except RecursionError:
        raise PayloadError("payload nests too deeply", "not_json") from None
    except ValueError as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError(f"payload is not JSON: {exc}", "not_json") from None


def _reject_constant(name: str) -> Any:
    raise PayloadError(f"payload holds {name}", "bad_field")


def dump_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON as it goes on the wire."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _require(obj: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in obj:
        raise PayloadError(f"missing field {key!r}", "missing_field")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise PayloadError(f"field {key!r} has the wrong type", "bad_field")
    return value


@dataclass(frozen=True, slots=True)
class Event:
    """The event envelope: ``{"v", "id", "ts", "site", "device", "type", "data"}``.

    ``id`` is a UUIDv7 made when the event happens, so every retry of a delivery carries the same id
    and the hub can apply it exactly once.
    """

    site: str
    device: str
    type: str
    data: dict[str, Any]
    id: str = field(default_factory=new_id)
    ts: str = ""
    v: int = ENVELOPE_VERSION

    @classmethod
    def new(
        cls, site: str, device: str, type_: str, data: dict[str, Any], *, when: datetime
    ) -> Event:
        """A fresh event at ``when`` (from the injected clock) with a new id."""
        bad = FORBIDDEN_KEYS.intersection(data)
        if bad:
            raise ValueError(f"event data must not carry {sorted(bad)}")
        return cls(site=site, device=device, type=type_, data=data, ts=rfc3339(when))

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "id": self.id,
            "ts": self.ts,
            "site": self.site,
            "device": self.device,
            "type": self.type,
            "data": self.data,
        }

    def encode(self) -> bytes:
        return dump_json(self.to_dict())

    @property
    def time(self) -> datetime:
        return parse_time(self.ts)

    @classmethod
    def decode(cls, payload: bytes | str) -> Event:
        """Parse and validate an envelope from the wire."""
        obj = load_json(payload)
        if not isinstance(obj, dict):
            raise PayloadError("event is not a JSON object", "bad_envelope")
        v = _require(obj, "v", int)
        if v != ENVELOPE_VERSION:
            raise PayloadError(f"unsupported envelope version {v}", "bad_version")
        id_ = _require(obj, "id", str)
        if not 1 <= len(id_) <= 64:
            raise PayloadError("event id must be 1-64 characters", "bad_field")
        ts = _require(obj, "ts", str)
        parse_time(ts)
        site = _require(obj, "site", str)
        device = _require(obj, "device", str)
        type_ = _require(obj, "type", str)
        data = _require(obj, "data", dict)
        try:
            check_id(site, "site")
            check_id(device, "device")
        except ValueError as exc:
            raise PayloadError(str(exc), "bad_field") from None
        if not _NAME.match(type_):
            raise PayloadError(f"bad event type {type_!r}", "bad_field")
        return cls(site=site, device=device, type=type_, data=data, id=id_, ts=ts, v=v)


@dataclass(frozen=True, slots=True)
class Status:
    """Retained ``status`` payload; the broker's Last Will publishes ``offline`` for us."""

    state: str
    version: str = ""
    started_at: str = ""
    role: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        body: dict[str, Any] = dict(self.extra)
        body.update(
            state=self.state, version=self.version, started_at=self.started_at, role=self.role
        )
        return dump_json(body)

    @classmethod
    def decode(cls, payload: bytes | str) -> Status:
        obj = load_json(payload)
        if not isinstance(obj, dict):
            raise PayloadError("status is not a JSON object", "bad_envelope")
        state = _require(obj, "state", str)
        if state not in ("online", "offline"):
            raise PayloadError(f"unknown state {state!r}", "bad_field")
        rest = {k: v for k, v in obj.items() if k not in ("state", "version", "started_at", "role")}
        return cls(
            state=state,
            version=str(obj.get("version", "")),
            started_at=str(obj.get("started_at", "")),
            role=str(obj.get("role", "")),
            extra=rest,
        )


@dataclass(frozen=True, slots=True)
class Command:
    """A command to a device: ``{"id", "args", "by", "ts"}`` on ``.../cmd/{name}``."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    by: str = ""
    """Who asked (operator or service), recorded by the device with what it did."""
    ts: str = ""

    def encode(self) -> bytes:
        return dump_json({"id": self.id, "args": self.args, "by": self.by, "ts": self.ts})

    @classmethod
    def decode(cls, name: str, payload: bytes | str) -> Command:
        obj = load_json(payload) if payload else {}
        if not isinstance(obj, dict):
            raise PayloadError("command is not a JSON object", "bad_envelope")
        id_ = _require(obj, "id", str)
        args = obj.get("args", {})
        if not isinstance(args, dict):
            raise PayloadError("command args must be an object", "bad_field")
        by, ts = str(obj.get("by", "")), str(obj.get("ts", ""))
        return cls(name=name, args=args, id=id_, by=by, ts=ts)


@dataclass(frozen=True, slots=True)
class CommandResult:
    """``{"id", "ok", "error", "data"}`` on ``.../cmd_result``."""

    id: str
    ok: bool
    error: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        return dump_json({"id": self.id, "ok": self.ok, "error": self.error, "data": self.data})

    @classmethod
    def decode(cls, payload: bytes | str) -> CommandResult:
        obj = load_json(payload)
        if not isinstance(obj, dict):
            raise PayloadError("command result is not a JSON object", "bad_envelope")
        error = obj.get("error")
        data = obj.get("data", {})
        return cls(
            id=_require(obj, "id", str),
            ok=_require(obj, "ok", bool),
            error=None if error is None else str(error),
            data=data if isinstance(data, dict) else {},
        )
