"""``venue provision``: add, list and revoke devices in a venue inventory.

Output names files, never their secret content, so a terminal log or a screen share leaks
nothing. Usage mistakes print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
import zoneinfo
from pathlib import Path
from typing import TextIO

from firmware_config.errors import UsageError
from firmware_config.inventory import Inventory
from firmware_config.provision import ProvisionRequest, provision
from firmware_config.roleconfig import SCANNERS
from venue.clock import SystemClock

EXIT_USAGE = 2
SSH_KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-", "sk-ssh-ed25519", "sk-ecdsa-sha2-")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``venue provision``."""
    act = parser.add_argument_group("what to do (default: provision a device)")
    act.add_argument("--list", action="store_true", help="list the inventory's devices")
    act.add_argument("--revoke", metavar="ID", help="revoke a device's credentials and tokens")
    dev = parser.add_argument_group("device")
    dev.add_argument("--site", help="site id (letters, digits, '-', '_')")
    dev.add_argument("--role", help="gate, kiosk, beacon or hub")
    dev.add_argument("--id", dest="device_id", metavar="ID", help="device id, unique here")
    dev.add_argument("--hub", default=None, metavar="URL", help="hub base URL (http[s]://...)")
    dev.add_argument("--broker", default=None, metavar="URL", help="broker (mqtt[s]://host:port)")
    dev.add_argument("--tls", action="store_true", help="issue a TLS client cert from the venue CA")
    dev.add_argument("--scanner", default="camera", help=f"gate: {', '.join(SCANNERS)}")
    dev.add_argument("--rotate", type=int, default=0, help="kiosk display rotation (degrees)")
    dev.add_argument("--package", default="venue",
                     help="pip requirement installed on the device (default: venue)")
    dev.add_argument("--wheel", metavar="FILE",
                     help="a built venue wheel, carried on the card and installed instead")
    dev.add_argument("--force", action="store_true", help="replace an active device's credentials")
    first = parser.add_argument_group("first boot")
    first.add_argument("--wifi-ssid", metavar="SSID")
    first.add_argument("--wifi-psk-file", metavar="FILE", help="file holding the passphrase")
    first.add_argument("--wifi-country", default="GB", metavar="CC")
    first.add_argument("--ssh-key", action="append", default=[], metavar="FILE",
                       help="public key for the technician's login (repeatable)")
    first.add_argument("--timezone", default="Etc/UTC")
    first.add_argument("--locale", default="en_GB.UTF-8")
    first.add_argument("--keymap", default="gb")
    parser.add_argument("--out", default="inventory", metavar="DIR",
                        help="inventory folder (default: ./inventory)")


def read_ssh_key(path: str) -> str:
    """The single public key line in ``path``; a private key is refused, loudly."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise UsageError(f"--ssh-key {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--ssh-key {path}: cannot read: {exc}") from None
    if "PRIVATE KEY" in text:
        raise UsageError(f"--ssh-key {path}: this is a private key; pass the .pub file")
    if "\n" in text or not text.startswith(SSH_KEY_TYPES):
        raise UsageError(f"--ssh-key {path}: expected one OpenSSH public key line")
    return text


def read_passphrase(path: str) -> str:
    """The Wi-Fi passphrase: the file's first line without its line ending."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--wifi-psk-file {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--wifi-psk-file {path}: cannot read: {exc}") from None
    return text.splitlines()[0] if text else ""


def _check_timezone(name: str) -> None:
    zones = zoneinfo.available_timezones()
    if zones and name not in zones:
        raise UsageError(f"--timezone {name!r}: not a known time zone (e.g. Europe/London)")


def request_from_args(args: argparse.Namespace) -> ProvisionRequest:
    """Turn options into a validated request, reading the key and passphrase files."""
    missing = [o for o, v in (("--site", args.site), ("--role", args.role),
                               ("--id", args.device_id)) if not v]
    if missing:
        raise UsageError(f"missing {', '.join(missing)} (or use --list / --revoke ID)")
    if args.scanner not in SCANNERS:
        raise UsageError(f"--scanner {args.scanner!r}: one of {', '.join(SCANNERS)}")
    _check_timezone(args.timezone)
    req = ProvisionRequest(
        site=args.site,
        role=args.role,
        device_id=args.device_id,
        hub_url=args.hub or ProvisionRequest.hub_url,
        broker_url=args.broker,
        wifi_ssid=args.wifi_ssid,
        wifi_passphrase=read_passphrase(args.wifi_psk_file) if args.wifi_psk_file else None,
        wifi_country=args.wifi_country,
        ssh_keys=tuple(read_ssh_key(p) for p in args.ssh_key),
        timezone=args.timezone,
        locale=args.locale,
        keymap=args.keymap,
        tls=args.tls,
        scanner=args.scanner,
        package=args.package,
        wheel=Path(args.wheel) if args.wheel else None,
        rotate=args.rotate,
        force=args.force,
    )
    req.validate()
    return req


def run(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Entry point of ``venue provision``."""
    out = out or sys.stdout
    inventory = Inventory(Path(args.out))
    try:
        if args.list:
            return _list(inventory, out)
        if args.revoke:
            record = inventory.revoke(args.revoke, SystemClock().now())
            print(f"revoked {record.id} ({record.role} at {record.site}); broker login and hub "
                  f"token removed. Install {inventory.root}/mosquitto/passwd and acl on the "
                  "broker and reload it; import hub-tokens.json on the hub.", file=out)
            return 0
        req = request_from_args(args)
    except UsageError as exc:
        print(f"venue provision: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    done = provision(inventory, req)
    rec = done.record
    print(f"provisioned {rec.role} {rec.site}/{rec.id} (hostname {rec.hostname}, broker user "
          f"{rec.mqtt_username})", file=out)
    print(f"  config       {done.config_path} (checked with {done.config_class})", file=out)
    print(f"  first boot   {done.boot_dir}/ ({', '.join(done.boot_files)})", file=out)
    print(f"  secrets      {inventory.secrets_path} (0600, never commit)", file=out)
    print(f"  broker files {inventory.root}/mosquitto/ (install on the broker, reload it)",
          file=out)
    print(f"next: venue flash IMAGE /dev/sdX --device-dir {done.boot_dir}", file=out)
    return 0


def _list(inventory: Inventory, out: TextIO) -> int:
    records = inventory.records()
    if not records:
        print(f"no devices in {inventory.root}", file=out)
        return 0
    rows = [("ID", "ROLE", "SITE", "HOSTNAME", "STATE", "CREATED")]
    for r in records:
        state = "active" if r.active else f"revoked {r.revoked_at}"
        rows.append((r.id, r.role, r.site, r.hostname, state, r.created_at))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)
    return 0
