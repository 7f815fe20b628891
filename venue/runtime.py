"""What every venue daemon needs around its own work: logging, systemd, signals, a heartbeat.

- :func:`setup_logging`: one handler on stderr, journald-friendly (no timestamp and a ``<N>``
  syslog priority prefix when systemd runs us, so ``journalctl -p warning`` works), or one JSON
  object per line for log shippers; phone numbers are masked in every record.
- :class:`SystemdNotifier`: ``sd_notify`` over ``$NOTIFY_SOCKET`` with a plain socket (no
  libsystemd), a no-op outside systemd.
- :class:`Service`: installs SIGTERM/SIGINT handlers, says READY, pings the watchdog only while
  the daemon says it is healthy (so systemd restarts a wedged daemon), calls a telemetry callback
  periodically, and says STOPPING on the way out.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import FrameType
from typing import Any, TextIO

from venue.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)

# logging level -> syslog priority, which journald reads from a "<N>" line prefix
_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def under_journald(env: Mapping[str, str] | None = None) -> bool:
    """True when stderr goes to journald (systemd sets these for the services it starts)."""
    env = os.environ if env is None else env
    return bool(env.get("JOURNAL_STREAM") or env.get("INVOCATION_ID"))


def _redact(text: str) -> str:
    # Imported lazily: phonenumbers' metadata is big, and logging must work even if it is broken.
    try:
        from venue.phone import redact
    except Exception:  # pragma: no cover - only when venue.phone cannot import
        return text
    return redact(text)


class RedactPhoneFilter(logging.Filter):
    """Masks phone numbers in a record's message and traceback before any handler formats it.

    Attached to the handler, so it sees records from every logger. It rewrites ``msg`` to the
    merged, masked text and clears ``args``; the traceback is pre-formatted into ``exc_text``
    (which formatters use instead of formatting ``exc_info`` again) and masked too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must still be logged, not raise
            message = f"{record.msg!r} {record.args!r}"
        record.msg = _redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _redact(record.exc_text)
        if record.stack_info:
            record.stack_info = _redact(record.stack_info)
        return True


class JournalFormatter(logging.Formatter):
    """``<priority>level logger: message``; journald adds time, host and unit itself."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prio = _PRIORITY.get(record.levelno, 6 if record.levelno < logging.WARNING else 3)
        # continuation lines of a traceback would lose the priority; keep them with the record
        return "\n".join(f"<{prio}>{line}" for line in super().format(record).split("\n"))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (RFC 3339 UTC), level, logger, msg, exc, and ``extra`` keys."""

    _STD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            body["exc"] = record.exc_text
        for key, value in vars(record).items():
            if key not in self._STD and not key.startswith("_"):
                body[key] = _redact(value) if isinstance(value, str) else value
        return json.dumps(body, ensure_ascii=False, default=str)


