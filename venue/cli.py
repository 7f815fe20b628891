"""The ``venue`` console script: one command, a subcommand per role and per tool.

Each subcommand lives in its own package as a module with ``add_arguments(parser)`` and
``run(args) -> int``; this module only knows their names, so ``venue --help`` never imports Kivy
or FastAPI, and a gate Pi without the hub's extras still runs ``venue gate``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from venue import __version__
from venue.errors import ConfigError, VenueError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


@dataclass(frozen=True)
class Subcommand:
    name: str
    module: str
    help: str
    description: str


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand(
        "hub", "hub.cli", "run the central hub (ledger, HTTP API, MQTT ingest)",
        "Run the hub: the ledger of tickets and loyalty, the HTTP API devices ask, and the MQTT "
        "ingest of their events.",
    ),
    Subcommand(
        "kiosk", "kiosk.cli", "run the touch kiosk (check-in, rewards, self-checkout)",
        "Run the kiosk app full screen: customers identify, collect and spend rewards, and build "
        "an order for the register.",
    ),
    Subcommand(
        "gate", "gate.cli", "run a ticket gate (scan, decide, open the turnstile)",
        "Run a gate: read codes from a camera or scanner, decide online or offline, record the "
        "decision, then open the turnstile.",
    ),
    Subcommand(
        "beacon", "beacon.cli", "run a BLE beacon scanner (presence of app users)",
        "Run a beacon scanner: notice the venue app's iBeacons and report enter/exit with dwell.",
    ),
    Subcommand(
        "monitor", "venue.monitor_cli", "watch every device of the venue over MQTT",
        "Watch every device's status, counters and alerts from the broker alone.",
    ),
    Subcommand(
        "cmd", "venue.cmd_cli", "send a command to a device and wait for its result",
        "Send a command (open, lock, unlock, free-passage, reload, ping) to a device.",
    ),
    Subcommand(
        "loadsim", "loadsim.cli", "simulate a chain's load on hub replicas (loopback, bounded)",
        "Start a broker, a fresh PostgreSQL database and hub replicas on this machine, drive them "
        "with simulated gates, kiosks and beacon scanners for a bounded time, and print "
        "throughput, latency, lost/doubled rows and CPU per component.",
    ),
    Subcommand(
        "demo", "venue.demo", "run the whole venue on this machine with simulated hardware",
        "Start a broker, the hub, and every role with simulated hardware, until Ctrl-C.",
    ),
    Subcommand(
        "provision", "firmware_config.cli",
        "make a device's identity, credentials and first-boot files",
        "Provision a device: identity, broker credentials, ACL, hub token, config and first-boot "
        "files for Raspberry Pi OS.",
    ),
    Subcommand(
        "flash", "firmware_config.flash_cli",
        "write an OS image to an SD card with first-boot files",
        "Write a Raspberry Pi OS image to an SD card or image file, verify it, and add the "
        "device's first-boot files to its boot partition.",
    ),
    Subcommand(
        "broker-config", "firmware_config.broker_cli",
        "write a venue's Mosquitto config (logins, ACL, TLS, dynsec, bridge)",
        "Write a ready Mosquitto configuration for the venue from the provisioning inventory: "
        "per-device logins and ACL (or the dynamic-security plugin), operators' logins, TLS with "
        "the venue CA, and a bridge to a central broker.",
    ),
)


def _load(sub: Subcommand) -> object | None:
    try:
        return importlib.import_module(sub.module)
    except ModuleNotFoundError as exc:
        # Only "this subcommand's module is absent" means not available; a missing dependency of
        # an existing module is an install problem and must say so.
        if exc.name and sub.module.startswith(exc.name):
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="venue",
        description="Self-service venue devices on Raspberry Pi and their central hub.",
    )
    parser.add_argument("--version", action="version", version=f"venue {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="TOML config file for this role")
    common.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="override the config's log level",
    )
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")
    for sub in SUBCOMMANDS:
        p = subs.add_parser(
            sub.name, help=sub.help, description=sub.description, parents=[common]
        )
        p.set_defaults(_sub=sub)
        module = _load(sub)
        if module is None:
            p.set_defaults(_missing=True)
            continue
        add = getattr(module, "add_arguments", None)
        if add is not None:
            add(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    sub: Subcommand = args._sub
    if getattr(args, "_missing", False):
        print(f"venue {sub.name}: not yet available in this version", file=sys.stderr)
        return EXIT_USAGE
    module = importlib.import_module(sub.module)
    try:
        return int(module.run(args) or 0)
    except ConfigError as exc:
        print(f"venue {sub.name}: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK
    except VenueError as exc:
        logging.getLogger("venue").debug("failed", exc_info=True)
        print(f"venue {sub.name}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
