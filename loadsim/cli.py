"""``venue loadsim``: arguments, bounds, and the exit code (0 only with nothing lost or doubled)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from loadsim.procs import LoadsimError, require_loopback

MAX_DEVICES = 200


def _bounded(kind: type, low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}")
        return value  # type: ignore[no-any-return]

    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gates", type=_bounded(int, 0, MAX_DEVICES), default=60)
    p.add_argument("--scans-per-min", type=_bounded(float, 0.1, 600), default=30,
                   help="scans per gate a minute")
    p.add_argument("--duration", type=_bounded(float, 1, 3600), default=60,
                   help="seconds of load (the run adds setup and drain, and ends by itself)")
    p.add_argument("--kiosks", type=_bounded(int, 0, MAX_DEVICES), default=4)
    p.add_argument("--kiosk-per-min", type=_bounded(float, 0.1, 60), default=10,
                   help="check-ins (identify + visit) per kiosk a minute")
    p.add_argument("--beacons", type=_bounded(int, 0, MAX_DEVICES), default=4,
                   help="beacon scanners")
    p.add_argument("--beacon-visits-per-min", type=_bounded(float, 0.1, 600), default=12,
                   help="visits (enter + exit) each scanner reports a minute")
    p.add_argument("--phones", type=_bounded(int, 1, 10_000), default=100,
                   help="customers with the app (registered over the API first)")
    p.add_argument("--replicas", type=_bounded(int, 1, 8), default=2)
    p.add_argument("--kill-replica", action="store_true",
                   help="SIGKILL the last replica half-way, start it again after "
                        "--restart-after seconds")
    p.add_argument("--restart-after", type=_bounded(float, 0, 60), default=3.0)
    p.add_argument("--offline-share", type=_bounded(float, 0, 1), default=0.1,
                   help="share of scans a gate decides offline and uploads over MQTT")
    p.add_argument("--gate-budget-ms", type=_bounded(float, 0, 10_000), default=0,
                   help="gates decide locally (and upload) when the hub has not answered by "
                        "then, as `venue gate` does at 250; 0: wait for the hub")
    p.add_argument("--pg", metavar="URL", default="postgresql://postgres@127.0.0.1:5432/postgres",
                   help="PostgreSQL to create the run's database in (loopback only)")
    p.add_argument("--sqlite", action="store_true",
                   help="one hub on a SQLite file (a single venue) instead of PostgreSQL "
                        "replicas; needs --replicas 1")
    p.add_argument("--broker", metavar="URL", default="",
                   help="use this broker (loopback only) instead of starting one")
    p.add_argument("--deadline", type=_bounded(float, 10, 7200), default=0,
                   help="hard end of the whole run in seconds (default: duration + 240)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")


def run(args: argparse.Namespace) -> int:
    import logging

    from loadsim.report import as_json, text
    from loadsim.run import Plan, execute

    # A hundred simulated devices connecting and leaving would bury the figures in INFO lines.
    logging.getLogger("venue").setLevel(logging.WARNING)
    # ... and the links' stop at the end logs every device's normal disconnection as a warning.
    logging.getLogger("venue.mqtt").setLevel(logging.ERROR)

    try:
        if args.gates + args.kiosks + args.beacons > MAX_DEVICES:
            raise LoadsimError(
                f"at most {MAX_DEVICES} simulated devices in one run: each holds an MQTT "
                "connection, and paho's select() loop fails past 1024 open files (raise "
                "--scans-per-min instead of --gates)")
        require_loopback(args.pg, "PostgreSQL")
        if args.broker:
            require_loopback(args.broker, "the broker")
        plan = Plan(gates=int(args.gates), scans_per_min=args.scans_per_min,
                    duration_s=args.duration, kiosks=int(args.kiosks),
                    kiosk_per_min=args.kiosk_per_min, beacons=int(args.beacons),
                    beacon_visits_per_min=args.beacon_visits_per_min, phones=int(args.phones),
                    replicas=int(args.replicas), kill_replica=args.kill_replica,
                    restart_after_s=args.restart_after, offline_share=args.offline_share,
                    gate_budget_s=args.gate_budget_ms / 1000,
                    pg_admin=args.pg, broker=args.broker, deadline_s=args.deadline,
                    sqlite=args.sqlite)
        fig = execute(plan)
    except LoadsimError as exc:
        print(f"venue loadsim: {exc}", file=sys.stderr)
        return 2
    print(as_json(fig) if args.json else text(fig), flush=True)
    return 0 if fig["ok"] else 1
