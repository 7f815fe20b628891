"""Drives a real kiosk window with synthetic touches; run under Xvfb by test_kiosk_ui.py.

``python kiosk_ui_driver.py OUT_DIR [MQTT_URL]``: identify → home → rewards → redeem → done,
then identify → shop → cart → submit, against the demo data source with the app's real worker
thread (``ThreadRunner``) and, when a broker URL is given, the real MQTT link. Writes a
screenshot of every screen to OUT_DIR, the kiosk's log to OUT_DIR/kiosk.log and what it saw to
OUT_DIR/result.json. Exit status 0 only when both flows reached their last screen.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

OUT = Path(sys.argv[1])
BROKER = sys.argv[2] if len(sys.argv) > 2 else ""
OUT.mkdir(parents=True, exist_ok=True)
HUB_URL = os.environ.get("KIOSK_DRIVER_HUB_URL", "demo:")
IDS = json.loads(os.environ.get("KIOSK_DRIVER_IDS") or
                 '{"reward": 3, "category": 1, "items": [6, 6, 5]}')
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_HOME", str(OUT / "kivy-home"))

from kiosk.config import KioskConfig  # noqa: E402
from kiosk.platform import apply_kivy_config  # noqa: E402
from venue.config import load_config  # noqa: E402
from venue.runtime import setup_logging  # noqa: E402

cfg = load_config(KioskConfig, None, env={}, overrides={
    "device.id": "k1",
    "device.site": "test",
    "device.data_dir": str(OUT / "data"),
    "mqtt.url": BROKER or "mqtt://127.0.0.1:1",
    "kiosk.hub_url": HUB_URL,
    **({"kiosk.hub_token": os.environ["KIOSK_DRIVER_HUB_TOKEN"]}
       if os.environ.get("KIOSK_DRIVER_HUB_TOKEN") else {}),
    "kiosk.done_timeout_s": 1.0,
    "kiosk.branding": {"venue_name": "Café Test"},
    "kiosk.display": {"fullscreen": False, "width": 1280, "height": 800},
})
log_file = open(OUT / "kiosk.log", "w", encoding="utf-8")  # noqa: SIM115
setup_logging("DEBUG", stream=log_file)
apply_kivy_config(cfg.kiosk.display)

from kivy.clock import Clock  # noqa: E402

from kiosk.app import make_root, ui_deliver  # noqa: E402
from kiosk.drive import open_window, screenshot, tap, wait_screen, wait_until  # noqa: E402
from kiosk.runner import ThreadRunner  # noqa: E402
from kiosk.screens.root import find  # noqa: E402
from kiosk.wiring import build  # noqa: E402

runner = ThreadRunner(ui_deliver)
kiosk = build(cfg, runner, mqtt=bool(BROKER))
if kiosk.link is not None:
    kiosk.link.start()
    assert kiosk.link.wait_connected(10), "kiosk did not connect to the broker"
root = make_root(kiosk)
open_window(root)
Clock.schedule_interval(lambda _dt: kiosk.presenter.tick(), 0.5)
result: dict[str, Any] = {"screens": [], "flows": []}
p = kiosk.presenter


def shot(name: str) -> None:
    screenshot(root, OUT / f"{name}.png")
    result["screens"].append(name)


def identify(name_prefix: str) -> None:
    tap(root, "start")
    wait_screen(root, "identify")
    for d in "0671234567":
        tap(root, f"key-{d}")
    display = find(root, "phone-display")
    result[f"{name_prefix}_display"] = display.text if display is not None else None
    shot(f"{name_prefix}-identify")
    started = time.monotonic()
    tap(root, "submit")
    wait_screen(root, "home")
    result[f"{name_prefix}_home_ms"] = round((time.monotonic() - started) * 1000, 1)
    masked = find(root, "masked-phone")
    result[f"{name_prefix}_masked"] = masked.text if masked is not None else None
    notes = [w.children[0].text for w in root.walk() if getattr(w, "kid", "") == "visit-note"]
    result[f"{name_prefix}_notes"] = notes
    shot(f"{name_prefix}-home")


# 1: identify -> home -> rewards -> redeem -> done -> (by itself) attract
identify("rewards")
tap(root, "rewards")
wait_screen(root, "rewards")
shot("rewards-catalog")
tap(root, f"reward-{IDS['reward']}")
wait_screen(root, "confirm")
shot("rewards-confirm")
tap(root, "confirm")
wait_screen(root, "coupon")
shot("rewards-coupon")
result["coupon"] = p.state.coupon.serial if p.state.coupon else None
result["balance_after"] = p.state.balance_after
tap(root, "done")
wait_screen(root, "done")
shot("rewards-done")
wait_screen(root, "attract", timeout=10)
result["flows"].append("rewards")

# 2: identify -> shop -> items -> cart -> submit -> order
identify("shop")
tap(root, "shop")
wait_screen(root, "shop")
shot("shop-categories")
tap(root, f"category-{IDS['category']}")
wait_screen(root, "items")
for item in IDS["items"]:
    tap(root, f"add-{item}")
wait_until(lambda: p.state.cart_count == 3, 5, "three items in the cart")
shot("shop-items")
tap(root, "cart")
wait_screen(root, "cart")
total = find(root, "total")
result["cart_total_text"] = total.text if total is not None else None
shot("shop-cart")
tap(root, "submit-order")
wait_screen(root, "order")
shot("shop-order")
result["order_number"] = p.state.order.number if p.state.order else None
result["order_total"] = str(p.state.order.total) if p.state.order else None
result["flows"].append("shop")
tap(root, "done")
wait_screen(root, "done")

if kiosk.link is not None:
    result["drained"] = kiosk.link.wait_drained(10)
result["renders"] = root.renders
(OUT / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
runner.stop()
kiosk.close()
logging.shutdown()
log_file.close()
