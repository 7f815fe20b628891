"""Service runtime: logging (journald, JSON, phone masking), sd_notify, the service loop, health."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_mqtt import wait_for

from venue.clock import FakeClock
from venue.health import Health, cpu_temperature, rss_bytes
from venue.runtime import (
    RedactPhoneFilter,
    Service,
    SystemdNotifier,
    setup_logging,
    under_journald,
)

PHONE = "+380 67 123 4567"
MASKED = "+380 •• ••• •• 67"


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """Give the test the root logger and put its handlers and level back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket standing in for systemd's notify socket."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    yield sock, path
    sock.close()


def received(sock: socket.socket) -> list[str]:
    """Everything waiting on the socket, without blocking."""
    out = []
    sock.setblocking(False)
    try:
        while True:
            out.append(sock.recv(4096).decode())
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(10)
    return out


def test_journald_lines_have_priority_and_no_timestamp(root_logger: logging.Logger) -> None:
    out = io.StringIO()
    setup_logging("INFO", stream=out, env={"INVOCATION_ID": "abc"})
    logging.getLogger("venue.gate").warning("relay %s stuck", "r1")
    logging.getLogger("venue.gate").debug("not shown at INFO")
    assert out.getvalue() == "<4>WARNING venue.gate: relay r1 stuck\n"
    assert under_journald({"JOURNAL_STREAM": "8:1"}) and not under_journald({})


def test_plain_text_has_a_timestamp(root_logger: logging.Logger) -> None:
    out = io.StringIO()
    setup_logging("DEBUG", stream=out, env={})
    logging.getLogger("x").debug("hello")
    line = out.getvalue()
    assert line.endswith("DEBUG x: hello\n") and line[:4].isdigit()  # "2026-..."


