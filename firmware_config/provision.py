"""``provision``: one device's identity, credentials, config and first-boot files, in one call.

Collaborators that touch the system or chance (clock, password hasher, random tokens) are
keyword arguments with real defaults, so tests can pin them without patching.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from firmware_config import firstboot, pki
from firmware_config.errors import ProvisionError, UsageError
from firmware_config.inventory import DeviceRecord, Inventory, write_text
from firmware_config.mosquitto import make_password_hash, render_tls_listener
from firmware_config.roleconfig import RoleConfigInput, write_role_config
from venue.clock import Clock, SystemClock
from venue.topics import ROLES, check_id

DEFAULT_HUB = "http://venue-hub.local:8080"
DEFAULT_BROKER = "mqtt://venue-hub.local:1883"
DEFAULT_BROKER_TLS = "mqtts://venue-hub.local:8883"


@dataclass(frozen=True)
class ProvisionRequest:
    """What the technician asked for (already read from files: no paths to secrets here)."""

    site: str
    role: str
    device_id: str
    hub_url: str = DEFAULT_HUB
    broker_url: str | None = None
    wifi_ssid: str | None = None
    wifi_passphrase: str | None = None
    wifi_country: str = "GB"
    ssh_keys: tuple[str, ...] = ()
    timezone: str = "Etc/UTC"
    locale: str = "en_GB.UTF-8"
    keymap: str = "gb"
    tls: bool = False
    scanner: str = "camera"
    package: str = "venue"
    wheel: Path | None = None
    """A built venue wheel to put on the card and install, instead of ``package`` from an index."""
    rotate: int = 0
    force: bool = False

    def validate(self) -> None:
        """Raise :class:`UsageError` for anything a technician must fix on the command line."""
        try:
            check_id(self.site, "site")
            check_id(self.device_id, "device id")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if self.role not in ROLES:
            raise UsageError(f"role {self.role!r} is not one of {', '.join(ROLES)}")
        _check_url(self.hub_url, ("http", "https"), "--hub")
        if self.broker_url:
            _check_url(self.broker_url, ("mqtt", "mqtts"), "--broker")
        if (self.wifi_ssid is None) != (self.wifi_passphrase is None):
            raise UsageError("--wifi-ssid and --wifi-psk-file go together")
        if self.wifi_ssid is not None and not 1 <= len(self.wifi_ssid.encode()) <= 32:
            raise UsageError("--wifi-ssid: must be 1-32 bytes")
        if self.wifi_passphrase is not None and not 8 <= len(self.wifi_passphrase) <= 63:
            raise UsageError("Wi-Fi passphrase: must be 8-63 characters")
        if not re.fullmatch(r"[A-Z]{2}", self.wifi_country):
            raise UsageError("--wifi-country: two capital letters (ISO 3166), e.g. GB")
        if self.rotate not in (0, 90, 180, 270):
            raise UsageError("--rotate: one of 0, 90, 180, 270")
        if self.wheel is not None:
            if not self.wheel.is_file():
                raise UsageError(f"--wheel {self.wheel}: file not found")
            if not re.fullmatch(r"venue-[^-]+-.+\.whl", self.wheel.name):
                raise UsageError(f"--wheel {self.wheel}: not a venue wheel (venue-VERSION-...whl)")


@dataclass(frozen=True)
class Provisioned:
    """Where the results went."""

    record: DeviceRecord
    config_path: Path
    config_class: str
    boot_dir: Path
    boot_files: tuple[str, ...]


def _check_url(url: str, schemes: tuple[str, ...], option: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise UsageError(f"{option}: expected {'|'.join(schemes)}://HOST[:PORT], got {url!r}")


def hostname_for(site: str, device_id: str) -> str:
    """A valid hostname (RFC 1123 label) unique per site and device."""
    name = re.sub(r"[^a-z0-9-]", "-", f"{site}-{device_id}".lower()).strip("-")
    if len(name) > 63:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[:54].rstrip('-')}-{digest}"
    return name


def _admin_hash(password: str) -> str:
    """bcrypt (``$2b$``) hash of the technician's console password; glibc's crypt reads it."""
    try:
        import bcrypt
    except ImportError:  # pragma: no cover - the [provision] extra installs it
        raise ProvisionError("bcrypt is missing: pip install 'venue[provision]'") from None
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


def provision(
    inventory: Inventory,
    req: ProvisionRequest,
    *,
    clock: Clock | None = None,
    password_hasher: Callable[[str, str], str] | None = None,
    token: Callable[[], str] | None = None,
) -> Provisioned:
    """Create (or with ``force`` replace) a device in ``inventory``.

    Raises:
        UsageError: bad request.
        ProvisionError: the device exists and is active, or the inventory is damaged.
    """
    req.validate()
    clock = clock or SystemClock()
    hasher = password_hasher or (lambda u, p: make_password_hash(u, p, run=subprocess.run))
    token = token or (lambda: secrets.token_urlsafe(32))
    existing = inventory.get(req.device_id)
    if existing and existing.active and not req.force:
        raise ProvisionError(
            f"device {req.device_id!r} is already provisioned; --revoke it or pass --force"
        )
    if existing and existing.site != req.site and existing.active:
        raise ProvisionError(f"device {req.device_id!r} belongs to site {existing.site!r}")
    inventory.secrets()  # refuses a secrets file others can read, before anything is made
    inventory.init()
    now = clock.now()
    username = f"{req.site}.{req.role}.{req.device_id}"
    mqtt_password = token()
    hub_token = f"vt_{token()}"
    admin_password = token()[:20]
    broker_url = req.broker_url or (DEFAULT_BROKER_TLS if req.tls else DEFAULT_BROKER)
    device_secrets: dict[str, str] = {
        "mqtt_password": mqtt_password,
        "hub_token": hub_token,
        "admin_password": admin_password,
    }
    public_files: dict[str, str] = {}
    cert_sha256 = cert_serial = None
    if req.tls:
        ca = _venue_ca(inventory, req.site, clock)
        issued = pki.issue_client(ca, username, now)
        write_text(inventory.device_dir(req.device_id) / "client.crt", issued.cert_pem)
        device_secrets["tls_key_pem"] = issued.key_pem
        cert_sha256 = pki.fingerprint(issued.cert_pem)
        cert_serial = f"{pki.serial_of(issued.cert_pem):x}"
        public_files = {"ca.crt": ca.cert_pem, "client.crt": issued.cert_pem}
    psk_hex = None
    if req.wifi_ssid and req.wifi_passphrase:
        psk_hex = firstboot.wpa_psk(req.wifi_ssid, req.wifi_passphrase)
        device_secrets["wifi_psk_hex"] = psk_hex
    record = DeviceRecord(
        id=req.device_id,
        site=req.site,
        role=req.role,
        hostname=hostname_for(req.site, req.device_id),
        created_at=now.isoformat(timespec="seconds"),
        mqtt_username=username,
        mqtt_password_hash=hasher(username, mqtt_password),
        token_sha256=hashlib.sha256(hub_token.encode()).hexdigest(),
        broker_url=broker_url,
        hub_url=req.hub_url,
        cert_sha256=cert_sha256,
        cert_serial=cert_serial,
        retired_serials=_retired(existing),
    )
    config_path = inventory.device_dir(req.device_id) / f"{req.role}.toml"
    config_text, config_class = write_role_config(
        RoleConfigInput(
            site=req.site,
            role=req.role,
            device_id=req.device_id,
            broker_url=broker_url,
            hub_url=req.hub_url,
            mqtt_username=username,
            tls=req.tls,
            scanner=req.scanner,
            rotate=req.rotate,
        ),
        config_path,
    )
    inventory.set_device_secrets(req.device_id, device_secrets)
    inventory.save_record(record)
    inventory.regenerate()
    secret_files = {"mqtt-password": mqtt_password + "\n", "hub-token": hub_token + "\n"}
    if req.tls:
        secret_files["client.key"] = device_secrets["tls_key_pem"]
    broker_files = {}
    if req.role == "hub":
        server = None
        if req.tls:
            host = urlsplit(broker_url).hostname or record.hostname
            server = pki.issue_server(
                _venue_ca(inventory, req.site, clock),
                [host, record.hostname, f"{record.hostname}.local"],
                now,
            )
            write_text(inventory.device_dir(req.device_id) / "server.crt", server.cert_pem)
            device_secrets["server_key_pem"] = server.key_pem
            inventory.set_device_secrets(req.device_id, device_secrets)
        broker_files = _hub_broker_files(inventory, server, public_files.get("ca.crt", ""))
    fb = firstboot.FirstBoot(
        site=req.site,
        role=req.role,
        device_id=req.device_id,
        hostname=record.hostname,
        instance_id=f"venue-{req.site}-{req.device_id}-{now.strftime('%Y%m%dT%H%M%S')}",
        config_text=config_text,
        secret_files=secret_files,
        public_files=public_files,
        admin_password_hash=_admin_hash(admin_password),
        ssh_keys=req.ssh_keys,
        timezone=req.timezone,
        locale=req.locale,
        keymap=req.keymap,
        wifi_ssid=req.wifi_ssid,
        wifi_psk_hex=psk_hex,
        wifi_country=req.wifi_country,
        package=req.package,
        wheel=req.wheel.name if req.wheel else None,
        rotate=req.rotate,
        broker_files=broker_files,
    )
    boot = inventory.boot_dir(req.device_id)
    boot.mkdir(parents=True, exist_ok=True)
    boot.chmod(0o700)
    files = firstboot.render_all(fb)
    for name, text in files.items():
        write_text(boot / name, text, mode=0o600)
    names = set(files)
    if req.wheel:
        shutil.copyfile(req.wheel, boot / req.wheel.name)
        names.add(req.wheel.name)
    for stale in {p.name for p in boot.iterdir()} - names:
        (boot / stale).unlink()
    return Provisioned(record, config_path, config_class, boot, tuple(sorted(names)))


def _retired(existing: DeviceRecord | None) -> tuple[str, ...]:
    """Certificates of an earlier provisioning of this id, which must stay revoked."""
    if existing is None:
        return ()
    old = (existing.cert_serial,) if existing.cert_serial else ()
    return tuple(dict.fromkeys((*existing.retired_serials, *old)))


def _hub_broker_files(
    inventory: Inventory, server: pki.Issued | None, ca_pem: str
) -> dict[str, str]:
    """Mosquitto's files for a hub's first boot: the inventory's passwd/acl as they are now, and
    with TLS a listener on 8883 that takes the username from the client certificate (plain MQTT
    then listens on localhost only, for the hub's own processes)."""
    mq = inventory.root / "mosquitto"
    conf = (mq / "venue.conf").read_text()
    d = "/etc/mosquitto/venue"
    files = {f"{d}/passwd": (mq / "passwd").read_text(), f"{d}/acl": (mq / "acl").read_text()}
    if server is None:
        conf += "listener 1883\n"
    else:
        conf += "listener 1883 127.0.0.1\n" + render_tls_listener(
            8883, f"{d}/ca.crt", f"{d}/server.crt", f"{d}/server.key", crlfile=f"{d}/crl.pem"
        )
        files |= {f"{d}/ca.crt": ca_pem, f"{d}/server.crt": server.cert_pem,
                  f"{d}/server.key": server.key_pem,
                  f"{d}/crl.pem": (inventory.root / "ca" / "crl.pem").read_text()}
    files["/etc/mosquitto/conf.d/venue.conf"] = conf
    return files


def _venue_ca(inventory: Inventory, site: str, clock: Clock) -> pki.Issued:
    """The inventory's CA, made on first use (certificate public, key in the secrets file)."""
    cert_path = inventory.root / "ca" / "ca.crt"
    data = inventory.secrets()
    key_pem = data.get("ca", {}).get("key_pem")
    if cert_path.exists() and key_pem:
        return pki.Issued(cert_path.read_text(encoding="utf-8"), key_pem)
    if cert_path.exists():
        raise ProvisionError(f"{cert_path} exists but its key is not in {inventory.secrets_path}")
    ca = pki.make_ca(site, clock.now())
    data["ca"] = {"key_pem": ca.key_pem}
    inventory.save_secrets(data)
    write_text(cert_path, ca.cert_pem)
    return ca
