"""``venue gate``: run the gate daemon, and technician tools ``decode`` and ``test-io``.

* ``venue gate --config gate.toml`` runs the daemon until SIGTERM/SIGINT.
* ``venue gate decode IMAGE...`` prints ``FILE<TAB>PAYLOAD`` for every code found (one line per
  code, nothing for an image without codes) with the daemon's ``[decoder]`` settings.
* ``venue gate test-io`` pulses each configured output and shows the inputs, for wiring checks.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from typing import Any

from gate.config import GateConfig
from venue.config import load_config

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="gate_command", metavar="TOOL")
    dec = sub.add_parser(
        "decode",
        help="print FILE<TAB>PAYLOAD for every code in images",
        description="Decode images with the gate's decoder settings: one FILE<TAB>PAYLOAD line "
        "per code found; nothing for an image without codes.",
    )
    dec.add_argument("images", nargs="+", metavar="IMAGE")
    dec.add_argument("--config", dest="sub_config", metavar="FILE", help="gate config file")
    io = sub.add_parser(
        "test-io",
        help="pulse each output and show inputs, for wiring checks",
        description="Pulse the relay, lights and buzzer one after the other, then show the "
        "rotation sensor's state for a few seconds.",
    )
    io.add_argument("--config", dest="sub_config", metavar="FILE", help="gate config file")
    io.add_argument(
        "--watch",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long to show input changes (default 5)",
    )


def _config(args: argparse.Namespace) -> GateConfig:
    path = getattr(args, "sub_config", None) or getattr(args, "config", None)
    overrides = {"log.level": args.log_level} if getattr(args, "log_level", None) else None
    return load_config(GateConfig, path, overrides=overrides)


def _setup_logging(cfg: GateConfig) -> None:
    from venue.runtime import setup_logging

    setup_logging(cfg.log.level, cfg.log.format)


def run(args: argparse.Namespace) -> int:
    cfg = _config(args)
    _setup_logging(cfg)
    tool = getattr(args, "gate_command", None)
    if tool == "decode":
        return decode_images(cfg, args.images)
    if tool == "test-io":
        return test_io(cfg, watch_s=args.watch)
    return run_daemon(cfg, getattr(args, "config", None))


def decode_images(cfg: GateConfig, images: list[str], out: Any = None) -> int:
    """Print ``FILE<TAB>PAYLOAD`` per code; exit 1 if an image could not be read."""
    from venue.decoder import Decoder, DecoderError

    out = out or sys.stdout
    decoder = Decoder.from_config(cfg.decoder)
    status = EXIT_OK
    for image in images:
        try:
            found = decoder.decode_file(image)
        except DecoderError as exc:
            print(f"venue gate decode: {exc}", file=sys.stderr)
            status = EXIT_FAILURE
            continue
        for f in found:
            print(f"{image}\t{f.text}", file=out)
    return status


def test_io(cfg: GateConfig, *, watch_s: float = 5.0, pin_factory: Any = None) -> int:
    """Pulse each output for half a second, then print rotation sensor changes."""
    from gate.actuator import Turnstile

    t = Turnstile(cfg.io, pin_factory=pin_factory)
    try:
        for name, dev in t.outputs().items():
            print(f"{name}: on (pin {dev.pin})", flush=True)
            dev.on()
            time.sleep(0.5)
            dev.off()
            print(f"{name}: off", flush=True)
        if t.rotation is None:
            print("rotation: not configured")
            return EXIT_OK
        print(
            f"rotation (pin {t.rotation.pin}): {'active' if t.rotation.is_active else 'inactive'}"
        )
        t.rotation.when_activated = lambda: print("rotation: active", flush=True)
        t.rotation.when_deactivated = lambda: print("rotation: inactive", flush=True)
        time.sleep(watch_s)
    finally:
        t.close()
    return EXIT_OK


def run_daemon(cfg: GateConfig, config_path: str | None) -> int:
    """Run the gate until SIGTERM/SIGINT, under systemd's watchdog when systemd started us.

    The decision loop runs on its own thread; the main thread is :class:`venue.runtime.Service`,
    which says READY to systemd and pings the watchdog only while the loop is healthy.
    """
    from gate.daemon import GateDaemon
    from venue.runtime import Service

    daemon = GateDaemon(cfg, config_path=config_path)
    daemon.start()
    loop = threading.Thread(target=daemon.run, name="gate-decide", daemon=True)
    loop.start()
    daemon.decide_thread = loop
    logging.getLogger("venue.gate").info("gate %s running", cfg.device.id)
    try:
        return Service(f"venue gate {cfg.device.id}", healthy=daemon.healthy).run()
    finally:
        daemon.request_stop()
        loop.join(5)
        daemon.stop()
