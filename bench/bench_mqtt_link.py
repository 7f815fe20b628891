"""Events/s through MqttLink + durable SQLite outbox, against a bare paho QoS 1 loop, same run.

Both sides publish the same number of event envelopes of the same size to their own Mosquitto
(started here on a free port) and are timed from the first publish until a QoS 1 subscriber has
received the last message. The bare loop gets its payloads pre-encoded (it does the least work
possible); the link builds each event (UUIDv7, timestamp, JSON) and writes it to the outbox with
an fsync before ``publish_event`` returns, so the ratio is the whole cost of durability.

Target (DESIGN.md / issue 3): link rate >= 0.5 x bare rate.

    .venv/bin/python bench/bench_mqtt_link.py [--events 20000] [--synchronous FULL|NORMAL]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _broker import BenchBroker

from venue.clock import SYSTEM_CLOCK
from venue.config import MqttSection
from venue.messages import Event
from venue.mqtt import MqttLink
from venue.outbox import Outbox
from venue.topics import DeviceRef

REF = DeviceRef("bench", "gate", "g1")
DATA = {"nonce": "0" * 36, "result": "admit", "reason": "ok", "direction": "in", "offline": False}


class Counter:
    """A QoS 1 subscriber that notes when the n-th message arrived."""

    def __init__(self, port: int, topic: str, expect: int) -> None:
        self.expect = expect
        self.count = 0
        self.done = threading.Event()
        self.last_at = 0.0
        self._ready = threading.Event()
        self.client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *a: c.subscribe(topic, 1)
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._ready.wait(10):
            raise RuntimeError("subscriber did not subscribe")

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        self.count += 1
        if self.count >= self.expect:
            self.last_at = time.perf_counter()
            self.done.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def bare(n: int, inflight: int) -> float:
    """Messages/s of a plain paho QoS 1 publish loop."""
    payloads = [
        Event.new(REF.site, REF.device, "gate.scan", DATA, when=SYSTEM_CLOCK.now()).encode()
        for _ in range(n)
    ]
    topic = REF.event("gate.scan")
    with BenchBroker() as broker:
        sub = Counter(broker.port, topic, n)
        pub = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bare")
        pub.max_inflight_messages_set(inflight)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        t0 = time.perf_counter()
        for p in payloads:
            pub.publish(topic, p, qos=1)
        if not sub.done.wait(120):
            raise RuntimeError(f"bare: only {sub.count} of {n} arrived")
        elapsed = sub.last_at - t0
        pub.disconnect()
        pub.loop_stop()
        sub.close()
    return n / elapsed


def link(n: int, inflight: int, synchronous: str) -> tuple[float, float]:
    """Events/s through MqttLink.publish_event with a file outbox; also puts/s of the caller."""
    topic = REF.event("gate.scan")
    with BenchBroker() as broker, tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        sub = Counter(broker.port, topic, n)
        outbox = Outbox(Path(tmp) / "outbox.db", synchronous=synchronous)  # type: ignore[arg-type]
        lk = MqttLink(REF, MqttSection(url=broker.url), outbox=outbox, max_inflight=inflight)
        lk.start()
        if not lk.wait_connected(10):
            raise RuntimeError("link did not connect")
        t0 = time.perf_counter()
        for _ in range(n):
            lk.publish_event("gate.scan", DATA)
        put_done = time.perf_counter()
        if not sub.done.wait(120):
            raise RuntimeError(f"link: only {sub.count} of {n} arrived")
        elapsed = sub.last_at - t0
        if not lk.wait_drained(30):
            raise RuntimeError("link: outbox did not drain")
        lk.stop()
        outbox.close()
        sub.close()
    return n / elapsed, n / (put_done - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--inflight", type=int, default=100, help="max in-flight QoS 1, both sides")
    ap.add_argument(
        "--full-events",
        type=int,
        default=5_000,
        help="events for the extra synchronous=FULL run (0 to skip); it is slower per event",
    )
    args = ap.parse_args(argv)
    n = args.events
    bare_rate = bare(n, args.inflight)
    link_rate, put_rate = link(n, args.inflight, "NORMAL")
    ratio = link_rate / bare_rate
    print(f"events: {n}, max in-flight QoS 1 (both): {args.inflight}")
    print(f"bare paho QoS1 loop                 : {bare_rate:8,.0f} msg/s")
    print(
        f"MqttLink + outbox (NORMAL, default) : {link_rate:8,.0f} events/s"
        f"  (publish_event returns at {put_rate:,.0f}/s)"
    )
    verdict = "met" if ratio >= 0.5 else "MISSED"
    print(f"ratio link/bare                     : {ratio:8.2f}  (target >= 0.50: {verdict})")
    if args.full_events:
        full_rate, _ = link(args.full_events, args.inflight, "FULL")
        print(
            f"MqttLink + outbox (FULL, {args.full_events} ev)   : {full_rate:8,.0f} events/s"
            f"  (ratio {full_rate / bare_rate:.2f}; fsync per put, survives power loss)"
        )
    return 0 if ratio >= 0.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
