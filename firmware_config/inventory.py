"""The venue inventory: a folder that records every provisioned device.

Layout (everything is safe to keep in git except what ``.gitignore`` there lists)::

    inventory/
      .gitignore            secrets.toml and devices/*/boot/
      secrets.toml          0600: broker passwords, hub tokens, TLS keys, CA key, Wi-Fi PSKs
      hub-tokens.json       [{"device", "role", "site", "token_sha256"}] for the hub to import
      mosquitto/passwd      Mosquitto password_file for every active device (hashes only)
      mosquitto/acl         Mosquitto acl_file, one block per active device
      mosquitto/venue.conf  conf.d snippet pointing Mosquitto at the two files
      ca/ca.crt             the venue CA (made on the first --tls device)
      ca/crl.pem            the CA's revocation list, for the broker's ``crlfile``
      devices/<id>/device.toml   identity: site, role, hostname, username, password hash, ...
      devices/<id>/<role>.toml   the role's config as installed in /etc/venue/
      devices/<id>/client.crt    TLS client certificate (with --tls; a hub also has server.crt)
      devices/<id>/boot/         0700: first-boot files for `venue flash` (they hold secrets)

Secrets live in one 0600 file so a technician can see at a glance what must never be committed;
the generated broker files hold only hashes and can be rebuilt from the records at any time.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firmware_config import pki
from firmware_config.errors import ProvisionError
from firmware_config.mosquitto import BrokerAccount, render_acl, render_broker_conf, render_passwd
from firmware_config.textfmt import to_toml
from venue.topics import DeviceRef

SECRETS = "secrets.toml"
HUB_TOKENS = "hub-tokens.json"
GITIGNORE = "# Written by `venue provision`: these hold secrets.\nsecrets.toml\ndevices/*/boot/\n"


@dataclass(frozen=True)
class DeviceRecord:
    """What the inventory remembers about one device; no secret, only hashes and fingerprints."""

    id: str
    site: str
    role: str
    hostname: str
    created_at: str
    mqtt_username: str
    mqtt_password_hash: str
    token_sha256: str
    broker_url: str
    hub_url: str
    cert_sha256: str | None = None
    cert_serial: str | None = None
    """Hex serial of the TLS client certificate, for the CRL once the device is revoked."""
    retired_serials: tuple[str, ...] = ()
    """Serials of certificates this id had before it was provisioned again: always in the CRL."""
    revoked_at: str | None = None

    @property
    def ref(self) -> DeviceRef:
        return DeviceRef(self.site, self.role, self.id)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def write_text(path: Path, text: str, mode: int = 0o644) -> None:
    """Write atomically, with ``mode`` from the start: a secret is never briefly world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Inventory:
    """One inventory folder; every method reads and writes files, nothing is cached."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # --- paths -------------------------------------------------------------------------------
    def device_dir(self, device_id: str) -> Path:
        return self.root / "devices" / device_id

    def boot_dir(self, device_id: str) -> Path:
        return self.device_dir(device_id) / "boot"

    @property
    def secrets_path(self) -> Path:
        return self.root / SECRETS

    # --- records -----------------------------------------------------------------------------
    def init(self) -> None:
        """Create the folder and its ``.gitignore`` (idempotent)."""
        self.root.mkdir(parents=True, exist_ok=True)
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            write_text(ignore, GITIGNORE)

    def records(self) -> list[DeviceRecord]:
        """Every device ever provisioned here, revoked ones included, sorted by id."""
        base = self.root / "devices"
        if not base.is_dir():
            return []
        out = [self._read_record(p / "device.toml") for p in sorted(base.iterdir()) if p.is_dir()]
        return [r for r in out if r is not None]

    def get(self, device_id: str) -> DeviceRecord | None:
        return self._read_record(self.device_dir(device_id) / "device.toml")

    def _read_record(self, path: Path) -> DeviceRecord | None:
        if not path.exists():
            return None
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))["device"]
            known = {f.name for f in fields(DeviceRecord)}
            values = {k: v for k, v in data.items() if k in known}
            values["retired_serials"] = tuple(values.get("retired_serials", ()))
            return DeviceRecord(**values)
        except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
            raise ProvisionError(f"{path}: not a device record: {exc}") from None

    def save_record(self, record: DeviceRecord) -> None:
        header = "Device identity, written by `venue provision`. No secrets in here."
        write_text(
            self.device_dir(record.id) / "device.toml",
            to_toml({"device": asdict(record)}, header=header),
        )

    # --- secrets -----------------------------------------------------------------------------
    def secrets(self) -> dict[str, Any]:
        path = self.secrets_path
        if not path.exists():
            return {}
        if path.stat().st_mode & 0o077:
            raise ProvisionError(f"{path}: readable by others; run `chmod 600 {path}` first")
        return tomllib.loads(path.read_text(encoding="utf-8"))

    def save_secrets(self, data: dict[str, Any]) -> None:
        header = "SECRETS of this venue. Never commit, copy or paste this file."
        write_text(self.secrets_path, to_toml(data, header=header), mode=0o600)

    def set_device_secrets(self, device_id: str, values: dict[str, str] | None) -> None:
        data = self.secrets()
        devices = data.setdefault("devices", {})
        if values is None:
            devices.pop(device_id, None)
        else:
            devices[device_id] = values
        self.save_secrets(data)

    # --- generated files ---------------------------------------------------------------------
    def regenerate(self) -> None:
        """Rebuild passwd, acl, the broker snippet and the hub's token list from the records."""
        active = [r for r in self.records() if r.active]
        accounts = [BrokerAccount(r.mqtt_username, r.mqtt_password_hash, r.ref) for r in active]
        mq = self.root / "mosquitto"
        write_text(mq / "passwd", render_passwd(accounts), mode=0o640)
        write_text(mq / "acl", render_acl(accounts))
        write_text(
            mq / "venue.conf",
            render_broker_conf("/etc/mosquitto/venue/passwd", "/etc/mosquitto/venue/acl"),
        )
        self._write_crl()
        tokens = [
            {"device": r.id, "role": r.role, "site": r.site, "token_sha256": r.token_sha256}
            for r in active
        ]
        write_text(self.root / HUB_TOKENS, json.dumps(tokens, indent=2) + "\n")

    def _write_crl(self) -> None:
        """``ca/crl.pem`` naming every revoked device's certificate (only once a CA exists)."""
        cert = self.root / "ca" / "ca.crt"
        key = self.secrets().get("ca", {}).get("key_pem")
        if not cert.exists() or not key:
            return
        revoked = []
        for r in self.records():
            revoked += [int(s, 16) for s in r.retired_serials]
            if r.cert_serial and not r.active:
                revoked.append(int(r.cert_serial, 16))
        ca = pki.Issued(cert.read_text(encoding="utf-8"), key)
        write_text(self.root / "ca" / "crl.pem", pki.make_crl(ca, revoked, datetime.now(UTC)))

    def revoke(self, device_id: str, now: datetime) -> DeviceRecord:
        """Forget a device's secrets and first-boot files, then rebuild the broker files."""
        record = self.get(device_id)
        if record is None:
            raise ProvisionError(f"no device {device_id!r} in {self.root}")
        if record.active:
            record = replace(record, revoked_at=now.isoformat(timespec="seconds"))
            self.save_record(record)
        self.set_device_secrets(device_id, None)
        shutil.rmtree(self.boot_dir(device_id), ignore_errors=True)
        self.regenerate()
        return record
