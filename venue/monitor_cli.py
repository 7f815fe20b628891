"""``venue monitor``: every device of the venue, live in the terminal or once as JSON.

With no arguments it finds a running ``venue demo`` started from this folder: the demo writes its
broker URL and an operator login to ``var/demo/monitor.toml`` (an older demo only wrote
``var/demo/broker.url``); else the local broker on 1883.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from venue.clock import SYSTEM_CLOCK
from venue.config import BaseConfig, MqttSection, load_config
from venue.monitor import VenueView
from venue.mqtt import InboundMessage, MqttLink
from venue.topics import PREFIX

DEMO_BROKER_FILE = Path("var/demo/broker.url")
DEMO_MONITOR_FILE = Path("var/demo/monitor.toml")
"""The running demo's broker URL and operator login (its broker refuses anonymous clients)."""


def add_mqtt_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mqtt", metavar="URL", help="broker URL (default: the running demo's, "
                   "else the config's, else mqtt://127.0.0.1:1883)")
    p.add_argument("--site", default="+", help="only this site (default: every site)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_mqtt_arguments(p)
    p.add_argument("--once", action="store_true", help="print one snapshot and exit")
    p.add_argument("--json", action="store_true", help="with --once: print the snapshot as JSON")
    p.add_argument("--wait", type=float, default=2.0,
                   help="with --once: seconds to collect retained state first (default 2)")


def mqtt_settings(args: argparse.Namespace) -> MqttSection:
    """The broker to watch: --mqtt, else the demo's, else --config / environment."""
    config = getattr(args, "config", None)
    demo_login = not config and DEMO_MONITOR_FILE.exists()
    cfg = load_config(BaseConfig, DEMO_MONITOR_FILE if demo_login else config)
    if args.mqtt:
        return replace(cfg.mqtt, url=args.mqtt)
    if not config and not demo_login and DEMO_BROKER_FILE.exists():
        return replace(cfg.mqtt, url=DEMO_BROKER_FILE.read_text().strip())
    return cfg.mqtt


def observe(args: argparse.Namespace, view: VenueView, lock: threading.Lock) -> MqttLink:
    link = MqttLink.observer(mqtt_settings(args), client_id=f"monitor-{uuid.uuid4().hex[:8]}")

    def handle(msg: InboundMessage) -> None:
        with lock:
            view.apply(msg.topic, msg.payload, SYSTEM_CLOCK.now())

    link.subscribe(f"{PREFIX}/{args.site}/#", handle, qos=1)
    link.start()
    return link


def run(args: argparse.Namespace) -> int:
    view = VenueView()
    lock = threading.Lock()
    link = observe(args, view, lock)
    try:
        if not link.wait_connected(5.0):
            print(f"venue monitor: cannot reach the broker at {link.settings.url}",
                  file=sys.stderr)
            return 1
        if args.once:
            time.sleep(max(args.wait, 0.0))  # retained status arrives right after subscribe
            with lock:
                snap = view.snapshot(SYSTEM_CLOCK.now())
            if args.json:
                print(json.dumps(snap, indent=2))
            else:
                render_plain(snap)
            return 0
        return live(view, lock)
    finally:
        link.stop(timeout=1.0)


def render_plain(snap: dict[str, Any]) -> None:
    for line in table_rows(snap):
        print("  ".join(line))


def table_rows(snap: dict[str, Any]) -> list[list[str]]:
    rows = [["DEVICE", "STATE", "VERSION", "LAST SEEN", "DETAIL"]]
    for d in snap["devices"]:
        detail = ""
        if d["role"] == "gate":
            detail = (f"admit {d['admits']} reject {d['rejects']} "
                      f"offline {d['offline_decisions']} inside {d['occupancy']}")
        elif d["role"] == "beacon":
            detail = f"present {d['presence']}"
        depth = d["telemetry"].get("outbox_depth")
        if depth:
            detail += f" outbox {depth}"
        rows.append([f"{d['site']}/{d['role']}/{d['device']}", d["state"], d["version"],
                     (d["last_seen"] or "-")[11:19], detail.strip()])
    return rows


def live(view: VenueView, lock: threading.Lock) -> int:
    try:
        from rich.console import Group
        from rich.live import Live
        from rich.table import Table
    except ImportError:  # rich is in the [monitor] extra; plain text works without it
        while True:
            time.sleep(2.0)
            with lock:
                render_plain(view.snapshot(SYSTEM_CLOCK.now()))
            print()

    def render() -> Group:
        with lock:
            snap = view.snapshot(SYSTEM_CLOCK.now())
        table = Table(title=f"venue — {snap['online']} online, {snap['offline']} offline, "
                      f"{snap['occupancy']} inside")
        header, *rows = table_rows(snap)
        for h in header:
            table.add_column(h)
        for row in rows:
            style = "green" if row[1] == "online" else "red"
            table.add_row(*row, style=style)
        alerts = Table(title="alerts")
        alerts.add_column("time")
        alerts.add_column("kind")
        alerts.add_column("device")
        for a in snap["alerts"][-8:]:
            alerts.add_row(a["ts"][11:19], a["kind"], a["device"])
        return Group(table, alerts)

    with Live(render(), refresh_per_second=2, screen=False) as screen:
        while True:
            time.sleep(0.5)
            screen.update(render())
