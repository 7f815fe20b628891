"""MQTT topic names of the venue contract, built and parsed in one place.

Root: ``venue/v1/{site}/{role}/{device}/``; below it ``status``, ``telemetry``, ``event/{type}``,
``cmd/{name}`` and ``cmd_result``. Site and device ids are restricted to a safe alphabet so a
topic can always be parsed back and never holds a wildcard or a separator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from venue.errors import PayloadError

PREFIX = "venue/v1"
ROLES = ("hub", "kiosk", "gate", "beacon")
Role = Literal["hub", "kiosk", "gate", "beacon"]
KINDS = ("status", "telemetry", "event", "cmd", "cmd_result")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def check_id(value: str, what: str = "id") -> str:
    """Return ``value`` when it is a valid site or device id, else raise ``ValueError``."""
    if not isinstance(value, str) or not _ID.match(value):
        raise ValueError(
            f"{what} {value!r} must be 1-64 letters, digits, '-' or '_' and start with a letter "
            "or digit"
        )
    return value


@dataclass(frozen=True, slots=True)
class DeviceRef:
    """A device's place in the topic tree."""

    site: str
    role: str
    device: str

    def __post_init__(self) -> None:
        check_id(self.site, "site")
        check_id(self.device, "device")
        if self.role not in ROLES:
            raise ValueError(f"role {self.role!r} is not one of {', '.join(ROLES)}")

    @property
    def root(self) -> str:
        return f"{PREFIX}/{self.site}/{self.role}/{self.device}"

    def status(self) -> str:
        return f"{self.root}/status"

    def telemetry(self) -> str:
        return f"{self.root}/telemetry"

    def event(self, type_: str) -> str:
        if not _NAME.match(type_):
            raise ValueError(f"event type {type_!r} is not a valid name")
        return f"{self.root}/event/{type_}"

    def cmd(self, name: str = "+") -> str:
        if name != "+" and not _NAME.match(name):
            raise ValueError(f"command {name!r} is not a valid name")
        return f"{self.root}/cmd/{name}"

    def cmd_result(self) -> str:
        return f"{self.root}/cmd_result"


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    """A venue topic taken apart; ``name`` is the event type or command name, else ``None``."""

    ref: DeviceRef
    kind: str
    name: str | None = None


def parse_topic(topic: str) -> ParsedTopic:
    """Take a venue topic apart.

    Raises:
        PayloadError: with reason ``bad_topic`` for anything outside the contract.
    """
    parts = topic.split("/")
    if len(parts) < 6 or "/".join(parts[:2]) != PREFIX:
        raise PayloadError(f"not a venue topic: {topic!r}", "bad_topic")
    _, _, site, role, device, kind, *rest = parts
    try:
        ref = DeviceRef(site, role, device)
    except ValueError as exc:
        raise PayloadError(f"bad topic {topic!r}: {exc}", "bad_topic") from None
    if kind in ("status", "telemetry", "cmd_result") and not rest:
        return ParsedTopic(ref, kind)
    if kind in ("event", "cmd") and len(rest) == 1 and _NAME.match(rest[0]):
        return ParsedTopic(ref, kind, rest[0])
    raise PayloadError(f"bad topic {topic!r}: unknown kind", "bad_topic")


def site_filter(site: str = "+", role: str = "+", kind: str = "#") -> str:
    """A subscription filter over devices, e.g. ``site_filter("s1", "gate", "event/#")``."""
    return f"{PREFIX}/{site}/{role}/+/{kind}"


def share(group: str, topic_filter: str) -> str:
    """A shared subscription (MQTT 5 / Mosquitto), so hub replicas split the load."""
    return f"$share/{group}/{topic_filter}"


def ha_discovery(device: str, prefix: str = "homeassistant") -> str:
    """Home Assistant device-discovery topic."""
    return f"{prefix}/device/{device}/config"
