"""Shared fixtures: a real Mosquitto per test on a free port, PostgreSQL databases, a fake clock,
the hub's migrated database on both backends, and headless Chromium.

The machine's own broker on 1883 is never touched: each broker here gets its own temp dir, config
and port, and is killed by its pid at teardown.

The database and browser fixtures live here, once, because the hub, loyalty, outlet, wallet, web
and scale folders all need the same ones; a folder's conftest only adds what is its own (which
``db`` it means, its app's ``client`` and ``live`` server).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from venue.clock import FakeClock

# The hub's test helpers (hubkit) serve every folder that runs a hub: on the path once, here.
HUB_TESTS = Path(__file__).resolve().parent / "hub"
if str(HUB_TESTS) not in sys.path:
    sys.path.insert(0, str(HUB_TESTS))

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class Broker:
    """A Mosquitto process that a test can stop and start again on the same port."""

    def __init__(self, workdir: Path, port: int | None = None, extra_conf: str = "") -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.extra_conf = extra_conf
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf = workdir / "mosquitto.conf"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.proc is not None:
            return
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.path.exists(exe):
            pytest.fail("mosquitto is not installed: `make test` installs it")
        body = self.extra_conf or "allow_anonymous true\n"
        # As root, Mosquitto switches to the `mosquitto` user and can then no longer read the
        # password and ACL files a test wrote into its temp dir: stay root for tests.
        as_root = "user root\n" if os.geteuid() == 0 and "user " not in body else ""
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "persistence false\n"
            f"{as_root}{body}\n"
        )
        self.log = open(self.workdir / "mosquitto.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([exe, "-c", str(self.conf)], stdout=self.log, stderr=self.log)
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None
        self.log.close()

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh anonymous Mosquitto on a free port for one test."""
    d = tmp_path / "broker"
    d.mkdir()
    b = Broker(d)
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[object]:
    """Make brokers with a custom config body (passwords, ACLs); all stopped at teardown."""
    made: list[Broker] = []

    def make(extra_conf: str = "", port: int | None = None) -> Broker:
        d = tmp_path / f"broker{len(made)}"
        d.mkdir()
        b = Broker(d, port=port, extra_conf=extra_conf)
        made.append(b)
        b.start()
        return b

    yield make
    for b in made:
        b.stop()


PG_ADMIN_URL = os.environ.get("VENUE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2):
            return None
    except Exception as exc:  # any failure to connect means: skip, visibly
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database (SQLAlchemy URL); skipped with the reason when none runs."""
    why = _pg_available()
    if why:
        pytest.skip(why)
    import psycopg

    name = f"venue_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file in the test's temp dir (SQLAlchemy URL)."""
    return f"sqlite:///{tmp_path / 'hub.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Tests using this run on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def any_db(db_url: str, clock: FakeClock) -> Iterator[Any]:
    """The hub's migrated, bootstrapped database on SQLite and on PostgreSQL."""
    from hubkit import make_db

    d = make_db(db_url, clock)
    yield d
    d.dispose()


@pytest.fixture
def client(db: Any, clock: FakeClock) -> Iterator[Any]:
    """An in-process client of the hub's app over the folder's ``db``."""
    from fastapi.testclient import TestClient

    from hub.api.app import create_app

    with TestClient(create_app(db, clock=clock, token_ttl=0.0)) as c:
        yield c


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never `playwright install`), headless."""
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def artifacts() -> Path:
    """``test-artifacts/`` at the repository root (gitignored): screenshots a person can look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``pytest -n`` (xdist with ``--dist loadgroup``) the Xvfb tests share one worker.

    ``xvfb-run -a`` picks a free display by looking for lock files, which two workers starting
    at once can both find free; one worker runs them one after another instead.
    """
    for item in items:
        if "tests/kiosk/" in item.nodeid or item.nodeid.startswith("kiosk/"):
            item.add_marker(pytest.mark.xdist_group("xvfb"))
