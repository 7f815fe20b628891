"""``venue hub``: serve the hub, or ``venue hub token create`` / ``venue hub migrate``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from hub.config import HubConfig
from venue.config import load_config

log = logging.getLogger("venue.hub")


def _db_option(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument("--db", metavar="URL", default=default,
                        help="database URL (default: SQLite in the data directory; "
                             "postgresql://... for PostgreSQL)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _db_option(parser)
    parser.add_argument("--listen", metavar="HOST:PORT", help="HTTP address (127.0.0.1:8080)")
    parser.add_argument("--mqtt", metavar="URL", help="broker URL for the ingest")
    parser.add_argument("--no-mqtt", action="store_true", help="run without the MQTT ingest")
    parser.add_argument("--admin-token", metavar="TOKEN",
                        help="make this an admin token on start (also VENUE_ADMIN_TOKEN)")
    subs = parser.add_subparsers(dest="hub_command", metavar="{token,migrate,run-triggers}")
    token = subs.add_parser("token", help="manage API tokens")
    token_subs = token.add_subparsers(dest="token_command", metavar="{create,import,revoke}")
    create = token_subs.add_parser("create", help="print a new API token")
    create.add_argument("--role", required=True,
                        choices=["admin", "validator", "register", "kiosk", "gate", "beacon"])
    create.add_argument("--device", required=True, help="the device id the token belongs to")
    create.add_argument("--allow-serial-entry", action="store_true",
                        help="let this gate accept short serials typed by hand")
    _db_option(create, argparse.SUPPRESS)
    imp = token_subs.add_parser("import", help="import the hub-tokens.json of a provisioning "
                                "inventory (hashes only)")
    imp.add_argument("file", help="the inventory's hub-tokens.json")
    imp.add_argument("--prune", action="store_true",
                     help="revoke device tokens the file no longer lists (revoked devices)")
    _db_option(imp, argparse.SUPPRESS)
    rev = token_subs.add_parser("revoke", help="revoke every token of a device")
    rev.add_argument("--device", required=True)
    _db_option(rev, argparse.SUPPRESS)
    mig = subs.add_parser("migrate", help="apply database migrations and exit")
    _db_option(mig, argparse.SUPPRESS)
    trig = subs.add_parser("run-triggers", help="run the wallet's birthday, welcome and "
                           "win-back job once (for cron; each thing is done once per period)")
    _db_option(trig, argparse.SUPPRESS)


def _config(args: argparse.Namespace) -> HubConfig:
    admin = getattr(args, "admin_token", None) or os.environ.get("VENUE_ADMIN_TOKEN")
    overrides = {
        "hub.db": getattr(args, "db", None),
        "hub.listen": getattr(args, "listen", None),
        "hub.admin_token": admin,
        "mqtt.url": getattr(args, "mqtt", None),
        "log.level": getattr(args, "log_level", None),
    }
    if getattr(args, "no_mqtt", False):
        overrides["hub.mqtt"] = False
    return load_config(HubConfig, args.config, overrides=overrides)


def _token_admin(args: argparse.Namespace, db: Any, config: HubConfig) -> int:
    from hub.service import bootstrap
    from hub.token_import import import_tokens, read_entries, revoke_device
    from venue.clock import SYSTEM_CLOCK

    entries = read_entries(args.file) if args.token_command == "import" else []
    bootstrap(db, clock=SYSTEM_CLOCK, admin_token=config.hub.admin_token)
    if args.token_command == "import":
        with db.write() as s:
            res = import_tokens(s, entries, now=SYSTEM_CLOCK.now(), prune=args.prune)
        print(f"tokens: {res.added} added, {res.kept} already known, {res.revoked} revoked")
        return 0
    with db.write() as s:
        n = revoke_device(s, args.device, now=SYSTEM_CLOCK.now())
    print(f"revoked {n} token(s) of {args.device}")
    return 0 if n else 1


def run(args: argparse.Namespace) -> int:
    config = _config(args)
    logging.basicConfig(level=config.log.level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from hub.db import Database, default_url
    from hub.service import bootstrap
    from venue.clock import SYSTEM_CLOCK

    db = Database.connect(config.hub.db or default_url(config.device.data_dir))
    try:
        command = getattr(args, "hub_command", None)
        if command == "run-triggers":
            import json

            from hub.notify.queue import Channels, configure
            from hub.wallet.triggers import run_triggers

            bootstrap(db, clock=SYSTEM_CLOCK, admin_token=config.hub.admin_token)
            configure(db, Channels.from_config(config.notify))  # the hub's sender delivers
            report = run_triggers(db, now=SYSTEM_CLOCK.now(), tz=config.wallet.timezone)
            print(json.dumps(report.to_dict()))
            return 0
        if command == "migrate":
            bootstrap(db, clock=SYSTEM_CLOCK, admin_token=config.hub.admin_token)
            print("database is at the current schema")
            return 0
        if command == "token":
            sub = getattr(args, "token_command", None)
            if sub in ("import", "revoke"):
                return _token_admin(args, db, config)
            if sub != "create":
                print("usage: venue hub token create|import|revoke ...", file=sys.stderr)
                return 2
            from hub.auth import create_token

            bootstrap(db, clock=SYSTEM_CLOCK, admin_token=config.hub.admin_token)
            with db.write() as s:
                token = create_token(s, role=args.role, device=args.device,
                                     now=SYSTEM_CLOCK.now(),
                                     allow_serial_entry=args.allow_serial_entry)
            print(token)
            return 0
        from hub.service import serve

        return serve(config, db, clock=SYSTEM_CLOCK)
    finally:
        db.dispose()
