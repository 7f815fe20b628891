"""Home Assistant MQTT discovery for every venue device, built and published in one place.

An operator's Home Assistant finds our devices by itself: each device publishes one retained
*device-based* discovery message on ``homeassistant/device/{device}/config`` (Home Assistant
2024.11+) naming the device (``device``), who made the message (``origin``) and its entities
(``components``, each with its ``platform``). Home Assistant also accepts the abbreviated keys
``dev``, ``o``, ``cmps`` and ``p``; we write the long names because they read better in a broker
browser and the two spellings mean the same to Home Assistant (it expands the short ones).

Availability is the device's own retained ``status`` topic, which :class:`venue.mqtt.MqttLink`
keeps right (``online`` on every connect, ``offline`` as the Last Will and on a clean stop); its
payload is a JSON object, so the availability template reads ``value_json.state``. Sensors read the
``telemetry`` topic (or ``status``); a button publishes a command envelope (``{"id", "args",
"by"}``) on the device's own ``cmd/{name}`` topic, which the device obeys like any operator's
command, recorded as sent ``by`` ``home-assistant``.

Home Assistant forgets non-retained state when it restarts and announces itself with
``homeassistant/status`` = ``online``: :class:`Discovery` then publishes again, as it does on every
connect of the link, so a broker that lost its retained messages is filled in again too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import venue
from venue.messages import dump_json
from venue.topics import DeviceRef, ha_discovery

log = logging.getLogger(__name__)

PREFIX = "homeassistant"
"""Home Assistant's default discovery prefix."""
HA_STATUS = f"{PREFIX}/status"
"""Home Assistant's birth and last-will topic."""
BY = "home-assistant"
"""Who a command from a Home Assistant button is recorded as sent by."""

Platform = Literal["sensor", "binary_sensor", "button"]
Source = Literal["telemetry", "status"]


@dataclass(frozen=True, slots=True)
class Entity:
    """One Home Assistant entity of a device.

    Attributes:
        key: Component id inside the device (unique per device) and the suffix of its unique id.
        name: What Home Assistant shows.
        platform: ``sensor``, ``binary_sensor`` (truthy field → ``ON``) or ``button``.
        field: JSON field of the source payload (default: ``key``); unused by buttons.
        source: The topic a sensor reads: the device's ``telemetry`` or its ``status``.
        unit: ``unit_of_measurement`` for numeric sensors.
        command: For a button: the command name sent on the device's ``cmd/{command}``.
        state_class: ``measurement`` or ``total_increasing`` for numbers HA should chart.
        diagnostic: Shown under the device's diagnostics rather than its main controls.
    """

    key: str
    name: str
    platform: Platform = "sensor"
    field: str | None = None
    source: Source = "telemetry"
    unit: str | None = None
    command: str | None = None
    state_class: str | None = None
    diagnostic: bool = False


def sensor(key: str, name: str, **kw: Any) -> Entity:
    return Entity(key, name, "sensor", **kw)


def binary(key: str, name: str, **kw: Any) -> Entity:
    return Entity(key, name, "binary_sensor", **kw)


def button(key: str, name: str, command: str) -> Entity:
    return Entity(key, name, "button", command=command)


def object_id(ref: DeviceRef) -> str:
    """The device's id in Home Assistant: unique across sites and roles of one broker."""
    return f"venue_{ref.site}_{ref.role}_{ref.device}"


def unique_id(ref: DeviceRef, key: str) -> str:
    return f"{object_id(ref)}_{key}"


def command_payload(command: str) -> str:
    """What a button publishes: a command envelope the device's command thread accepts.

    The id is fixed per button (Home Assistant's ``payload_press`` is a constant); the device
    answers each press on ``cmd_result`` with that id.
    """
    return dump_json({"id": f"ha-{command}", "args": {}, "by": BY}).decode()


def component(ref: DeviceRef, e: Entity) -> dict[str, Any]:
    """One entry of ``components``: the keys Home Assistant's platform schema needs."""
    comp: dict[str, Any] = {"platform": e.platform, "name": e.name,
                            "unique_id": unique_id(ref, e.key)}
    if e.platform == "button":
        if not e.command:
            raise ValueError(f"button {e.key!r} needs a command")
        comp["command_topic"] = ref.cmd(e.command)
        comp["payload_press"] = command_payload(e.command)
        comp["qos"] = 1
    else:
        field = e.field or e.key
        comp["state_topic"] = ref.telemetry() if e.source == "telemetry" else ref.status()
        comp["value_template"] = (
            f"{{{{ 'ON' if value_json.{field} else 'OFF' }}}}"
            if e.platform == "binary_sensor"
            else f"{{{{ value_json.{field} }}}}"
        )
        if e.unit:
            comp["unit_of_measurement"] = e.unit
        if e.state_class:
            comp["state_class"] = e.state_class
    if e.diagnostic:
        comp["entity_category"] = "diagnostic"
    return comp


