"""``venue broker-config``: a ready Mosquitto configuration for a venue, from its inventory.

Writes into ``--out``::

    mosquitto.conf          listeners, anonymous off, logins and ACL (or the dynsec plugin),
                            persistence and queueing, and the bridge section when asked
    passwd                  every active device and each site's operator (hashes only)
    acl                     one block per login: a device writes only under its own topic
                            root and reads only its own commands
    dynamic-security.json   with --dynsec: the same logins and rights for the plugin
    ca.crt server.crt server.key crl.pem   with --tls: the venue CA and the hub's certificate
    data/                   the broker's persistence store

Operators (``venue monitor``, ``venue cmd``, Home Assistant) log in as ``{site}.operator``; their
password is made once and kept in the inventory's ``secrets.toml`` (``[operators]``), so running
the command again gives the same logins. Nothing secret is printed.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from firmware_config.errors import ProvisionError, UsageError
from firmware_config.inventory import DeviceRecord, Inventory, write_text
from firmware_config.mosquitto import (
    Bridge,
    device_acl,
    find_dynsec_plugin,
    make_password_hash,
    operator_acl,
    operator_username,
    render_bridge,
    render_dynsec,
    render_tls_listener,
)
from venue.mqtt import parse_url

EXIT_USAGE = 2
MAX_QUEUED = 200000
"""Per client, QoS 1: a hub away, or a bridge whose uplink is down, for hours at 60 gates."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``venue broker-config``."""
    parser.add_argument("--inventory", required=True, metavar="DIR",
                        help="the provisioning inventory (venue provision --out)")
    parser.add_argument("--out", required=True, metavar="DIR", help="where to write the files")
    parser.add_argument("--port", type=int, default=1883, help="plain MQTT port (default 1883)")
    parser.add_argument("--bind", metavar="ADDR", help="listen on this address only (default: all)")
    parser.add_argument("--install-dir", metavar="DIR",
                        help="where the files will live on the broker, as written in "
                             "mosquitto.conf (default: --out, absolute)")
    parser.add_argument("--tls", action="store_true",
                        help="add a TLS listener: venue CA, the hub's server certificate, "
                             "client certificates as logins")
    parser.add_argument("--tls-port", type=int, default=8883, help="TLS port (default 8883)")
    parser.add_argument("--hub", metavar="ID", help="the hub whose server certificate to use")
    parser.add_argument("--dynsec", action="store_true",
                        help="use the dynamic-security plugin instead of passwd/acl files")
    parser.add_argument("--plugin", metavar="PATH",
                        help="path of mosquitto_dynamic_security.so on the broker "
                             "(default: found on this machine)")
    br = parser.add_argument_group("bridge to a central broker")
    br.add_argument("--bridge-to", metavar="URL", help="mqtt[s]://central:8883")
    br.add_argument("--bridge-user", metavar="USER", help="the venue's login at the central broker")
    br.add_argument("--bridge-password-file", metavar="FILE", help="file holding its password")
    br.add_argument("--bridge-ca", metavar="FILE",
                    help="CA of the central broker's certificate (default: the system's)")
    br.add_argument("--site", help="the site to bridge (default: the inventory's only site)")


@dataclass(frozen=True)
class Written:
    out: Path
    files: list[str]
    logins: int
    operators: list[str]


