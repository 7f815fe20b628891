"""Redemptions/s (SQLite and PostgreSQL) and MQTT ingest events/s, each against a bare reference
measured in the same run.

Redemption: K tickets, each scanned twice from N client threads in random order (so every ticket
sees a race), through (a) the hub's service function ``redeem_once`` and (b) the real HTTP API
(``venue hub`` in its own process, httpx keep-alive clients here). The reference is a pretix-like
bare redemption in direct SQL (lock the ticket row, count its check-ins, insert one) on the same
database engine with the same threads. After each run exactly-once is verified in the database:
K admissions, K ``already_used``, every ticket used once.

Ingest: events queued at a real Mosquitto (started here) for the hub's persistent session while
it is away, 10% of them duplicates (same event id), then the hub's MQTT link + ingest drains
them: events/s from its connect until the last is committed and acknowledged. Reference: a bare
paho QoS 1 subscriber draining the same queue, doing nothing with the messages.

Targets (DESIGN.md): >= 1,000 redemptions/s exactly once; >= 5,000 ingest events/s.

    .venv/bin/python bench/bench_redeem.py [--tickets 2000] [--threads 8] [--events 20000]
        [--pg postgresql://postgres@127.0.0.1:5432/test] [--no-pg]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import paho.mqtt.client as paho
from _broker import BenchBroker, free_port
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select, text

from hub import issuing
from hub.db import Database
from hub.ingest import MqttIngest
from hub.models import Code, Redemption
from hub.redemption import RedemptionRequest, redeem_once
from hub.series import SeriesSpec, create_series
from hub.service import bootstrap
from venue.clock import SYSTEM_CLOCK
from venue.config import MqttSection
from venue.messages import Event
from venue.mqtt import MqttLink
from venue.topics import DeviceRef

ADMIN = "bench-admin-token"


# --- databases ----------------------------------------------------------------------------------


class PgDatabases:
    """Fresh PostgreSQL databases for one run, dropped at the end."""

    def __init__(self, admin_url: str) -> None:
        import psycopg

        self.admin_url = admin_url
        self.names: list[str] = []
        self._psycopg = psycopg

    def new(self) -> str:
        name = f"venue_bench_{uuid.uuid4().hex[:8]}"
        with self._psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        return f"{self.admin_url.rsplit('/', 1)[0]}/{name}"

    def drop_all(self) -> None:
        with self._psycopg.connect(self.admin_url, autocommit=True) as conn:
            for name in self.names:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = %s", (name,))
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def prepare(url: str, tickets: int) -> tuple[Database, list[str]]:
    db = Database.connect(url)
    bootstrap(db, clock=SYSTEM_CLOCK, admin_token=ADMIN)
    with db.write() as s:
        series = create_series(s, SeriesSpec(name="Bench", issue_limit=tickets),
                               now=SYSTEM_CLOCK.now())
        issued = issuing.issue(s, series.id, count=tickets, now=SYSTEM_CLOCK.now())
    return db, [c.code for c in issued]


def scans(codes: list[str]) -> list[str]:
    """Every ticket twice, shuffled: each ticket is raced by two scans."""
    work = codes * 2
    random.Random(7).shuffle(work)
    return work


def run_threads(work: list[Any], threads: int, fn: Callable[[Any], str],
                setup: Callable[[], Any] | None = None) -> tuple[float, Counter[str]]:
    """Run ``fn`` over ``work`` from ``threads`` threads; (seconds, outcome counts)."""
    results: Counter[str] = Counter()
    lock = threading.Lock()
    it = iter(work)
    barrier = threading.Barrier(threads + 1)

    def worker() -> None:
        local: Counter[str] = Counter()
        ctx = setup() if setup else None
        barrier.wait()
        while True:
            with lock:
                item = next(it, None)
            if item is None:
                break
            local[fn((ctx, item))] += 1
        with lock:
            results.update(local)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    return time.perf_counter() - t0, results


def verify(db: Database, tickets: int, outcome: Counter[str]) -> str:
    with db.read() as s:
        admitted = s.scalar(select(func.count()).select_from(Redemption)
                            .where(Redemption.result == "admit"))
        used = s.scalar(select(func.count()).select_from(Code).where(Code.entries_used == 1))
        over = s.scalar(select(func.count()).select_from(Code).where(Code.entries_used > 1))
    ok = (outcome == Counter({"admit": tickets, "already_used": tickets}) and admitted == tickets
          and used == tickets and over == 0)
    return "exactly once: OK" if ok else f"EXACTLY-ONCE VIOLATED {dict(outcome)} {admitted=}"


def bench_service(url: str, tickets: int, threads: int) -> tuple[float, str]:
    db, codes = prepare(url, tickets)

    def one(arg: Any) -> str:
        _, code = arg
        a = redeem_once(db, RedemptionRequest(code=code, gate="g1", direction="in",
                                              nonce=str(uuid.uuid4()), device="g1"),
                        clock=SYSTEM_CLOCK)
        return "admit" if a.result == "admit" else str(a.reason)

    secs, outcome = run_threads(scans(codes), threads, one)
    check = verify(db, tickets, outcome)
    db.dispose()
    return 2 * tickets / secs, check


def bench_http(url: str, tickets: int, threads: int, tmp: Path) -> tuple[float, str, float]:
    """Redemptions/s over HTTP, and the same client's rate on ``/health`` (the HTTP ceiling of
    this machine: uvicorn + FastAPI + client with no work behind them)."""
    db, codes = prepare(url, tickets)
    port = free_port()
    env = {**os.environ, "VENUE_DEVICE__DATA_DIR": str(tmp)}
    venue = shutil.which("venue", path=str(Path(sys.executable).parent)) or "venue"
    proc = subprocess.Popen(
        [venue, "hub", "--db", url, "--listen", f"127.0.0.1:{port}", "--no-mqtt",
         "--log-level", "WARNING"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("hub did not start") from None
                time.sleep(0.1)
        headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}

        # The stdlib client with keep-alive: the lightest Python client, so that the client
        # threads leave as much of the two cores as possible to the hub being measured.
        def client() -> http.client.HTTPConnection:
            return http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def one(arg: Any) -> str:
            conn, code = arg
            body = json.dumps({"code": code, "gate": "g1", "nonce": str(uuid.uuid4())})
            conn.request("POST", "/api/v1/redemptions", body, headers)
            r = conn.getresponse()
            data = r.read()
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}: {data[:200]!r}")
            answer = json.loads(data)
            return "admit" if answer["result"] == "admit" else str(answer["reason"])

        secs, outcome = run_threads(scans(codes), threads, one, setup=client)

        def health(arg: Any) -> str:
            conn, _ = arg
            conn.request("GET", "/health")
            r = conn.getresponse()
            r.read()
            return "ok" if r.status == 200 else str(r.status)

        ceiling_secs, _ = run_threads(list(range(2 * tickets)), threads, health, setup=client)
    finally:
        proc.terminate()
        proc.wait(10)
    check = verify(db, tickets, outcome)
    db.dispose()
    return 2 * tickets / secs, check, 2 * tickets / ceiling_secs


def bench_bare(url: str, tickets: int, threads: int) -> tuple[float, str]:
    """pretix-like redemption in plain SQL: lock the position, count check-ins, insert one."""
    db = Database.connect(url)
    pg = db.dialect == "postgresql"
    with db.engine.begin() as c:
        c.execute(text("CREATE TABLE pos (id INTEGER PRIMARY KEY, secret VARCHAR(200) UNIQUE)"))
        c.execute(text("CREATE TABLE checkin (id %s PRIMARY KEY, pos_id INTEGER, nonce "
                       "VARCHAR(64) UNIQUE, gate VARCHAR(64), at TIMESTAMP)"
                       % ("BIGSERIAL" if pg else "INTEGER")))
        c.execute(text("INSERT INTO pos (id, secret) VALUES (:i, :s)"),
                  [{"i": i, "s": f"SECRET{i}"} for i in range(tickets)])
    lock = " FOR UPDATE" if pg else ""

    def one(arg: Any) -> str:
        _, secret = arg
        with db.write() as s:
            pos = s.execute(text(f"SELECT id FROM pos WHERE secret = :s{lock}"),
                            {"s": secret}).scalar_one()
            used = s.execute(text("SELECT count(*) FROM checkin WHERE pos_id = :p"),
                             {"p": pos}).scalar_one()
            s.execute(text("INSERT INTO checkin (pos_id, nonce, gate, at) VALUES "
                           "(:p, :n, 'g1', CURRENT_TIMESTAMP)"),
                      {"p": pos, "n": str(uuid.uuid4())})
            return "already_used" if used else "admit"

    secs, outcome = run_threads(scans([f"SECRET{i}" for i in range(tickets)]), threads, one)
    ok = outcome == Counter({"admit": tickets, "already_used": tickets})
    db.dispose()
    return 2 * tickets / secs, "exactly once: OK" if ok else f"VIOLATED {dict(outcome)}"


# --- MQTT ingest ----------------------------------------------------------------------------------


def queued_events(n: int) -> list[tuple[str, bytes]]:
    """n messages, 10% of them repeats of earlier ones (same event id)."""
    ref = DeviceRef("bench", "gate", "g1")
    fresh = [Event.new("bench", "g1", "gate.scan",
                       {"nonce": str(uuid.uuid4()), "result": "reject", "reason": "invalid",
                        "direction": "in", "offline": False, "ticket": None, "latency_ms": 2.5},
                       when=SYSTEM_CLOCK.now()).encode() for _ in range(n - n // 10)]
    dups = random.Random(3).sample(fresh, n // 10)
    msgs = fresh + dups
    random.Random(5).shuffle(msgs)
    return [(ref.event("gate.scan"), m) for m in msgs]


def publish_all(port: int, msgs: list[tuple[str, bytes]]) -> None:
    c = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-gate")
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    infos = [c.publish(t, p, qos=1) for t, p in msgs]
    for info in infos:
        info.wait_for_publish(60)
    c.disconnect()
    c.loop_stop()


def park_session(port: int, client_id: str, topic_filter: str) -> None:
    """Create a persistent session with a subscription, then leave: the broker queues for it."""
    c = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                    clean_session=False)
    done = threading.Event()
    c.on_subscribe = lambda *a: done.set()
    c.connect("127.0.0.1", port)
    c.loop_start()
    c.subscribe(topic_filter, 1)
    done.wait(10)
    c.disconnect()
    c.loop_stop()


def bench_bare_drain(port: int, msgs: list[tuple[str, bytes]]) -> float:
    park_session(port, "bare-sub", "venue/v1/+/+/+/event/#")
    publish_all(port, msgs)
    got = 0
    done = threading.Event()
    t0 = 0.0

    def on_message(*_: Any) -> None:
        nonlocal got
        got += 1
        if got == len(msgs):
            done.set()

    c = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bare-sub",
                    clean_session=False)
    c.on_message = on_message
    t0 = time.perf_counter()
    c.connect("127.0.0.1", port)
    c.loop_start()
    done.wait(120)
    secs = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()
    return len(msgs) / secs


def bench_ingest(url: str, port: int, msgs: list[tuple[str, bytes]]) -> tuple[float, str]:
    db = Database.connect(url)
    bootstrap(db, clock=SYSTEM_CLOCK)
    settings = MqttSection(url=f"mqtt://127.0.0.1:{port}")
    ref = DeviceRef("bench", "hub", f"hub{uuid.uuid4().hex[:6]}")
    first = MqttLink(ref, settings, manual_ack=True)
    ingest = MqttIngest(db, first)
    ingest.start()
    first.start()
    first.wait_subscribed(10)
    ingest.stop()
    first.stop()
    publish_all(port, msgs)
    link = MqttLink(ref, settings, manual_ack=True)
    ingest = MqttIngest(db, link)
    ingest.start()
    t0 = time.perf_counter()
    link.start()
    deadline = time.monotonic() + 300
    while ingest.totals.stored + ingest.totals.duplicates < len(msgs):
        if time.monotonic() > deadline:
            break
        time.sleep(0.005)
    secs = time.perf_counter() - t0
    ingest.stop()
    link.stop()
    unique = len({p for _, p in msgs})
    t = ingest.totals
    ok = (t.stored, t.duplicates) == (unique, len(msgs) - unique)
    db.dispose()
    return len(msgs) / secs, (f"stored {t.stored} once, {t.duplicates} duplicates dropped"
                              + ("" if ok else " MISMATCH"))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tickets", type=int, default=2000, help="tickets; each is scanned twice")
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--events", type=int, default=20000)
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--no-pg", action="store_true")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="venue-bench-redeem-"))
    pgs = None if args.no_pg else PgDatabases(args.pg)
    backends: list[tuple[str, Callable[[], str]]] = [
        ("sqlite", lambda: f"sqlite:///{tmp / f'{uuid.uuid4().hex}.sqlite3'}")]
    if pgs is not None:
        backends.append(("postgresql", lambda: pgs.new().replace("postgresql://",
                                                                 "postgresql+psycopg://")))
    print(f"redemptions: {args.tickets} tickets x 2 scans, {args.threads} client threads, "
          f"{os.cpu_count()} cores")
    try:
        for name, new_url in backends:
            bare, bare_ok = bench_bare(new_url(), args.tickets, args.threads)
            svc, svc_ok = bench_service(new_url(), args.tickets, args.threads)
            web, web_ok, ceiling = bench_http(new_url(), args.tickets, args.threads, tmp)
            print(f"  {name:10s} bare SQL reference  {bare:8.0f}/s  ({bare_ok})")
            print(f"  {name:10s} service function    {svc:8.0f}/s  ({svc_ok})  "
                  f"= {svc / bare:.2f} x bare")
            print(f"  {name:10s} HTTP API            {web:8.0f}/s  ({web_ok})  "
                  f"= {web / bare:.2f} x bare, target 1000/s: "
                  f"{'met' if web >= 1000 else 'NOT met'}")
            print(f"  {name:10s} HTTP ceiling (GET /health, same client and server) "
                  f"{ceiling:8.0f}/s; redemption over HTTP = {web / ceiling:.2f} x ceiling")
        msgs = queued_events(args.events)
        conf = "allow_anonymous true\nmax_queued_messages 1000000\nmax_inflight_messages 1000\n"
        with BenchBroker(conf) as broker:
            bare_rate = bench_bare_drain(broker.port, msgs)
        print(f"ingest: {len(msgs)} queued events, 10% duplicates")
        print(f"  bare paho subscriber drain   {bare_rate:8.0f}/s")
        for name, new_url in backends:
            with BenchBroker(conf) as broker:
                rate, note = bench_ingest(new_url(), broker.port, msgs)
            print(f"  {name:10s} hub ingest      {rate:8.0f}/s  ({note})  = "
                  f"{rate / bare_rate:.2f} x bare, target 5000/s: "
                  f"{'met' if rate >= 5000 else 'NOT met'}")
    finally:
        if pgs is not None:
            pgs.drop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
