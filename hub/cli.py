"""``venue hub``: serve the hub, or ``venue hub token create`` / ``venue hub migrate``."""

from __future__ import annotations

import argparse
import logging
import os
import sys

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
    subs = parser.add_subparsers(dest="hub_command", metavar="{token,migrate}")
    token = subs.add_parser("token", help="manage API tokens")
    token_subs = token.add_subparsers(dest="token_command", metavar="{create}")
    create = token_subs.add_parser("create", help="print a new API token")
    create.add_argument("--role", required=True,
                        choices=["admin", "validator", "register", "kiosk", "gate", "beacon"])
    create.add_argument("--device", required=True, help="the device id the token belongs to")
    create.add_argument("--allow-serial-entry", action="store_true",
                        help="let this gate accept short serials typed by hand")
    _db_option(create, argparse.SUPPRESS)
    mig = subs.add_parser("migrate", help="apply database migrations and exit")
    _db_option(mig, argparse.SUPPRESS)


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
        if command == "migrate":
            bootstrap(db, clock=SYSTEM_CLOCK, admin_token=config.hub.admin_token)
            print("database is at the current schema")
            return 0
        if command == "token":
            if getattr(args, "token_command", None) != "create":
                print("usage: venue hub token create --role ROLE --device ID", file=sys.stderr)
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
