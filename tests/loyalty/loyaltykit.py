"""Loyalty test helpers: seed a business over the API, exactly as an operator would."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

ADMIN = "admin-token-for-tests"
ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@dataclass
class Seeded:
    business: int
    reward: int
    cheap_reward: int
    series: int
    category: int
    latte: int
    cake: int
    kiosk_h: dict[str, str]
    register_h: dict[str, str]


def key() -> str:
    return uuid.uuid4().hex


def ok(r: httpx.Response, *codes: int) -> Any:
    assert r.status_code in (codes or (200,)), (r.status_code, r.text)
    return r.json()


def token(c: httpx.Client, role: str, device: str) -> dict[str, str]:
    t = ok(c.post("/api/v1/tokens", json={"role": role, "device": device}, headers=ADMIN_H), 201)
    return {"Authorization": f"Bearer {t['token']}"}


def seed(c: httpx.Client, *, visit_points: int = 10, cooldown_s: int = 43200,
         welcome: int = 0, per_amount: str = "0.1", cost: int = 50) -> Seeded:
    """A cafe with a visit rule, two rewards on a coupon series, a catalog and device tokens."""
    b = ok(c.post("/api/v1/businesses", json={"name": "Cafe"}, headers=ADMIN_H), 201)["id"]
    ok(c.put(f"/api/v1/businesses/{b}/rules", headers=ADMIN_H,
             json={"visit_points": visit_points, "visit_cooldown_s": cooldown_s,
                   "welcome_bonus": welcome, "points_per_amount": per_amount}))
    series = ok(c.post("/api/v1/series", headers=ADMIN_H,
                       json={"name": "Free coffee", "kind": "coupon", "issue_limit": 1000}),
                201)["id"]
    ok(c.put("/api/v1/media/coffee.png", content=PNG, headers={**ADMIN_H,
                                                              "Content-Type": "image/png"}), 201)
    reward = ok(c.post("/api/v1/rewards", headers=ADMIN_H,
                       json={"business": b, "name": "Free coffee", "cost": cost,
                             "series": series, "image": "coffee.png"}), 201)["id"]
    cheap = ok(c.post("/api/v1/rewards", headers=ADMIN_H,
                      json={"business": b, "name": "Sticker", "cost": 5, "series": series}),
               201)["id"]
    cat = ok(c.post("/api/v1/catalog/categories", headers=ADMIN_H,
                    json={"business": b, "name": "Drinks"}), 201)["id"]
    latte = ok(c.post("/api/v1/catalog/items", headers=ADMIN_H,
                      json={"business": b, "category": cat, "name": "Latte", "price": "55.00",
                            "image": "coffee.png"}), 201)["id"]
    cake = ok(c.post("/api/v1/catalog/items", headers=ADMIN_H,
                     json={"business": b, "category": cat, "name": "Cake", "price": "49.90"}),
              201)["id"]
    return Seeded(b, reward, cheap, series, cat, latte, cake,
                  token(c, "kiosk", "k1"), token(c, "register", "pos1"))


def register(c: httpx.Client, s: Seeded, phone: str = "+380671234567") -> dict[str, Any]:
    return ok(c.post("/api/v1/customers", headers=s.kiosk_h,  # type: ignore[no-any-return]
                     json={"phone": phone, "consent": True, "businesses": [s.business]}),
              200, 201)


def visit(c: httpx.Client, s: Seeded, customer: str, k: str | None = None) -> httpx.Response:
    return c.post("/api/v1/visits", headers=s.kiosk_h,
                  json={"customer": customer, "business": s.business, "source": "kiosk",
                        "device": "k1", "idempotency_key": k or key()})


def points(c: httpx.Client, s: Seeded, phone: str = "+380671234567") -> int:
    summary = ok(c.post("/api/v1/kiosk/identify", headers=s.register_h,
                        json={"phone": phone, "businesses": [s.business]}))
    return int(summary["balances"][0]["points"])


class HubProcess:
    """The real hub (``venue hub``) in its own process: CLI, config, migrations, uvicorn."""

    def __init__(self, db_url: str, data_dir: str, **env: str) -> None:
        import os
        import socket
        import subprocess
        import sys

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        venue = os.path.join(os.path.dirname(sys.executable), "venue")
        os.makedirs(data_dir, exist_ok=True)
        self.log_path = os.path.join(data_dir, "hub-stderr.log")
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [venue, "hub", "--db", db_url, "--listen", f"127.0.0.1:{port}", "--no-mqtt",
             "--admin-token", ADMIN],
            env={**os.environ, "VENUE_DEVICE__DATA_DIR": data_dir, **env},
            stdout=self._log, stderr=self._log)

    def wait_ready(self, timeout: float = 30.0) -> HubProcess:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.log()
                raise RuntimeError(f"hub exited with {self.proc.returncode}: {err[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("hub did not answer /health in time")

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()
