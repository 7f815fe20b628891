"""Loyalty API latency and throughput over HTTP, on SQLite and PostgreSQL.

Starts the real hub (``venue hub`` in its own process, no MQTT, identification limits off) on a
fresh database, seeds a business over the API (10 points per visit, no cooldown, so every visit
is a real ledger write under the member's row lock) and registers ``--customers`` customers.
Then, from httpx keep-alive clients:

- latency: ``--requests`` sequential calls each of identify (by phone, national format) and
  credit-visit (a new idempotency key per call, random customer): p50/p95 in ms;
- throughput: the same calls from ``--threads`` threads, ``--requests`` per thread: calls/s.

Afterwards the ledger is audited: every credited visit is one ledger row, the materialised
points equal the ledger's sum for every customer.

    .venv/bin/python bench/bench_loyalty.py [--customers 200] [--requests 300] [--threads 8]
        [--pg postgresql://postgres@127.0.0.1:5432/test] [--no-pg]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import func, select

from hub.db import Database
from hub.loyalty.models import LedgerEntry, Member

ADMIN = "bench-admin-token"
ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_hub(db_url: str, data_dir: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    venue = str(Path(sys.executable).parent / "venue")
    env = {**os.environ, "VENUE_DEVICE__DATA_DIR": data_dir,
           "VENUE_HUB__IDENTIFY_PER_DEVICE_PER_MIN": "0",
           "VENUE_HUB__IDENTIFY_PER_PHONE_PER_MIN": "0"}
    log = open(Path(data_dir) / "hub.log", "wb")  # noqa: SIM115  (closed with the process)
    proc = subprocess.Popen([venue, "hub", "--db", db_url, "--listen", f"127.0.0.1:{port}",
                             "--no-mqtt", "--admin-token", ADMIN], env=env,
                            stdout=log, stderr=log)
    log.close()  # the child has its own copy
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"hub exited with {proc.returncode}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("hub did not start")


def phone_of(i: int) -> str:
    return f"067{1000000 + i:07d}"


def seed(c: httpx.Client, customers: int) -> tuple[int, dict[str, str], list[str]]:
    def ok(r: httpx.Response) -> dict[str, Any]:
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]

    b = int(ok(c.post("/api/v1/businesses", json={"name": "Bench cafe"}, headers=ADMIN_H))["id"])
    ok(c.put(f"/api/v1/businesses/{b}/rules", headers=ADMIN_H,
             json={"visit_points": 10, "visit_cooldown_s": 0}))
    tok = ok(c.post("/api/v1/tokens", json={"role": "kiosk", "device": "bench"},
                    headers=ADMIN_H))["token"]
    kiosk = {"Authorization": f"Bearer {tok}"}
    ids = [str(ok(c.post("/api/v1/customers", headers=kiosk,
                         json={"phone": phone_of(i), "consent": True, "businesses": [b]}))
               ["customer"]) for i in range(customers)]
    return b, kiosk, ids


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def run(label: str, db_url: str, args: argparse.Namespace) -> None:
    data = tempfile.mkdtemp(prefix="bench-loyalty-")
    proc, url = start_hub(db_url, data)
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            business, kiosk, ids = seed(c, args.customers)
        rng = random.Random(7)

        def identify(c: httpx.Client) -> None:
            i = rng.randrange(len(ids))
            r = c.post("/api/v1/kiosk/identify", headers=kiosk,
                       json={"phone": phone_of(i), "businesses": [business]})
            assert r.status_code == 200, r.text

        def visit(c: httpx.Client) -> None:
            r = c.post("/api/v1/visits", headers=kiosk,
                       json={"customer": rng.choice(ids), "business": business,
                             "idempotency_key": uuid.uuid4().hex})
            assert r.status_code == 200 and r.json()["credited"], r.text

        calls: dict[str, Callable[[httpx.Client], None]] = {"identify": identify,
                                                             "credit-visit": visit}
        print(f"{label}: {args.customers} customers")
        for name, fn in calls.items():
            with httpx.Client(base_url=url, timeout=30) as c:
                for _ in range(20):
                    fn(c)  # warm up
                lat = []
                for _ in range(args.requests):
                    t0 = time.perf_counter()
                    fn(c)
                    lat.append((time.perf_counter() - t0) * 1000)
            rate = throughput(url, fn, args.threads, args.requests)
            print(f"  {name:13s} p50 {statistics.median(lat):6.2f} ms  p95 {pct(lat, 0.95):6.2f} ms"
                  f"  | {args.threads} threads: {rate:7.0f}/s")
        audit(db_url, business, expected=20 + args.requests * (1 + args.threads))
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(data, ignore_errors=True)


def throughput(url: str, fn: Callable[[httpx.Client], None], threads: int, n: int) -> float:
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=30) as c:
            c.get("/health")
            barrier.wait()
            try:
                for _ in range(n):
                    fn(c)
            except BaseException as exc:  # reported below: a bench must not hide a failure
                errors.append(exc)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"{len(errors)} workers failed: {errors[0]!r}")
    return threads * n / elapsed


def audit(db_url: str, business: int, *, expected: int) -> None:
    """Every credited visit is one ledger row; materialised points equal the ledger's sum."""
    db = Database.connect(db_url)
    try:
        with db.read() as s:
            rows = s.scalar(select(func.count()).select_from(LedgerEntry)
                            .where(LedgerEntry.business_id == business,
                                   LedgerEntry.reason == "visit_kiosk"))
            sums = dict(s.execute(select(LedgerEntry.customer_id, func.sum(LedgerEntry.delta))
                                  .where(LedgerEntry.business_id == business,
                                         LedgerEntry.account == "points")
                                  .group_by(LedgerEntry.customer_id)).all())
            bad = [m.customer_id for m in s.scalars(select(Member).where(
                Member.business_id == business)) if m.points != (sums.get(m.customer_id) or 0)]
    finally:
        db.dispose()
    status = "ok" if rows == expected and not bad else "MISMATCH"
    print(f"  audit: {rows} visit rows (expected {expected}), "
          f"{len(bad)} balances off the ledger: {status}")
    if status != "ok":
        raise SystemExit(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--pg", default=os.environ.get(
        "VENUE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-loyalty-db-")
    try:
        run("SQLite", f"sqlite:///{tmp}/hub.sqlite3", args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not args.no_pg:
        run_pg(args)
    return 0


def run_pg(args: argparse.Namespace) -> None:
    try:
        import psycopg

        with psycopg.connect(args.pg, connect_timeout=2, autocommit=True) as conn:
            name = f"bench_loyalty_{uuid.uuid4().hex[:8]}"
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        print(f"PostgreSQL: skipped ({exc.__class__.__name__}: not reachable at {args.pg})")
        return
    base = args.pg.rsplit("/", 1)[0]
    try:
        run("PostgreSQL", f"{base}/{name}", args)
    finally:
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s", (name,))
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


if __name__ == "__main__":
    raise SystemExit(main())
