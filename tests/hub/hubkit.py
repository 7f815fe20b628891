"""Hub test helpers (importable from hub tests): databases, tokens, a live uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from hub.auth import create_token
from hub.db import Database
from hub.service import bootstrap
from venue.clock import Clock, FakeClock

ADMIN = "admin-token-for-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(cond: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``cond`` until truthy; fail after ``timeout`` seconds (a deadline, not a sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def make_db(url: str, clock: Clock) -> Database:
    db = Database.connect(url)
    bootstrap(db, clock=clock, admin_token=ADMIN)
    return db


def token(db: Database, clock: FakeClock, role: str, device: str, **kw: Any) -> dict[str, str]:
    """Authorization headers for a new token."""
    with db.write() as s:
        t = create_token(s, role=role, device=device, now=clock.now(), **kw)
    return {"Authorization": f"Bearer {t}"}


ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def start_server(app: FastAPI) -> LiveServer:
    """uvicorn in a thread on a free port; returns once it accepts connections."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return LiveServer(f"http://127.0.0.1:{port}", server, thread)


@contextmanager
def serve(app: FastAPI) -> Iterator[httpx.Client]:
    """A real uvicorn over ``app`` and a keep-alive client to it; the server stops on exit.

    The loyalty, outlet and wallet folders' ``live`` fixtures are this over their own app.
    """
    server = start_server(app)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            yield c
    finally:
        server.stop()
