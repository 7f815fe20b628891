"""The demo venue's seed: what an operator would set up before opening, made once per data dir.

A concert's ticket series with issued codes and the gates' tokens; two businesses with visit
rules, a catalog with images, rewards that turn points into coupons, and the kiosk's token.
Everything goes through the hub's HTTP API with the admin token, as an operator's tools would.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import requests

from venue.errors import VenueError


def admin_token(data: Path) -> str:
    path = data / "admin.token"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def seed(data: Path, hub: str, gates: int) -> dict[str, Any]:
    """Create the demo's series, codes and device tokens once; later runs reuse them."""
    path = data / "seed.json"
    if path.exists():
        seeded: dict[str, Any] = json.loads(path.read_text())
        if len(seeded.get("gate_tokens", {})) >= gates:
            return seeded
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {admin_token(data)}"

    def post(url: str, body: dict[str, Any]) -> Any:
        r = s.post(f"{hub}{url}", json=body, timeout=30)
        if not r.ok:
            raise VenueError(f"seeding the demo: POST {url} answered {r.status_code}: {r.text}")
        return r.json()

    series = post("/api/v1/series", {
        "name": "Demo concert", "kind": "ticket", "code_mode": "generated", "issue_limit": 5000,
        "entries_per_code": 1, "entry_rule": "single",
    })
    issued = post(f"/api/v1/series/{series['id']}/codes", {"count": 500})
    tokens = {
        f"gate-{i}": post("/api/v1/tokens", {"role": "gate", "device": f"gate-{i}"})["token"]
        for i in range(1, gates + 1)
    }
    seeded = {"series": series["id"], "codes": [c["code"] for c in issued],
              "gate_tokens": tokens}
    path.write_text(json.dumps(seeded))
    path.chmod(0o600)
    return seeded


def _image(text: str, rgb: tuple[int, int, int]) -> bytes:
    """A small PNG tile for a catalog item (PIL; a plain colour when PIL is missing)."""
    import io

    try:
        from PIL import Image, ImageDraw
    except ImportError:  # pragma: no cover - PIL comes with the gate's extra
        import base64

        return base64.b64decode(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJ"
            "RU5ErkJggg==")
    img = Image.new("RGB", (240, 240), rgb)
    ImageDraw.Draw(img).text((20, 110), text, fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


CATALOG = {
    "Cafe": [("Drinks", [("Latte", "55.00", (120, 80, 40)), ("Tea", "35.00", (60, 120, 60))]),
             ("Food", [("Croissant", "45.00", (200, 150, 60))])],
    "Merch": [("Shirts", [("Band T-shirt", "450.00", (30, 30, 90))]),
              ("Small things", [("Sticker pack", "60.00", (160, 40, 90))])],
}


def seed_loyalty(data: Path, hub: str) -> dict[str, Any]:
    """Two businesses with visit rules, a catalog with images, rewards, a kiosk token; once."""
    path = data / "seed-loyalty.json"
    if path.exists():
        done: dict[str, Any] = json.loads(path.read_text())
        return done
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {admin_token(data)}"

    def call(method: str, url: str, **kw: Any) -> Any:
        r = s.request(method, f"{hub}{url}", timeout=30, **kw)
        if not r.ok:
            raise VenueError(f"seeding the demo: {method} {url} answered {r.status_code}: "
                             f"{r.text[:300]}")
        return r.json()

    businesses: list[int] = []
    for i, (name, categories) in enumerate(CATALOG.items()):
        biz = call("POST", "/api/v1/businesses", json={"name": name, "currency": "UAH"})
        call("PUT", f"/api/v1/businesses/{biz['id']}/rules",
             json={"visit_points": 10, "visit_cooldown_s": 3600, "welcome_bonus": 20})
        for pos, (cat_name, items) in enumerate(categories):
            cat = call("POST", "/api/v1/catalog/categories",
                       json={"business": biz["id"], "name": cat_name, "position": pos})
            for item, price, rgb in items:
                media = f"demo-{biz['id']}-{len(businesses)}-{item.lower().replace(' ', '-')}.png"
                call("PUT", f"/api/v1/media/{media}", data=_image(item, rgb),
                     headers={"Content-Type": "image/png"})
                call("POST", "/api/v1/catalog/items",
                     json={"business": biz["id"], "category": cat["id"], "name": item,
                           "price": price, "image": media})
        coupon = call("POST", "/api/v1/series", json={
            "name": f"{name}: reward coupon", "kind": "coupon", "code_mode": "generated",
            "issue_limit": 5000, "entries_per_code": 1, "entry_rule": "single"})
        call("POST", "/api/v1/rewards", json={
            "business": biz["id"], "name": "Free coffee" if i == 0 else "Sticker pack",
            "cost": 30, "series": coupon["id"]})
        businesses.append(biz["id"])
    token = call("POST", "/api/v1/tokens", json={"role": "kiosk", "device": "kiosk-1"})["token"]
    done = {"businesses": businesses, "kiosk_token": token}
    path.write_text(json.dumps(done))
    path.chmod(0o600)
    return done
