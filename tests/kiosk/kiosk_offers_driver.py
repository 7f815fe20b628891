"""Drives a real kiosk window through the promotions, the lottery and the shop's pictures;
run under Xvfb by test_kiosk_real_hub.py against the real hub.

``python kiosk_offers_driver.py OUT_DIR``; the hub comes from ``KIOSK_DRIVER_HUB_URL`` and
``KIOSK_DRIVER_HUB_TOKEN``, the ids from ``KIOSK_DRIVER_IDS`` (``promotion``, ``win_code``,
``latte``, ``category``). The kiosk is built as the app builds it (worker thread, picture cache
in its data dir). Attract shows the promotion with its picture → identify → Home offers the
promotion's coupon → claim → Rewards → Play → the code typed on the keyboard → the prize →
the same code again → "already played" → the shop shows the item's picture. Writes screenshots,
the kiosk's log and OUT_DIR/result.json.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

OUT = Path(sys.argv[1])
OUT.mkdir(parents=True, exist_ok=True)
IDS = json.loads(os.environ["KIOSK_DRIVER_IDS"])
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
    "kiosk.hub_url": os.environ["KIOSK_DRIVER_HUB_URL"],
    "kiosk.hub_token": os.environ["KIOSK_DRIVER_HUB_TOKEN"],
    "kiosk.businesses": [IDS["business"]],
    "kiosk.branding": {"venue_name": "Café Test"},
    "kiosk.display": {"fullscreen": False, "width": 1280, "height": 800},
})
log_file = open(OUT / "kiosk.log", "w", encoding="utf-8")  # noqa: SIM115
setup_logging("DEBUG", stream=log_file)
apply_kivy_config(cfg.kiosk.display)

from kivy.clock import Clock  # noqa: E402

from kiosk.app import make_root, media_cache, ui_deliver  # noqa: E402
from kiosk.drive import open_window, screenshot, tap, wait_screen, wait_until  # noqa: E402
from kiosk.runner import ThreadRunner  # noqa: E402
from kiosk.screens.root import find  # noqa: E402
from kiosk.wiring import build  # noqa: E402

runner = ThreadRunner(ui_deliver)
kiosk = build(cfg, runner, mqtt=False)
p = kiosk.presenter
p.attach_media(media_cache(cfg))  # as KioskApp does
root = make_root(kiosk)
open_window(root)
Clock.schedule_interval(lambda _dt: p.tick(), 0.5)
result: dict[str, Any] = {"steps": []}


def shot(name: str) -> None:
    screenshot(root, OUT / f"{name}.png")


def step(name: str) -> None:
    result["steps"].append(name)
    shot(name)


def type_code(code: str) -> None:
    for key in code:
        tap(root, f"code-{key}")


try:
    # Attract: the running promotion, and its picture once the worker fetched it
    title = wait_until(lambda: find(root, "promotion-title"), 10, "a promotion on Attract")
    result["promotion_title"] = title.text
    wait_until(lambda: p.state.picture(p.state.promotion.image if p.state.promotion else None),
               10, "the promotion's picture")
    root.render_now()
    wait_until(lambda: any(type(w).__name__ == "Image"
                           for w in (find(root, "promotion") or root).walk()),
               5, "the picture drawn on Attract")
    step("attract-promotion")

    tap(root, "start")
    wait_screen(root, "identify")
    for d in "0671234567":
        tap(root, f"key-{d}")
    tap(root, "submit")
    wait_screen(root, "home", timeout=10)
    result["claimable"] = [x.id for x in p.state.claimable()]
    step("home-claim")
    tap(root, f"claim-{IDS['promotion']}")
    wait_screen(root, "coupon", timeout=10)
    result["claimed_coupon"] = p.state.coupon.name if p.state.coupon else None
    step("coupon-claimed")
    tap(root, "more")
    wait_screen(root, "home")
    result["claimable_after"] = [x.id for x in p.state.claimable()]

    tap(root, "rewards")
    wait_screen(root, "rewards")
    wait_until(lambda: find(root, f"picture-reward-{IDS['reward']}"), 10,
               "the reward's picture")
    step("rewards-play")
    tap(root, "lottery")
    wait_screen(root, "lottery")
    type_code(IDS["win_code"])
    result["typed"] = p.state.code_display
    step("lottery-typed")
    tap(root, "play")
    wait_screen(root, "prize", timeout=10)
    play = p.state.play
    result["prize"] = play.prize if play else None
    result["prize_coupon"] = play.coupon.serial if play and play.coupon else None
    step("prize")
    tap(root, "more")
    wait_screen(root, "home")
    result["coupons"] = sorted(c.name for c in p.state.summary.coupons) if p.state.summary else []

    tap(root, "rewards")
    wait_screen(root, "rewards")
    tap(root, "lottery")
    wait_screen(root, "lottery")
    type_code(IDS["win_code"])
    tap(root, "play")
    wait_until(lambda: p.state.message is not None and p.state.busy is None, 10,
               "the answer to a second play")
    result["second_play"] = p.state.message.render() if p.state.message else None
    result["second_play_screen"] = p.state.screen.value
    step("lottery-already-played")

    tap(root, "back")
    wait_screen(root, "rewards")
    tap(root, "back")
    wait_screen(root, "home")
    tap(root, "shop")
    wait_screen(root, "shop", timeout=10)
    tap(root, f"category-{IDS['category']}")
    wait_screen(root, "items")
    wait_until(lambda: find(root, f"picture-{IDS['latte']}"), 10, "the latte's picture")
    result["pictures"] = [path for path, _ in p.state.pictures]
    step("items-pictures")
    result["cache_files"] = sorted(f.suffix for f in (OUT / "data" / "media").iterdir())
except BaseException:
    (OUT / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
    shot("failed")
    raise
finally:
    result["last_screen"] = p.state.screen.value
    (OUT / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    runner.stop()
    kiosk.close()
    logging.shutdown()
    log_file.close()
