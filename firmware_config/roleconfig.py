"""The role's TOML config as installed in ``/etc/venue/<role>.toml``, checked before it ships.

The config never holds a secret: it names files under ``/etc/venue/secrets/`` (``password_file``,
``hub_token_file``), so it can stay in the inventory's git history. It is checked by loading it
with the role's own config class through :func:`venue.config.load_config` when that class is
installed (``gate.config.GateConfig``, ...), else with :class:`venue.config.BaseConfig` for the
shared sections. The class is looked up by name, so this package imports no role package and a
technician's laptop without a role's extras still provisions it.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from firmware_config.inventory import write_text
from firmware_config.textfmt import to_toml
from venue.config import BaseConfig, load_config

SECRETS_DIR = "/etc/venue/secrets"
ROLE_CONFIG_CLASSES = {
    "gate": ("gate.config", "GateConfig"),
    "kiosk": ("kiosk.config", "KioskConfig"),
    "beacon": ("beacon.config", "BeaconConfig"),
    "hub": ("hub.config", "HubConfig"),
}
SCANNERS = {
    "camera": {"kind": "camera"},
    "usb-camera": {"kind": "usb-camera"},
    "serial": {"kind": "serial", "port": "/dev/ttyACM0"},
    "wedge": {"kind": "wedge", "path": "/dev/input/by-id/venue-scanner-event-kbd"},
}


@dataclass(frozen=True)
class RoleConfigInput:
    """What the config is made from."""

    site: str
    role: str
    device_id: str
    broker_url: str
    hub_url: str
    mqtt_username: str
    tls: bool = False
    scanner: str = "camera"
    rotate: int = 0


def role_config_class(role: str) -> type | None:
    """The role's config dataclass when its package is installed, else ``None``."""
    module_name, cls_name = ROLE_CONFIG_CLASSES[role]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None
        raise
    cls = getattr(module, cls_name, None)
    return cls if isinstance(cls, type) else None


@dataclass(frozen=True)
class _Empty:
    """Stands in for a section the role's config does not have."""


def _dataclass_at(cls: type | None, *path: str) -> type | None:
    """The dataclass type found by following field names ``path`` from ``cls``."""
    tp: object = cls
    for name in path:
        if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
            return None
        hint = typing.get_type_hints(tp).get(name)
        # ``ScannerSection | list[ScannerSection]``: the first dataclass in a union.
        candidates = typing.get_args(hint) or (hint,)
        tp = next((c for c in candidates if isinstance(c, type)
                   and dataclasses.is_dataclass(c)), None)
    return tp if isinstance(tp, type) else None


def _section_keys(cls: type | None, section: str) -> set[str]:
    tp = _dataclass_at(cls, section)
    return {f.name for f in dataclasses.fields(tp)} if tp else set()


def build_role_config(spec: RoleConfigInput, cls: type | None) -> dict[str, Any]:
    """The config as nested dicts, holding only keys ``cls`` knows."""
    mqtt: dict[str, Any] = {
        "url": spec.broker_url,
        "username": spec.mqtt_username,
        "password_file": f"{SECRETS_DIR}/mqtt-password",
    }
    if spec.role == "hub":
        # The hub runs beside the broker: plain MQTT on localhost (the TLS listener is for
        # devices), and its API listens on the LAN at the port devices were given.
        mqtt["url"] = "mqtt://127.0.0.1:1883"
    elif spec.tls:
        mqtt |= {
            "ca_file": "/etc/venue/ca.crt",
            "cert_file": "/etc/venue/client.crt",
            "key_file": f"{SECRETS_DIR}/client.key",
        }
    data: dict[str, Any] = {
        "device": {
            "site": spec.site,
            "id": spec.device_id,
            "data_dir": f"/var/lib/venue-{spec.role}",
        },
        "mqtt": mqtt,
        "log": {"level": "INFO", "format": "text"},
    }
    role_keys = _section_keys(cls, spec.role)
    port = urlsplit(spec.hub_url).port or 8080
    wanted = {"hub_url": spec.hub_url, "hub_token_file": f"{SECRETS_DIR}/hub-token",
              "listen": f"0.0.0.0:{port}"}
    if spec.role != "hub":
        del wanted["listen"]
    section = {k: v for k, v in wanted.items() if k in role_keys}
    if section:
        data[spec.role] = section
    if spec.rotate and "rotation" in {
        f.name for f in dataclasses.fields(_dataclass_at(cls, spec.role, "display") or _Empty)
    }:
        data.setdefault(spec.role, {})["display"] = {"rotation": spec.rotate}
    if spec.role == "gate" and "kind" in _section_keys(cls, "scanner"):
        data["scanner"] = dict(SCANNERS[spec.scanner])
    return data


def write_role_config(spec: RoleConfigInput, path: Path) -> tuple[str, str]:
    """Write and check the config; returns its text and the class name it was checked with.

    Raises:
        ConfigError: the generated file does not load (a bug here or a changed role config).
    """
    cls = role_config_class(spec.role)
    data = build_role_config(spec, cls)
    header = (
        f"venue {spec.role} config for {spec.device_id}, written by `venue provision`.\n"
        f"Installed as /etc/venue/{spec.role}.toml; secrets are in {SECRETS_DIR}/, not here."
    )
    if cls is None:
        header += (
            f"\nThe {spec.role} config class was not installed when this was written: only the "
            f"shared sections are set.\nhub_url = {spec.hub_url!r}, "
            f"hub_token_file = '{SECRETS_DIR}/hub-token'"
        )
    text = to_toml(data, header=header)
    write_text(path, text)
    try:
        load_config(cls or BaseConfig, path, env={})
    except Exception:
        path.unlink()  # never leave a config that does not load where a technician would use it
        raise
    return text, (cls or BaseConfig).__name__