def run(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Entry point of ``venue broker-config``."""
    out = out or sys.stdout
    try:
        done = write_broker_config(args)
    except UsageError as exc:
        print(f"venue broker-config: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {', '.join(done.files)} to {done.out} ({done.logins} logins)", file=out)
    for user in done.operators:
        print(f"  operator login {user}: password in the inventory's secrets.toml [operators]",
              file=out)
    print(f"run: mosquitto -c {done.out / 'mosquitto.conf'} (files must be readable by the "
          "broker's user: chown root:mosquitto, chmod 0640)", file=out)
    return 0


def write_broker_config(args: argparse.Namespace) -> Written:
    """Check the options, then write every file; raises UsageError/ProvisionError on a problem."""
    inventory = Inventory(Path(args.inventory))
    if not (inventory.root / "devices").is_dir():
        raise UsageError(f"--inventory {args.inventory}: no devices there (venue provision first)")
    for opt, port in (("--port", args.port), ("--tls-port", args.tls_port)):
        if not 0 < port < 65536:
            raise UsageError(f"{opt} {port}: not a TCP port")
    records = [r for r in inventory.records() if r.active]
    sites = sorted({r.site for r in records})
    plugin = _plugin(args) if args.dynsec else None
    bridge = _bridge(args, sites) if args.bridge_to else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    install = Path(args.install_dir) if args.install_dir else out.resolve()

    logins: list[tuple[str, str, list[str]]] = [
        (r.mqtt_username, r.mqtt_password_hash, device_acl(r.ref, r.mqtt_username))
        for r in records
    ]
    operators = [operator_username(s) for s in sites]
    for site, user in zip(sites, operators, strict=True):
        logins.append((user, _operator_hash(inventory, site, user), operator_acl(site, user)))
    logins.sort(key=lambda x: x[0])

    files: list[str] = []
    conf = [
        "# Generated by `venue broker-config` from the provisioning inventory; regenerate it",
        "# after provisioning or revoking a device, then reload the broker (SIGHUP).",
        "per_listener_settings false",
        "allow_anonymous false",
    ]
    if plugin:
        admin_user = "dynsec-admin"
        admin_hash = _secret_hash(inventory, "broker", "dynsec_admin_password", admin_user)
        dyn = render_dynsec(logins, admin=(admin_user, admin_hash))
        write_text(out / "dynamic-security.json", json.dumps(dyn, indent=2) + "\n", mode=0o640)
        files.append("dynamic-security.json")
        conf += [f"plugin {plugin}",
                 f"plugin_opt_config_file {install / 'dynamic-security.json'}"]
    else:
        write_text(out / "passwd", "".join(f"{u}:{h}\n" for u, h, _ in logins), mode=0o640)
        acl = ["# Generated by `venue broker-config`; edit the inventory, not this file.", ""]
        for _, _, lines in logins:
            acl += [*lines, ""]
        write_text(out / "acl", "\n".join(acl), mode=0o640)
        files += ["passwd", "acl"]
        conf += [f"password_file {install / 'passwd'}", f"acl_file {install / 'acl'}"]
    (out / "data").mkdir(exist_ok=True)
    conf += [
        "# Events wait here while the hub (or the bridge's uplink) is away: on disk, and far",
        "# more than Mosquitto's default of 1000 per client, which silently drops the rest.",
        "persistence true",
        f"persistence_location {install / 'data'}/",
        "autosave_interval 60",
        f"max_queued_messages {MAX_QUEUED}",
        "max_queued_bytes 0",
        "max_inflight_messages 1000",
        "",
        f"listener {args.port}{' ' + args.bind if args.bind else ''}",
    ]
    if args.tls:
        files += _tls_files(inventory, out, args.hub, records)
        crl = install / "crl.pem" if (out / "crl.pem").exists() else None
        conf += ["", render_tls_listener(
            args.tls_port, str(install / "ca.crt"), str(install / "server.crt"),
            str(install / "server.key"), bind=args.bind,
            crlfile=str(crl) if crl else None).rstrip()]
    if bridge:
        conf += ["", "# Uplink to the central broker (issue 12): this site's events, status and",
                 "# results go out, its commands come back; queued here while the link is down.",
                 render_bridge(bridge).rstrip()]
    # the bridge's password is in the file: readable by the broker's group only
    write_text(out / "mosquitto.conf", "\n".join(conf) + "\n", mode=0o640)
    files.insert(0, "mosquitto.conf")
    return Written(out, files, len(logins), operators)


def _plugin(args: argparse.Namespace) -> str:
    if args.plugin:
        if not Path(args.plugin).is_file():
            raise UsageError(f"--plugin {args.plugin}: no such file")
        return str(args.plugin)
    found = find_dynsec_plugin()
    if found is None:
        raise UsageError(
            "--dynsec: this machine's Mosquitto has no dynamic-security plugin "
            "(mosquitto_dynamic_security.so, Mosquitto 2.0 or later); install it, pass "
            "--plugin PATH for the broker machine, or leave out --dynsec for passwd/acl files"
        )
    return found


def _bridge(args: argparse.Namespace, sites: list[str]) -> Bridge:
    try:
        host, port, tls = parse_url(args.bridge_to)
    except Exception as exc:  # ConfigError names mqtt.url; say which option it was
        raise UsageError(f"--bridge-to: {exc}".replace("mqtt.url: ", "")) from None
    if not args.bridge_user or not args.bridge_password_file:
        raise UsageError("--bridge-to needs --bridge-user and --bridge-password-file")
    try:
        password = Path(args.bridge_password_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"--bridge-password-file: {exc.strerror}") from None
    if not password or any(c.isspace() for c in password):
        raise UsageError("--bridge-password-file: empty, or holds whitespace")
    site = args.site or (sites[0] if len(sites) == 1 else None)
    if site is None:
        raise UsageError(f"--site: the inventory holds sites {', '.join(sites) or 'none'}; "
                         "name the one to bridge")
    if args.bridge_ca and not Path(args.bridge_ca).is_file():
        raise UsageError(f"--bridge-ca {args.bridge_ca}: no such file")
    cafile = str(Path(args.bridge_ca).resolve()) if args.bridge_ca else None
    return Bridge(site, host, port, tls, args.bridge_user, password, cafile)


def _operator_hash(inventory: Inventory, site: str, user: str) -> str:
    return _secret_hash(inventory, "operators", site, user)


def _secret_hash(inventory: Inventory, table: str, key: str, user: str) -> str:
    """The hash of a password kept in secrets.toml, made (and saved) the first time."""
    data = inventory.secrets()
    section = data.setdefault(table, {})
    password = section.get(key)
    if not isinstance(password, str) or not password:
        password = secrets.token_urlsafe(32)
        section[key] = password
        inventory.save_secrets(data)
    return make_password_hash(user, password)


def _tls_files(inventory: Inventory, out: Path, hub_id: str | None,
               records: list[DeviceRecord]) -> list[str]:
    ca = inventory.root / "ca" / "ca.crt"
    hubs = [r for r in records if r.role == "hub"
            and (inventory.device_dir(r.id) / "server.crt").exists()
            and (hub_id is None or r.id == hub_id)]
    if not ca.exists() or not hubs:
        which = f"hub {hub_id!r}" if hub_id else "a hub"
        raise UsageError(f"--tls: provision {which} with --tls first (venue provision --role hub "
                         "--tls --broker mqtts://HOST:8883), so the venue CA signs its "
                         "server certificate")
    if len(hubs) > 1:
        raise UsageError(f"--tls: several hubs have a server certificate "
                         f"({', '.join(h.id for h in hubs)}); pick one with --hub")
    hub = hubs[0]
    key = inventory.secrets().get("devices", {}).get(hub.id, {}).get("server_key_pem")
    if not key:
        raise ProvisionError(f"hub {hub.id}: its server key is not in {inventory.secrets_path}")
    write_text(out / "ca.crt", ca.read_text(encoding="utf-8"))
    write_text(out / "server.crt",
               (inventory.device_dir(hub.id) / "server.crt").read_text(encoding="utf-8"))
    write_text(out / "server.key", key, mode=0o640)  # root:mosquitto on the broker
    files = ["ca.crt", "server.crt", "server.key"]
    crl = inventory.root / "ca" / "crl.pem"
    if crl.exists():
        write_text(out / "crl.pem", crl.read_text(encoding="utf-8"))
        files.append("crl.pem")
    return files