def test_json_is_one_object_per_line(root_logger: logging.Logger) -> None:
    out = io.StringIO()
    setup_logging("INFO", "json", stream=out, env={"JOURNAL_STREAM": "8:1"})
    logging.getLogger("hub").info("applied %d events", 3, extra={"device": "g1"})
    try:
        raise RuntimeError("db down")
    except RuntimeError:
        logging.getLogger("hub").exception("ingest failed")
    first, second = (json.loads(x) for x in out.getvalue().splitlines())
    assert first["msg"] == "applied 3 events" and first["device"] == "g1"
    assert first["level"] == "INFO" and first["logger"] == "hub" and first["ts"].startswith("20")
    assert second["level"] == "ERROR" and "RuntimeError: db down" in second["exc"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_phone_numbers_never_reach_the_log(root_logger: logging.Logger, fmt: str) -> None:
    out = io.StringIO()
    setup_logging("INFO", fmt, stream=out, env={})
    lg = logging.getLogger("kiosk")
    lg.info("checkin for %s", PHONE)
    lg.warning(f"inline {PHONE} in the message")
    try:
        raise ValueError(f"no customer {PHONE}")
    except ValueError:
        lg.exception("lookup failed")
    text = out.getvalue()
    assert "123 4567" not in text and "1234567" not in text
    assert text.count(MASKED) >= 3
    assert "no customer" in text  # the traceback is kept, only the number is masked


def test_log_filter_survives_bad_format_args() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items for %s", ("many",), None)
    assert RedactPhoneFilter().filter(record)
    assert "%d items" in record.getMessage() and record.args is None


def test_notifier_is_a_noop_outside_systemd() -> None:
    n = SystemdNotifier(env={})
    assert not n.enabled and n.watchdog_interval is None
    assert n.ready() is False and n.watchdog() is False


def test_notifier_sends_datagrams(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    n = SystemdNotifier(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"})
    assert n.watchdog_interval == 4.0
    assert n.ready("gate g1 up")
    assert n.status("42 scans")
    assert n.watchdog()
    assert n.stopping()
    n.close()
    assert received(sock) == [
        "READY=1\nSTATUS=gate g1 up",
        "STATUS=42 scans",
        "WATCHDOG=1",
        "STOPPING=1",
    ]


def test_notifier_abstract_socket_and_watchdog_pid() -> None:
    name = f"venue-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        n = SystemdNotifier(
            env={"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}
        )
        assert n.watchdog_interval is None  # the watchdog is for another process
        assert n.ready()
        assert sock.recv(100) == b"READY=1"
    finally:
        sock.close()


def test_service_pings_watchdog_only_while_healthy(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    health = {"ok": True}
    telemetry_calls: list[int] = []
    svc = Service(
        "gate",
        notifier=SystemdNotifier(env={"NOTIFY_SOCKET": path}),
        healthy=lambda: health["ok"],
        telemetry=lambda: telemetry_calls.append(1),
        telemetry_interval=0.05,
        watchdog_interval=0.1,
        install_signals=False,
    )
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(svc.run()))
    t.start()
    try:
        wait_for(lambda: svc.watchdog_pings >= 3, what="watchdog pings")
        wait_for(lambda: len(telemetry_calls) >= 3, what="telemetry calls")
        health["ok"] = False
        pings = svc.watchdog_pings
        wait_for(lambda: svc.unhealthy_ticks >= 3, what="unhealthy ticks")
        assert svc.watchdog_pings in (pings, pings + 1)  # at most one ping already under way
    finally:
        svc.stop("test over")
        t.join(10)
    assert result == [0] and not t.is_alive()
    msgs = received(sock)
    assert msgs[0] == "READY=1\nSTATUS=gate: running"
    assert msgs.count("WATCHDOG=1") == svc.watchdog_pings
    assert msgs[-1].startswith("STOPPING=1")


def test_health_check_exception_counts_as_unhealthy() -> None:
    def boom() -> bool:
        raise OSError("camera gone")

    svc = Service("x", healthy=boom, watchdog_interval=0.05, install_signals=False)
    t = threading.Thread(target=svc.run)
    t.start()
    try:
        wait_for(lambda: svc.unhealthy_ticks >= 2, what="unhealthy ticks")
        assert svc.watchdog_pings == 0
    finally:
        svc.stop()
        t.join(10)


SERVICE = textwrap.dedent(
    """
    import logging
    from venue.runtime import Service, setup_logging
    setup_logging("INFO")
    svc = Service("demo", telemetry=lambda: print("tick", flush=True), telemetry_interval=0.05)
    raise SystemExit(svc.run())
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_service_stops_cleanly_on_signal(
    notify_socket: tuple[socket.socket, str], sig: signal.Signals
) -> None:
    sock, path = notify_socket
    env = {
        **os.environ,
        "NOTIFY_SOCKET": path,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVICE], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert sock.recv(100).startswith(b"READY=1")
        assert proc.stdout is not None and proc.stdout.readline() == b"tick\n"
        proc.send_signal(sig)
        assert proc.wait(10) == 0
        assert sock.recv(100).startswith(b"STOPPING=1")
        assert proc.stderr is not None
        assert f"demo stopping ({sig.name})".encode() in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_health_numbers(tmp_path: Path) -> None:
    for i, (kind, milli) in enumerate([("gpu-thermal", "70000"), ("cpu-thermal", "51234")]):
        zone = tmp_path / f"thermal_zone{i}"
        zone.mkdir()
        (zone / "type").write_text(kind + "\n")
        (zone / "temp").write_text(milli + "\n")
    assert cpu_temperature(tmp_path) == pytest.approx(51.234)
    assert cpu_temperature(tmp_path / "missing") is None
    assert rss_bytes() > 1_000_000
    clock = FakeClock()
    h = Health(clock=clock, thermal=tmp_path)
    clock.advance(90.5)
    n = h.numbers()
    assert n["uptime_s"] == 90.5 and n["cpu_temp_c"] == pytest.approx(51.234)
    assert isinstance(n["rss_bytes"], int) and n["rss_bytes"] > 0