def discovery_payload(
    ref: DeviceRef,
    entities: Sequence[Entity],
    *,
    model: str | None = None,
    name: str | None = None,
    version: str = venue.__version__,
) -> dict[str, Any]:
    """The device-based discovery message of one device (pure: no I/O).

    Raises:
        ValueError: two entities share a key (Home Assistant would keep only one).
    """
    keys = [e.key for e in entities]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate entity keys in {keys}")
    return {
        "device": {
            "identifiers": [object_id(ref)],
            "name": name or f"{ref.role.capitalize()} {ref.device}",
            "manufacturer": "venue",
            "model": model or ref.role,
            "sw_version": version,
            "serial_number": f"{ref.site}/{ref.device}",
        },
        "origin": {"name": "venue", "sw_version": version},
        # Device-level availability is inherited by every component (HA's shared options).
        "availability_topic": ref.status(),
        "availability_template": "{{ value_json.state }}",
        "payload_available": "online",
        "payload_not_available": "offline",
        "qos": 1,
        "components": {e.key: component(ref, e) for e in entities},
    }


class Discovery:
    """Publishes a device's discovery message on every connect and when Home Assistant starts.

    Args:
        link: The device's :class:`venue.mqtt.MqttLink` (anything with ``ref``, ``publish``,
            ``when_connected`` and ``subscribe``).
        entities: What Home Assistant shows for this device.
        model: Shown as the device's model (default: its role).
        name: Shown as the device's name (default: ``"{Role} {device}"``).
        prefix: Home Assistant's discovery prefix.
    """

    def __init__(self, link: Any, entities: Iterable[Entity], *, model: str | None = None,
                 name: str | None = None, prefix: str = PREFIX) -> None:
        self.link = link
        self.ref: DeviceRef = link.ref
        self.entities = list(entities)
        self.model, self.name, self.prefix = model, name, prefix
        self.topic = ha_discovery(self.ref.device, prefix)
        self.published = 0
        self.payload = dump_json(self.build())

    def build(self) -> dict[str, Any]:
        return discovery_payload(self.ref, self.entities, model=self.model, name=self.name,
                                 version=getattr(self.link, "version", venue.__version__))

    def attach(self) -> Discovery:
        """Publish on every connect; republish when Home Assistant says ``online``."""
        self.link.when_connected(self.publish)
        self.link.subscribe(f"{self.prefix}/status", self._on_ha_status, qos=1)
        return self

    def publish(self) -> None:
        """Retained, QoS 1; called on paho's thread, so it only hands the message over."""
        self.link.publish(self.topic, self.payload, qos=1, retain=True)
        self.published += 1

    def _on_ha_status(self, msg: Any) -> None:
        try:
            if msg.payload.strip() == b"online":
                log.info("Home Assistant is online: publishing discovery for %s", self.ref.device)
                self.publish()
        finally:
            msg.ack()  # a hub's link acks by hand; elsewhere this does nothing


def attach(link: Any, entities: Iterable[Entity], **kw: Any) -> Discovery:
    """Shortcut: ``Discovery(link, entities, **kw).attach()``."""
    return Discovery(link, entities, **kw).attach()


# -- what each role shows -----------------------------------------------------------------------

GATE_ENTITIES: tuple[Entity, ...] = (
    sensor("mode", "Mode"),
    binary("offline", "Offline", diagnostic=True),
    sensor("scans_per_min", "Scans per minute", unit="scans/min", state_class="measurement"),
    sensor("admits", "Admissions", state_class="total_increasing"),
    sensor("rejects", "Rejections", state_class="total_increasing"),
    sensor("replica_age_s", "Replica age", unit="s", diagnostic=True),
    sensor("queue_depth", "Outbox depth", diagnostic=True),
    sensor("garbage_total", "Unreadable scans", state_class="total_increasing", diagnostic=True),
    button("open", "Open", "open"),
)

BEACON_ENTITIES: tuple[Entity, ...] = (
    sensor("present", "Presence count", state_class="measurement"),
    binary("scanning", "Scanning"),
    sensor("scanning_mode", "Scanning mode", diagnostic=True),
    sensor("adverts_per_s", "Adverts per second", unit="1/s", state_class="measurement",
           diagnostic=True),
    sensor("watchdog_level", "Watchdog level", diagnostic=True),
    sensor("outbox_depth", "Outbox depth", diagnostic=True),
)

KIOSK_ENTITIES: tuple[Entity, ...] = (
    sensor("screen", "Screen"),
    binary("offline", "Hub offline"),
    sensor("queued_credits", "Queued credits", diagnostic=True),
    sensor("outbox_depth", "Outbox depth", diagnostic=True),
    button("reload", "Reload", "reload"),
)

HUB_ENTITIES: tuple[Entity, ...] = (
    sensor("state", "State", source="status"),
    sensor("version", "Version", source="status", diagnostic=True),
    sensor("started_at", "Started", source="status", diagnostic=True),
)
