"""One simulation run: start the stack, seed it, drive the devices, kill a replica, audit.

Bounded: the device threads stop at ``duration_s``, the outboxes and the ingest get ``drain_s``
to catch up, and a watchdog tears everything down at the hard ``deadline_s`` whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import random
import resource
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from loadsim import audit, report
from loadsim.devices import Codes, Paced, SimBeacon, SimGate, SimKiosk
from loadsim.hubpool import HubPool
from loadsim.procs import SITE, LoadsimError, PgCpu, Stack
from loadsim.record import Recorder
from loadsim.seed import seed
from venue.config import MqttSection
from venue.mqtt import MqttLink
from venue.outbox import Outbox
from venue.topics import DeviceRef


@dataclass(frozen=True)
class Plan:
    gates: int = 60
    scans_per_min: float = 30
    duration_s: float = 60
    kiosks: int = 4
    kiosk_per_min: float = 10
    beacons: int = 4
    beacon_visits_per_min: float = 12
    phones: int = 100
    replicas: int = 2
    kill_replica: bool = False
    kill_at: float = 0.5
    """When to kill, as a fraction of the duration."""
    restart_after_s: float = 3.0
    offline_share: float = 0.1
    gate_budget_s: float = 0.0
    """> 0: gates decide locally when the hub has not answered by then (``venue gate``: 0.25)."""
    rescan_share: float = 0.05
    drain_s: float = 60.0
    deadline_s: float = 0.0
    """Hard end of the whole run (0: duration + 240 s)."""
    pg_admin: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    broker: str = ""
    sqlite: bool = False
    """One hub on a SQLite file (a single venue's setup) instead of PostgreSQL replicas."""
    seed: int = 1


def _links(stack: Stack, workdir: Path, devices: list[tuple[str, str]]) -> dict[str, MqttLink]:
    links = {}
    settings = MqttSection(url=stack.mqtt_url, keepalive=10)
    for role, device in devices:
        link = MqttLink(DeviceRef(SITE, role, device), settings,
                        outbox=Outbox(workdir / "outbox" / f"{device}.sqlite3"),
                        reconnect_delay=(0.2, 2.0))
        link.start()
        links[device] = link
    for device, link in links.items():
        if not link.wait_connected(20):
            raise LoadsimError(f"{device} could not connect to the broker")
    return links


def machine_busy_s() -> float:
    """Busy CPU seconds of the whole machine (``/proc/stat``), other people's work included."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _audit_connection(stack: Stack) -> Iterator[Any]:
    if stack.pg is None:
        assert stack.sqlite_path is not None
        conn = sqlite3.connect(f"file:{stack.sqlite_path}?mode=ro", uri=True, timeout=30)
        try:
            yield conn
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(stack.pg.url, autocommit=True) as pg:
        yield pg


def _sampler(pg: PgCpu, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        pg.sample()


def _more_files() -> None:
    """Each simulated device holds a socket, an outbox (three files) and HTTP connections:
    a few hundred devices pass the usual soft limit of 1024 open files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def execute(plan: Plan, *, log: Any = sys.stderr) -> dict[str, Any]:
    """Run ``plan`` and return its figures (see :func:`loadsim.report.text`)."""
    _more_files()
    deadline = plan.deadline_s or plan.duration_s + 240
    workdir = Path(tempfile.mkdtemp(prefix="venue-loadsim-"))
    stack = Stack(workdir)
    links: dict[str, MqttLink] = {}
    abort = threading.Event()

    def on_deadline() -> None:
        print(f"loadsim: hard deadline of {deadline:.0f} s reached; stopping everything",
              file=log, flush=True)
        abort.set()
        stack.close()
        shutil.rmtree(workdir, ignore_errors=True)
        os._exit(3)

    watchdog = threading.Timer(deadline, on_deadline)
    watchdog.daemon = True
    watchdog.start()
    try:
        return _execute(plan, stack, workdir, links, abort, log)
    finally:
        for link in links.values():
            link.stop(timeout=2)
            link.outbox.close()
        stack.close()
        watchdog.cancel()
        shutil.rmtree(workdir, ignore_errors=True)


def _execute(plan: Plan, stack: Stack, workdir: Path, links: dict[str, MqttLink],
             abort: threading.Event, log: Any) -> dict[str, Any]:
    print(f"loadsim: starting broker, database and {plan.replicas} hub replicas", file=log,
          flush=True)
    stack.start(replicas=plan.replicas, pg_admin=plan.pg_admin, mqtt_url=plan.broker or None,
                sqlite=plan.sqlite)
    gates = [f"g{i:03d}" for i in range(1, plan.gates + 1)]
    kiosks = [f"k{i:03d}" for i in range(1, plan.kiosks + 1)]
    beacons = [f"b{i:03d}" for i in range(1, plan.beacons + 1)]
    scans = plan.gates * plan.scans_per_min * plan.duration_s / 60
    s = seed(stack.replicas[0].url, codes=int(scans * 1.1) + 20, gates=gates, kiosks=kiosks,
             phones=plan.phones if plan.kiosks or plan.beacons else 0,
             installs=plan.beacons > 0)
    links.update(_links(stack, workdir, [("gate", g) for g in gates]
                        + [("kiosk", k) for k in kiosks] + [("beacon", b) for b in beacons]))
    urls = [r.url for r in stack.replicas]
    rec = Recorder()
    rng = random.Random(plan.seed)
    codes = Codes(s.codes)
    pg_cpu = None if stack.pg is None else PgCpu(stack.pg)
    stop_sampling = threading.Event()
    if pg_cpu is not None:
        pg_cpu.sample()
        threading.Thread(target=_sampler, args=(pg_cpu, stop_sampling), daemon=True).start()
    cpu0 = {r.name: r.cpu() for r in stack.replicas}
    broker_cpu0 = stack.broker.cpu() if stack.broker else 0.0
    own0 = sum(os.times()[:2])
    busy0 = machine_busy_s()
    print(f"loadsim: seeded {len(s.codes)} codes; load for {plan.duration_s:.0f} s", file=log,
          flush=True)
    t0 = time.monotonic()
    stop_at = t0 + plan.duration_s
    pools: list[HubPool] = []
    threads: list[Paced] = []

    def common(interval: float) -> dict[str, Any]:
        return {"interval": interval, "stop_at": stop_at, "rng": random.Random(rng.random()),
                "rec": rec, "abort": abort}

    for i, g in enumerate(gates):
        pool = HubPool(urls, s.tokens[g], prefer=i)
        pools.append(pool)
        threads.append(SimGate(g, pool, links[g], codes, offline_share=plan.offline_share,
                               rescan_share=plan.rescan_share, budget_s=plan.gate_budget_s,
                               **common(60 / plan.scans_per_min)))
    for i, k in enumerate(kiosks):
        pool = HubPool(urls, s.tokens[k], prefer=i)
        pools.append(pool)
        threads.append(SimKiosk(k, pool, links[k], s.phones, s.business,
                                **common(60 / plan.kiosk_per_min)))
    for b in beacons:
        threads.append(SimBeacon(b, links[b], s.installs,
                                 **common(60 / plan.beacon_visits_per_min)))
    kill: dict[str, Any] = {}
    killer = None
    if plan.kill_replica:
        killer = threading.Thread(target=_kill_one, args=(stack, plan, t0, kill, log),
                                  daemon=True)
        killer.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, stop_at - time.monotonic()) + 30)
    abort.wait(max(0.0, stop_at - time.monotonic()))  # the whole duration, devices or none
    # Rates are over the time the devices really took: an overloaded hub makes the scans of the
    # last interval finish late, and dividing by the planned duration would flatter it.
    load_s = max(plan.duration_s, time.monotonic() - t0)
    if killer is not None:
        killer.join(plan.restart_after_s + 90)
    ended = time.monotonic()
    drain_end = ended + plan.drain_s
    for link in links.values():
        link.wait_drained(max(0.0, drain_end - time.monotonic()))
    with _audit_connection(stack) as conn:
        while True:
            stored = audit.read_stored(conn, rec.sent, sqlite=stack.pg is None)
            result = audit.compare(rec.sent, stored)
            if result.lost == 0 or time.monotonic() >= drain_end:
                break
            time.sleep(0.2)
    drain_s = time.monotonic() - ended
    measured_s = time.monotonic() - t0
    stop_sampling.set()
    cpu = {r.name: round(r.cpu() - cpu0[r.name], 2) for r in stack.replicas}
    if stack.broker:
        cpu["broker"] = round(stack.broker.cpu() - broker_cpu0, 2)
    if pg_cpu is not None:
        pg_cpu.sample()
        cpu["postgres"] = round(pg_cpu.total(), 2)
    cpu["loadsim"] = round(sum(os.times()[:2]) - own0, 2)
    cpu["machine"] = round(machine_busy_s() - busy0, 2)
    for pool in pools:
        pool.close()
    sent = rec.sent
    admitted_online = sum(1 for r, _ in sent.answers.values() if r == "admit")
    fig: dict[str, Any] = {
        "plan": {k: v for k, v in asdict(plan).items() if k not in ("pg_admin",)},
        "database": "sqlite" if stack.pg is None else stack.pg.name,
        "load_s": round(load_s, 2),
        "admitted_online": admitted_online,
        "admitted_offline": len(sent.offline),
        "rejected": sum(1 for r, _ in sent.answers.values() if r == "reject"),
        "admissions_per_s": (admitted_online + len(sent.offline)) / load_s,
        "scans_per_s": (len(sent.answers) + sent.uploaded + sent.local) / load_s,
        "scan_ms": report.latency(sent.scan_ms),
        "kiosk_ms": report.latency(sent.kiosk_ms),
        "rate_limited": sent.rate_limited,
        "events": len(sent.events),
        "events_per_s": len(sent.events) / load_s,
        "ledger_rows": len(sent.ledger_keys),
        "drain_s": round(drain_s, 2),
        "audit": result.to_dict(),
        "failovers": sent.failovers,
        "decided_locally": sent.local,
        "kill": kill or None,
        "cpu_s": cpu,
        "measured_s": round(measured_s, 1),
        "cores": os.cpu_count(),
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "errors": sent.errors,
    }
    fig["ok"] = (result.lost == 0 and result.doubled == 0 and result.answer_mismatch == 0
                 and result.offline_rejected == 0 and not sent.errors and not abort.is_set()
                 and "restart_error" not in kill)
    return fig


def _kill_one(stack: Stack, plan: Plan, t0: float, out: dict[str, Any], log: Any) -> None:
    """SIGKILL the last replica mid-run, then start it again (as systemd would)."""
    victim = stack.replicas[-1]
    time.sleep(max(0.0, t0 + plan.duration_s * plan.kill_at - time.monotonic()))
    victim.kill()
    out["replica"] = victim.name
    out["at_s"] = round(time.monotonic() - t0, 2)
    print(f"loadsim: killed {victim.name} at {out['at_s']:.1f} s", file=log, flush=True)
    time.sleep(plan.restart_after_s)
    try:
        victim.start_and_wait()
    except Exception as exc:  # the figures then show what stayed in its broker session
        out["restart_error"] = str(exc)[:300]
        print(f"loadsim: {victim.name} did not start again: {exc}", file=log, flush=True)
        return
    out["restarted_s"] = round(time.monotonic() - t0, 2)
    print(f"loadsim: {victim.name} back at {out['restarted_s']:.1f} s", file=log, flush=True)
