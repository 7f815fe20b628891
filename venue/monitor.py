"""What an operator sees of the venue, folded from the broker's messages alone.

:class:`VenueView` is pure: feed it ``(topic, payload, now)`` and read :meth:`VenueView.snapshot`.
The terminal view and ``--once --json`` both render that snapshot, so what a script reads is what a
person sees. Retained ``status`` messages make a fresh monitor know every device at once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from venue.errors import PayloadError
from venue.messages import Event, Status, load_json, rfc3339
from venue.topics import parse_topic

RECENT_EVENTS = 50
REJECT_BURST = 5
"""This many rejections in a row at one gate raise an alert: a misconfigured gate or an attack."""


@dataclass
class DeviceView:
    site: str
    role: str
    device: str
    state: str = "unknown"
    version: str = ""
    started_at: str = ""
    last_seen: datetime | None = None
    telemetry: dict[str, Any] = field(default_factory=dict)
    admits: int = 0
    rejects: int = 0
    rejects_in_a_row: int = 0
    entries: int = 0
    exits: int = 0
    offline_decisions: int = 0
    presence: int = 0

    @property
    def key(self) -> str:
        return f"{self.site}/{self.role}/{self.device}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "site": self.site,
            "role": self.role,
            "device": self.device,
            "state": self.state,
            "version": self.version,
            "started_at": self.started_at,
            "last_seen": rfc3339(self.last_seen) if self.last_seen else None,
            "telemetry": self.telemetry,
        }
        if self.role == "gate":
            out.update(
                admits=self.admits,
                rejects=self.rejects,
                offline_decisions=self.offline_decisions,
                occupancy=self.entries - self.exits,
            )
        if self.role == "beacon":
            out["presence"] = self.presence
        return out


@dataclass
class VenueView:
    """Every device and recent event of the venue, from MQTT messages."""

    devices: dict[str, DeviceView] = field(default_factory=dict)
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT_EVENTS))
    alerts: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT_EVENTS))
    malformed: int = 0

    def _device(self, site: str, role: str, device: str) -> DeviceView:
        key = f"{site}/{role}/{device}"
        view = self.devices.get(key)
        if view is None:
            view = self.devices[key] = DeviceView(site, role, device)
        return view

    def apply(self, topic: str, payload: bytes, now: datetime) -> None:
        """Fold one message in; malformed ones are counted, never raised."""
        try:
            parsed = parse_topic(topic)
            dev = self._device(parsed.ref.site, parsed.ref.role, parsed.ref.device)
            if parsed.kind == "status":
                self._status(dev, payload, now)
            elif parsed.kind == "telemetry":
                body = load_json(payload)
                if not isinstance(body, dict):
                    raise PayloadError("telemetry is not an object", "bad_envelope")
                dev.telemetry = body
                dev.last_seen = now
            elif parsed.kind == "event":
                self._event(dev, Event.decode(payload), now)
        except PayloadError:
            self.malformed += 1

    def _status(self, dev: DeviceView, payload: bytes, now: datetime) -> None:
        if not payload:  # a cleared retained status: the device was removed
            self.devices.pop(dev.key, None)
            return
        status = Status.decode(payload)
        was = dev.state
        dev.state = status.state
        dev.version = status.version
        dev.started_at = status.started_at
        if status.state == "online":
            dev.last_seen = now
        elif was == "online":
            self._alert("device_offline", dev, now)

    def _event(self, dev: DeviceView, ev: Event, now: datetime) -> None:
        dev.last_seen = now
        data = ev.data
        self.recent.append({"ts": ev.ts, "device": dev.key, "type": ev.type, "data": data})
        if ev.type == "gate.scan":
            if data.get("offline"):
                dev.offline_decisions += 1
            if data.get("result") == "admit":
                dev.admits += 1
                dev.rejects_in_a_row = 0
            else:
                dev.rejects += 1
                dev.rejects_in_a_row += 1
                if dev.rejects_in_a_row == REJECT_BURST:
                    self._alert("reject_burst", dev, now)
        elif ev.type == "gate.passage" and data.get("passed") and not data.get("annulled"):
            if data.get("direction") == "out":
                dev.exits += 1
            else:
                dev.entries += 1
        elif ev.type == "beacon.enter":
            dev.presence += 1
        elif ev.type == "beacon.exit":
            dev.presence = max(0, dev.presence - 1)
        elif ev.type in ("hub.alert", "device.error"):
            self._alert(str(data.get("kind", ev.type)), dev, now, data)

    def _alert(self, kind: str, dev: DeviceView, now: datetime,
               data: dict[str, Any] | None = None) -> None:
        self.alerts.append(
            {"ts": rfc3339(now), "kind": kind, "device": dev.key, "data": data or {}}
        )

    def snapshot(self, now: datetime) -> dict[str, Any]:
        devices = sorted(self.devices.values(), key=lambda d: (d.site, d.role, d.device))
        return {
            "at": rfc3339(now),
            "devices": [d.to_dict() for d in devices],
            "online": sum(d.state == "online" for d in devices),
            "offline": sum(d.state != "online" for d in devices),
            "occupancy": sum(d.entries - d.exits for d in devices if d.role == "gate"),
            "alerts": list(self.alerts),
            "recent": list(self.recent)[-10:],
            "malformed": self.malformed,
        }
