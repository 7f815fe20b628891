"""A throwaway Mosquitto on a free port for benchmarks (they must not import the tests)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BenchBroker:
    """``with BenchBroker() as b:`` runs ``mosquitto`` on ``b.port`` and kills it by pid after.

    ``max_queued_messages`` is raised from 1000 so a subscriber that falls behind a burst is
    not silently shed by the broker (which would make a run never finish).
    """

    def __init__(
        self, extra_conf: str = "allow_anonymous true\nmax_queued_messages 1000000\n"
    ) -> None:
        self.port = free_port()
        self.extra_conf = extra_conf
        self._dir = Path(tempfile.mkdtemp(prefix="venue-bench-broker-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def __enter__(self) -> BenchBroker:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        conf = self._dir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\npersistence false\n{self.extra_conf}")
        log = open(self._dir / "mosquitto.log", "ab")
        self._proc = subprocess.Popen([exe, "-c", str(conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        self.__exit__()
        raise RuntimeError(f"mosquitto did not listen on {self.port}; see {self._dir}")

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
            self._proc = None
        shutil.rmtree(self._dir, ignore_errors=True)
