"""The child processes and the database a simulation runs against, and their CPU time.

Everything is started on the loopback interface only, tracked by pid, and torn down by
:meth:`Stack.close`, which is idempotent and safe to call from the deadline watchdog.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from venue.errors import VenueError

ADMIN_TOKEN = "loadsim-" + uuid.uuid4().hex
SITE = "ls"
SHARE_GROUP = "hub"
_TICK = os.sysconf("SC_CLK_TCK")


class LoadsimError(VenueError, RuntimeError):
    """The simulation cannot run as asked (not loopback, a child did not start, ...)."""


def require_loopback(url: str, what: str) -> str:
    """``url`` unchanged when its host is a loopback address or ``localhost``; else an error."""
    host = urlsplit(url if "://" in url else f"x://{url}").hostname or ""
    if host == "localhost":
        return url
    try:
        if ipaddress.ip_address(host).is_loopback:
            return url
    except ValueError:
        pass
    raise LoadsimError(f"{what} must be on this machine's loopback interface, not {host!r}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process (``/proc``); ``None`` once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def _wait(cond: Any, what: str, timeout: float, proc: subprocess.Popen[bytes] | None = None,
          log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:] if log and log.exists() else ""
            raise LoadsimError(f"{what} exited with {proc.returncode}: {tail}")
        try:
            if cond():
                return
        except (OSError, requests.RequestException):
            pass
        time.sleep(0.05)
    raise LoadsimError(f"{what} did not start within {timeout:.0f} s")


def _port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True


@dataclass
class Child:
    """One child process: its name, argv, log file, and CPU seconds of its earlier lives."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    cpu_before: float = 0.0
    """CPU of lives that ended (a killed replica's first life still counts)."""
    _last_cpu: float = 0.0

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=out,
                                         env={**os.environ, **self.env},
                                         start_new_session=True)
        self._last_cpu = 0.0

    @property
    def pid(self) -> int | None:
        return None if self.proc is None or self.proc.poll() is not None else self.proc.pid

    def cpu(self) -> float:
        """CPU seconds of every life so far (sampled while alive)."""
        pid = self.pid
        if pid is not None:
            now = cpu_seconds(pid)
            if now is not None:
                self._last_cpu = now
        return self.cpu_before + self._last_cpu

    def kill(self) -> None:
        """SIGKILL, as a power cut or the OOM killer would."""
        self.cpu()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.cpu_before += self._last_cpu
        self._last_cpu = 0.0
        self.proc = None

    def stop(self) -> None:
        self.cpu()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.cpu_before += self._last_cpu
        self._last_cpu = 0.0
        self.proc = None


def broker_conf(workdir: Path, port: int) -> str:
    """A venue broker as provisioning writes it: sessions kept, long queues, many in flight."""
    store = workdir / "mosquitto-store"
    store.mkdir(parents=True, exist_ok=True)
    as_root = "user root\n" if os.geteuid() == 0 else ""
    return (f"listener {port} 127.0.0.1\nallow_anonymous true\n{as_root}"
            f"persistence true\npersistence_location {store}/\nautosave_interval 5\n"
            "max_queued_messages 1000000\nmax_inflight_messages 1000\n")


def start_broker(workdir: Path, extra_conf: str = "") -> tuple[Child, str]:
    """A Mosquitto of our own on a free loopback port (``extra_conf``: more config lines)."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(exe):
        raise LoadsimError("mosquitto is not installed (apt-get install mosquitto)")
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(broker_conf(workdir, port) + extra_conf)
    child = Child("broker", [exe, "-c", str(conf)], workdir / "mosquitto.log")
    child.start()
    _wait(lambda: _port_open(port), "mosquitto", 10, child.proc, child.log)
    return child, f"mqtt://127.0.0.1:{port}"


class PgDatabase:
    """A fresh PostgreSQL database for one run, dropped by :meth:`drop`."""

    def __init__(self, admin_url: str) -> None:
        import psycopg

        self.admin_url = require_loopback(admin_url, "PostgreSQL")
        self.name = f"venue_loadsim_{uuid.uuid4().hex[:10]}"
        try:
            with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
        except psycopg.Error as exc:
            raise LoadsimError(f"cannot create a database at {admin_url}: {exc}") from None
        self.dropped = False
        base = self.admin_url.rsplit("/", 1)[0]
        self.url = f"{base}/{self.name}"

    def backend_pids(self) -> list[int]:
        """The server processes serving this database (their CPU is the database's share)."""
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            return [int(r[0]) for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.name,))]

    def drop(self) -> None:
        import psycopg

        if self.dropped:
            return
        self.dropped = True
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s", (self.name,))
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}"')