def setup_logging(
    level: str = "INFO",
    fmt: str = "text",
    *,
    stream: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> logging.Handler:
    """Configure the root logger once for a daemon or CLI command; returns the handler.

    Args:
        level: ``DEBUG``, ``INFO``, ``WARNING`` or ``ERROR``.
        fmt: ``"text"`` (journald style under systemd, with timestamps otherwise) or ``"json"``.
        stream: Where to write (default ``sys.stderr``, which systemd sends to journald).
        env: Environment to detect journald in (default ``os.environ``).
    """
    if fmt not in ("text", "json"):
        raise ValueError(f"log format must be 'text' or 'json', not {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    elif under_journald(env):
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactPhoneFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_venue_handler", False):
            root.removeHandler(old)
    handler._venue_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("paho").setLevel(max(root.level, logging.INFO))
    return handler


class SystemdNotifier:
    """``sd_notify(3)`` without libsystemd: datagrams to ``$NOTIFY_SOCKET``.

    Every method is a no-op when the variable is absent (run by hand, in tests, in Docker), so
    daemons call it unconditionally.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        addr = env.get("NOTIFY_SOCKET", "")
        self.address: str | None = None
        if addr.startswith("@"):
            self.address = "\0" + addr[1:]  # abstract namespace
        elif addr.startswith("/"):
            self.address = addr
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        self.watchdog_interval: float | None = None
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.watchdog_interval = int(usec) / 1_000_000
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` lines; False (and a debug log) when it could not be sent."""
        if self.address is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto("\n".join(assignments).encode(), self.address)
        except OSError as exc:
            log.debug("sd_notify to %r failed: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class Service:
    """The main loop of a daemon whose real work runs in its own threads (scanner, MQTT, HTTP).

    Args:
        name: For logs and the systemd STATUS line.
        notifier: Default: from the environment.
        healthy: Called before each watchdog ping; ping only when it returns True, so a daemon
            whose scanner or link is wedged gets restarted by systemd (``WatchdogSec=``).
        telemetry: Called every ``telemetry_interval`` seconds (e.g. publish health numbers).
        telemetry_interval: Seconds between telemetry calls.
        watchdog_interval: Override systemd's ``WATCHDOG_USEC`` (tests); pings every half of it.
        clock: Monotonic time for the schedule.
        install_signals: Handle SIGTERM/SIGINT (only possible on the main thread).
    """

    def __init__(
        self,
        name: str,
        *,
        notifier: SystemdNotifier | None = None,
        healthy: Callable[[], bool] | None = None,
        telemetry: Callable[[], None] | None = None,
        telemetry_interval: float = 60.0,
        watchdog_interval: float | None = None,
        clock: Clock | None = None,
        install_signals: bool = True,
    ) -> None:
        self.name = name
        self.notifier = notifier or SystemdNotifier()
        self.healthy = healthy or (lambda: True)
        self.telemetry = telemetry
        self.telemetry_interval = telemetry_interval
        self.watchdog_interval = watchdog_interval or self.notifier.watchdog_interval
        self.clock = clock or SYSTEM_CLOCK
        self.install_signals = install_signals
        self.stop_event = threading.Event()
        self.stop_reason = ""
        self.watchdog_pings = 0
        self.unhealthy_ticks = 0

    def stop(self, reason: str = "asked to stop") -> None:
        """Make :meth:`run` return; safe from any thread and from a signal handler."""
        self.stop_reason = self.stop_reason or reason
        self.stop_event.set()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop(signal.Signals(signum).name)

    def run(self, status: str = "running") -> int:
        """Block until stopped; returns the exit status for ``sys.exit`` (0 on a clean stop)."""
        previous: dict[int, Any] = {}
        if self.install_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, self._on_signal)
        try:
            self.notifier.ready(f"{self.name}: {status}")
            log.info("%s ready", self.name)
            self._loop()
        finally:
            log.info("%s stopping (%s)", self.name, self.stop_reason or "done")
            self.notifier.stopping(f"{self.name}: stopping")
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return 0

    def _loop(self) -> None:
        now = self.clock.monotonic()
        ping_every = self.watchdog_interval / 2 if self.watchdog_interval else None
        next_ping = now
        next_tele = now + self.telemetry_interval if self.telemetry else None
        while not self.stop_event.is_set():
            now = self.clock.monotonic()
            if ping_every is not None and now >= next_ping:
                self._ping()
                next_ping = now + ping_every
            if next_tele is not None and now >= next_tele:
                self._telemetry()
                next_tele = now + self.telemetry_interval
            due = [t for t in (next_ping if ping_every else None, next_tele) if t is not None]
            wait = min(due) - self.clock.monotonic() if due else 3600.0
            self.stop_event.wait(min(max(wait, 0.01), 3600.0))

    def _ping(self) -> None:
        try:
            ok = bool(self.healthy())
        except Exception:
            log.exception("%s health check failed", self.name)
            ok = False
        if ok:
            self.notifier.watchdog()
            self.watchdog_pings += 1
        else:
            self.unhealthy_ticks += 1
            log.warning("%s unhealthy: not pinging the watchdog", self.name)

    def _telemetry(self) -> None:
        assert self.telemetry is not None
        try:
            self.telemetry()
        except Exception:
            log.exception("%s telemetry callback failed", self.name)


def run_service(name: str, **kwargs: Any) -> int:
    """``Service(name, **kwargs).run()``: for a daemon whose main thread has nothing else to do."""
    return Service(name, **kwargs).run()
