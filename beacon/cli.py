"""``venue beacon``: run the presence daemon, and tools for technicians and app developers.

* ``venue beacon --config beacon.toml`` runs the daemon until SIGTERM/SIGINT.
* ``venue beacon listen [--record FILE] [--all]`` prints live iBeacon sightings (hashed address,
  uuid, major, minor, rssi, smoothed rssi, tx, distance) and can record them as JSON lines.
* ``venue beacon replay FILE`` runs the tracker over a recording in simulated time and prints each
  enter/exit as a JSON line, to tune thresholds on real data.
* ``venue beacon pair SECRET_HEX [--day YYYY-MM-DD]`` prints the rotating pair of an install.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import signal
import sys
import time
from datetime import date
from typing import IO, Any

from beacon.config import BeaconConfig
from beacon.filter import OneEuro, distance_m
from beacon.ibeacon import parse
from beacon.replay import replay
from beacon.scanner import backend_for
from beacon.simulate import Sighting, read_recording
from venue.beacon_ids import beacon_pair, utc_day
from venue.clock import SYSTEM_CLOCK
from venue.config import load_config
from venue.runtime import setup_logging

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
LISTEN_MAX_PHONES = 2000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="beacon_command", metavar="TOOL")
    listen = sub.add_parser(
        "listen",
        help="print live iBeacon sightings (technicians)",
        description="Print every iBeacon heard: time, hashed address, uuid, major, minor, rssi, "
        "smoothed rssi, tx power and distance. Uses the config's backend and adapter.",
    )
    listen.add_argument("--config", dest="sub_config", metavar="FILE", help="beacon config file")
    listen.add_argument("--record", metavar="FILE", help="append sightings as JSON lines")
    listen.add_argument("--all", action="store_true", help="all iBeacons, not only the app's")
    listen.add_argument("--duration", type=float, default=0.0, help="stop after SECONDS (0: ^C)")
    rep = sub.add_parser(
        "replay",
        help="run the tracker over a recording and print enter/exit as JSON lines",
        description="Replay a `listen --record` file through the presence tracker in simulated "
        "time (no sleeping), with the config's thresholds.",
    )
    rep.add_argument("file", metavar="FILE")
    rep.add_argument("--config", dest="sub_config", metavar="FILE", help="beacon config file")
    rep.add_argument("--all", action="store_true", help="all iBeacons, not only the app's")
    pair = sub.add_parser(
        "pair",
        help="print an install's rotating (major, minor) for a day",
        description="The (major, minor) an app install with SECRET advertises on a UTC day.",
    )
    pair.add_argument("secret", metavar="SECRET_HEX")
    pair.add_argument("--day", type=date.fromisoformat, help="UTC date (default: today)")


def _config(args: argparse.Namespace) -> BeaconConfig:
    path = getattr(args, "sub_config", None) or getattr(args, "config", None)
    overrides = {"log.level": args.log_level} if getattr(args, "log_level", None) else None
    return load_config(BeaconConfig, path, overrides=overrides)


def _setup_logging(cfg: BeaconConfig) -> None:
    setup_logging(cfg.log.level, cfg.log.format)


def run(args: argparse.Namespace) -> int:
    cmd = getattr(args, "beacon_command", None)
    if cmd == "pair":
        return _pair(args)
    cfg = _config(args)
    _setup_logging(cfg)
    if cmd == "listen":
        return _listen(cfg, args)
    if cmd == "replay":
        return _replay(cfg, args)
    return _daemon(cfg)


def _daemon(cfg: BeaconConfig) -> int:
    from beacon.daemon import BeaconDaemon

    daemon = BeaconDaemon(cfg)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = loop.create_task(daemon.run())
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: daemon.stop(timeout=0))
        await task

    asyncio.run(main())
    return EXIT_OK


def _pair(args: argparse.Namespace) -> int:
    try:
        secret = bytes.fromhex(args.secret)
        day = args.day or utc_day(SYSTEM_CLOCK.now())
        major, minor = beacon_pair(secret, day)
    except ValueError as exc:
        print(f"venue beacon pair: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps({"day": day.isoformat(), "major": major, "minor": minor}))
    return EXIT_OK


def _replay(cfg: BeaconConfig, args: argparse.Namespace) -> int:
    uuids = None if args.all else cfg.beacon.app_uuids
    try:
        for event in replay(
            read_recording(args.file),
            cfg.beacon.tracker_params(),
            uuids,
            stall_s=cfg.beacon.watchdog_s,
        ):
            print(json.dumps(event, separators=(",", ":")), flush=True)
    except OSError as exc:
        print(f"venue beacon replay: {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


class Listener:
    """The ``listen`` tool's callback: prints (and records) each iBeacon, never the clear address.

    Addresses are shown as an HMAC with a key made for this run, so a technician can tell phones
    apart on screen while nothing written down links back to a device.
    """

    def __init__(
        self, cfg: BeaconConfig, out: IO[str], record: IO[str] | None, all_: bool
    ) -> None:
        self.cfg = cfg.beacon
        self.out = out
        self.record = record
        self.app = None if all_ else set(self.cfg.uuid_bytes())
        self._key = os.urandom(16)
        self._filters: dict[tuple[bytes, int, int], OneEuro] = {}
        self.clock = SYSTEM_CLOCK
        self.shown = 0
        self.on_closed: Any = None
        """Called once when the output went away (``listen | head``)."""

    def address_hash(self, address: Any) -> str:
        return hmac.new(self._key, str(address).encode(), hashlib.sha256).hexdigest()[:8]

    def __call__(self, device: Any, adv: Any) -> None:
        b = parse(getattr(adv, "manufacturer_data", None))
        rssi = getattr(adv, "rssi", None)
        if b is None or rssi.__class__ is not int:
            return
        if self.app is not None and b.uuid not in self.app:
            return
        t = self.clock.monotonic()
        key = (b.uuid, b.major, b.minor)
        f = self._filters.get(key)
        if f is None:
            if len(self._filters) >= LISTEN_MAX_PHONES:
                self._filters.clear()
            f = self._filters[key] = OneEuro(self.cfg.filter, rssi, t)
            smooth = float(rssi)
        else:
            smooth = f.update(rssi, t)
        dist = distance_m(smooth, b.tx_power, self.cfg.path_loss_exponent)
        stamp = time.strftime("%H:%M:%S")
        addr = self.address_hash(getattr(device, "address", ""))
        try:
            self.out.write(
                f"{stamp} {addr} {b.uuid_str} major={b.major:<5} minor={b.minor:<5} "
                f"rssi={rssi:<4} smoothed={smooth:6.1f} tx={b.tx_power:<4} {dist:5.1f} m\n"
            )
            self.out.flush()
        except (BrokenPipeError, ValueError):  # the reader went away: stop quietly
            if self.on_closed is not None:
                self.on_closed()
                self.on_closed = None
            return
        self.shown += 1
        if self.record is not None:
            s = Sighting(
                round(self.clock.now().timestamp(), 3), b.uuid_str, b.major, b.minor, rssi,
                b.tx_power,
            )
            self.record.write(s.to_json() + "\n")
            self.record.flush()


def _listen(cfg: BeaconConfig, args: argparse.Namespace) -> int:
    factory = backend_for(cfg)
    with contextlib.ExitStack() as stack:
        record = None
        if args.record:
            record = stack.enter_context(open(args.record, "a", encoding="utf-8"))
        listener = Listener(cfg, sys.stdout, record, args.all)

        async def main() -> None:
            backend = factory(
                listener, scanning_mode=cfg.beacon.scanning_mode, adapter=cfg.beacon.adapter
            )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            listener.on_closed = stop.set
            await backend.start()
            try:
                if args.duration > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), args.duration)
                else:
                    await stop.wait()
            finally:
                await backend.stop()

        asyncio.run(main())
    with contextlib.suppress(BrokenPipeError, ValueError):
        sys.stdout.flush()
    return EXIT_OK
