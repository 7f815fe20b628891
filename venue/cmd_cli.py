"""``venue cmd DEVICE NAME [KEY=VALUE...]``: command a device and wait for its answer.

The device is found by its id from the broker's retained status (so the operator need not know
its site or role), the command carries an id and who sent it, and the answer is the device's
``cmd_result`` with that id — or a clear timeout.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import threading
import time
import tomllib
import uuid
from typing import Any

from venue.clock import SYSTEM_CLOCK
from venue.errors import PayloadError
from venue.messages import Command, CommandResult, rfc3339
from venue.monitor_cli import add_mqtt_arguments, mqtt_settings
from venue.mqtt import InboundMessage, MqttLink
from venue.topics import PREFIX, DeviceRef, parse_topic

COMMANDS = ("open", "lock", "unlock", "free-passage", "reload", "ping", "refresh-replica")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_mqtt_arguments(p)
    p.add_argument("device", help="device id (e.g. gate-1), or SITE/ROLE/DEVICE")
    p.add_argument("name", help=f"command: {', '.join(COMMANDS)}, or any the device knows")
    p.add_argument("args", nargs="*", metavar="KEY=VALUE", help="command arguments")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    p.add_argument("--by", default=None, help="who is asking (default: your login name)")


def parse_args_kv(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"argument {pair!r} is not KEY=VALUE")
        try:
            out[key] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = raw
    return out


def find_device(link: MqttLink, spec: str, site: str, timeout: float) -> DeviceRef | None:
    """Resolve ``spec`` to a device from retained status messages."""
    if spec.count("/") == 2:
        s, role, dev = spec.split("/")
        return DeviceRef(s, role, dev)
    found: list[DeviceRef] = []
    seen = threading.Event()

    def handle(msg: InboundMessage) -> None:
        try:
            ref = parse_topic(msg.topic).ref
        except PayloadError:
            return
        found.append(ref)
        seen.set()

    link.subscribe(f"{PREFIX}/{site}/+/{spec}/status", handle, qos=1)
    seen.wait(timeout)
    time.sleep(0.2)  # a second site with the same id would answer now too
    unique = sorted(set(found), key=lambda r: r.root)
    if len(unique) > 1:
        names = ", ".join(f"{r.site}/{r.role}/{r.device}" for r in unique)
        raise ValueError(f"device id {spec!r} is ambiguous: {names}; use SITE/ROLE/DEVICE")
    return unique[0] if unique else None


def run(args: argparse.Namespace) -> int:
    try:
        cmd_args = parse_args_kv(args.args)
    except ValueError as exc:
        print(f"venue cmd: {exc}", file=sys.stderr)
        return 2
    link = MqttLink.observer(mqtt_settings(args), client_id=f"cmd-{uuid.uuid4().hex[:8]}")
    link.start()
    try:
        if not link.wait_connected(5.0):
            print(f"venue cmd: cannot reach the broker at {link.settings.url}", file=sys.stderr)
            return 1
        try:
            ref = find_device(link, args.device, args.site, min(args.timeout, 3.0))
        except ValueError as exc:
            print(f"venue cmd: {exc}", file=sys.stderr)
            return 2
        if ref is None:
            print(f"venue cmd: no device {args.device!r} has ever reported to this broker",
                  file=sys.stderr)
            return 1
        cmd = Command(args.name, cmd_args, by=args.by or getpass.getuser(),
                      ts=rfc3339(SYSTEM_CLOCK.now()))
        answer: list[CommandResult] = []
        got = threading.Event()

        def on_result(msg: InboundMessage) -> None:
            try:
                res = CommandResult.decode(msg.payload)
            except PayloadError:
                return
            if res.id == cmd.id:
                answer.append(res)
                got.set()

        link.subscribe(ref.cmd_result(), on_result, qos=1)
        time.sleep(0.2)  # let the subscription settle before the device can answer
        link.publish(ref.cmd(args.name), cmd.encode(), qos=1)
        if not got.wait(args.timeout):
            print(f"venue cmd: {ref.device} did not answer {args.name!r} within "
                  f"{args.timeout:g} s (is it online?)", file=sys.stderr)
            return 1
        res = answer[0]
        print(json.dumps({"device": ref.device, "command": args.name, "ok": res.ok,
                          "error": res.error, "data": res.data}))
        return 0 if res.ok else 1
    finally:
        link.stop(timeout=1.0)
