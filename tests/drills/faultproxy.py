"""A fault-injecting TCP proxy for drills: latency, resets, half-open links, a silent peer.

It sits between a gate and the hub on 127.0.0.1 and passes bytes both ways; its ``mode`` can be
changed at any time and applies to new and existing connections at their next chunk:

* ``pass``       — a plain relay;
* ``latency``    — every chunk, both ways, waits ``latency_s`` first (a slow or congested link);
* ``reset``      — new connections are reset at once, existing ones at their next chunk (a hub
                   that crashed, a firewall rejecting);
* ``blackhole``  — new connections are accepted and never answered, existing ones swallow what
                   the client sends (a hub that accepts but hangs, a dead NAT entry);
* ``half_open``  — requests reach the hub, answers never come back (one direction of the link
                   died; the client's socket stays open);
* ``drip``       — answers come back one byte every ``drip_s`` (a link so lossy that each read
                   gets a little: a per-read timeout never fires, only a total deadline helps).

Threads, not asyncio, so a test can drive it from plain synchronous code; every socket has a
timeout and every loop ends when the proxy stops.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections import Counter

MODES = ("pass", "latency", "reset", "blackhole", "half_open", "drip")


def _rst(sock: socket.socket) -> None:
    """Close with a TCP RST (SO_LINGER 0) instead of a polite FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class FaultProxy:
    """Listens on a free 127.0.0.1 port and relays to ``127.0.0.1:upstream_port``."""

    def __init__(self, upstream_port: int, *, latency_s: float = 0.5, drip_s: float = 0.05) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.mode = "pass"
        self.latency_s = latency_s
        self.drip_s = drip_s
        self.stats: Counter[str] = Counter()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept_loop, name="faultproxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def set(
        self, mode: str, *, latency_s: float | None = None, drip_s: float | None = None
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {MODES}")
        if latency_s is not None:
            self.latency_s = latency_s
        if drip_s is not None:
            self.drip_s = drip_s
        self.mode = mode

    def cut_all(self) -> None:
        """Reset every open connection now (keep-alive sessions must reconnect)."""
        with self._lock:
            socks = list(self._socks)
            self._socks.clear()
        for s in socks:
            _rst(s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        self.cut_all()

    # --- internals ------------------------------------------------------------------------------

    def _track(self, *socks: socket.socket) -> None:
        with self._lock:
            self._socks.update(socks)

    def _forget(self, *socks: socket.socket) -> None:
        with self._lock:
            for s in socks:
                self._socks.discard(s)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.stats["accepted"] += 1
            mode = self.mode
            if mode == "reset":
                self.stats["reset"] += 1
                _rst(client)
                continue
            client.settimeout(0.2)
            self._track(client)
            if mode == "blackhole":
                threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=2)
            except OSError:
                self._forget(client)
                _rst(client)
                continue
            upstream.settimeout(0.2)
            self._track(upstream)
            threading.Thread(target=self._pump, args=(client, upstream, "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, "down"),
                             daemon=True).start()

    def _swallow(self, client: socket.socket) -> None:
        """Accept bytes forever, answer nothing (until the client or the proxy gives up)."""
        while not self._stop.is_set():
            try:
                if not client.recv(65536):
                    break
            except TimeoutError:
                continue
            except OSError:
                break
            self.stats["swallowed"] += 1
        self._forget(client)
        with contextlib.suppress(OSError):
            client.close()

    def _pump(self, src: socket.socket, dst: socket.socket, way: str) -> None:
        while not self._stop.is_set():
            try:
                data = src.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            mode = self.mode
            if mode == "reset":
                self.stats["reset"] += 1
                break
            if mode == "blackhole" and way == "up":
                self.stats["swallowed"] += 1
                continue
            if mode == "half_open" and way == "down":
                self.stats["dropped"] += 1
                continue
            try:
                if mode == "latency":
                    time.sleep(self.latency_s)
                if mode == "drip" and way == "down":
                    for i in range(len(data)):
                        if self._stop.wait(self.drip_s):
                            break
                        dst.sendall(data[i : i + 1])
                else:
                    dst.sendall(data)
            except OSError:
                break
            self.stats[f"bytes_{way}"] += len(data)
        self._forget(src, dst)
        _rst(src)
        _rst(dst)