class PgCpu:
    """CPU seconds of the database's server processes, sampled (backends come and go)."""

    def __init__(self, db: PgDatabase) -> None:
        self.db = db
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}

    def sample(self) -> None:
        try:
            pids = self.db.backend_pids()
        except Exception:
            return
        for pid in pids:
            cpu = cpu_seconds(pid)
            if cpu is None:
                continue
            self._first.setdefault(pid, cpu)
            self._last[pid] = cpu

    def total(self) -> float:
        return sum(self._last[p] - self._first[p] for p in self._last)


class Replica(Child):
    """One ``venue hub`` process on the shared database, in the ``$share`` ingest group."""

    def __init__(self, index: int, workdir: Path, db_url: str, mqtt_url: str) -> None:
        self.index = index
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        data = workdir / f"hub{index}"
        data.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "venue.cli", "hub", "--db", db_url,
                "--listen", f"127.0.0.1:{self.port}", "--mqtt", mqtt_url,
                "--admin-token", ADMIN_TOKEN]
        env = {"VENUE_DEVICE__SITE": SITE, "VENUE_DEVICE__ID": f"hub{index}",
               "VENUE_DEVICE__DATA_DIR": str(data), "VENUE_HUB__SHARE_GROUP": SHARE_GROUP,
               # Every replica reads the one phone key file (a chain distributes it with its
               # configuration); each replica's own data dir would hold a file only one has.
               "VENUE_HUB__SECRETS_FILE": str(workdir / "hub-secrets.json"),
               "VENUE_LOG__LEVEL": "WARNING"}
        super().__init__(f"hub{index}", argv, data / "hub.log", env)

    def start_and_wait(self, timeout: float = 60.0) -> None:
        self.start()
        _wait(lambda: requests.get(f"{self.url}/health", timeout=1).status_code == 200,
              self.name, timeout, self.proc, self.log)


class Stack:
    """Broker, database and replicas of one run; :meth:`close` tears all of it down once."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.broker: Child | None = None
        self.mqtt_url = ""
        self.pg: PgDatabase | None = None
        self.sqlite_path: Path | None = None
        self.replicas: list[Replica] = []
        self._closed = threading.Lock()
        self._done = False

    def start(self, *, replicas: int, pg_admin: str, mqtt_url: str | None,
              sqlite: bool = False) -> None:
        """Broker, database and replicas; ``sqlite``: one hub on a SQLite file (one venue)."""
        if sqlite and replicas != 1:
            raise LoadsimError("a SQLite hub runs alone: --sqlite needs --replicas 1")
        if mqtt_url:
            self.mqtt_url = require_loopback(mqtt_url, "the broker")
        else:
            self.broker, self.mqtt_url = start_broker(self.workdir)
        if sqlite:
            self.sqlite_path = self.workdir / "hub.sqlite3"
            url = f"sqlite:///{self.sqlite_path}"
        else:
            self.pg = PgDatabase(pg_admin)
            url = self.pg.url.replace("postgresql://", "postgresql+psycopg://", 1)
        for i in range(1, replicas + 1):
            r = Replica(i, self.workdir, url, self.mqtt_url)
            self.replicas.append(r)
            # One after the other: the first migrates the fresh database and makes its keys.
            r.start_and_wait()

    def close(self) -> None:
        with self._closed:
            if self._done:
                return
            self._done = True
            for r in self.replicas:
                try:
                    r.stop()
                except Exception:
                    r.kill()
            if self.broker is not None:
                self.broker.stop()
            if self.pg is not None:
                try:
                    self.pg.drop()
                except Exception as exc:
                    print(f"loadsim: could not drop database {self.pg.name}: {exc}",
                          file=sys.stderr)
