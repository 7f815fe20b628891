"""How a simulated device reaches the hub replicas: its own replica first, the next on failure.

This is what an HTTP load balancer in front of replicas does for a device (or a device configured
with several hub URLs): a request that finds no replica (connection refused or reset, timeout,
503) goes to the next one with the same body — the same nonce or idempotency key — so a retry
can never count twice.
"""

from __future__ import annotations

import time
from typing import Any

import requests


class NoReplica(RuntimeError):
    """No replica answered within the deadline."""


class HubPool:
    """Replica URLs for one device, with its token; ``prefer`` picks its home replica."""

    def __init__(self, urls: list[str], token: str, prefer: int, *, timeout: float = 5.0,
                 deadline_s: float = 20.0) -> None:
        self.urls = urls
        self.prefer = prefer % len(urls)
        self.timeout = timeout
        self.deadline_s = deadline_s
        self.sessions = []
        for _ in urls:
            s = requests.Session()
            s.headers["Authorization"] = f"Bearer {token}"
            self.sessions.append(s)

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any, int]:
        """(HTTP status, JSON body, failovers) from the first replica that answers."""
        deadline = time.monotonic() + self.deadline_s
        failovers = 0
        i = self.prefer
        while True:
            try:
                resp = self.sessions[i].post(self.urls[i] + path, json=body,
                                             timeout=self.timeout)
                if resp.status_code != 503:
                    return resp.status_code, resp.json(), failovers
            except (requests.ConnectionError, requests.Timeout):
                pass
            failovers += 1
            if time.monotonic() >= deadline:
                raise NoReplica(f"no hub replica answered {path} within {self.deadline_s} s")
            i = (i + 1) % len(self.urls)
            if i == self.prefer:
                time.sleep(0.1)

    def close(self) -> None:
        for s in self.sessions:
            s.close()
