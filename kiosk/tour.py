"""``venue kiosk --screenshot-tour DIR``: every screen in every language as ``{screen}-{lang}.png``.

The kiosk runs on the built-in demo data source with a synchronous runner and a fake clock, so
the pictures are the same on every run; the presenter is driven through its intents exactly as
taps would, and each screen is drawn and saved from the root widget (which paints its own
background, so no picture is transparent).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from kiosk.config import KioskConfig
from kiosk.demo import DEMO_LOSE_CODE, DEMO_WIN_CODE, DemoHub
from kiosk.media import MediaCache
from kiosk.presenter import Presenter
from kiosk.runner import SyncRunner
from kiosk.store import KioskStore
from venue.clock import FakeClock

log = logging.getLogger("venue.kiosk.tour")

KNOWN = "0671234567"
NEW = "0509876543"


def _type(p: Presenter, digits: str) -> None:
    for d in digits:
        p.press_digit(d)


def _keys(p: Presenter, code: str) -> None:
    for key in code:
        p.code_key(key)


def _home(p: Presenter) -> None:
    p.reset()
    p.begin()
    _type(p, KNOWN)
    p.submit_phone()


def steps(hub: DemoHub, clock: FakeClock) -> list[tuple[str, Callable[[Presenter], None]]]:
    """``(screen name, how to get there from wherever the previous step left off)``."""

    def identify(p: Presenter) -> None:
        p.reset()
        p.begin()
        _type(p, KNOWN[:8])

    def identify_error(p: Presenter) -> None:
        p.clear()
        _type(p, "0001112223")
        p.submit_phone()

    def scan(p: Presenter) -> None:
        p.clear()
        p.open_scanner()

    def consent(p: Presenter) -> None:
        p.reset()
        p.begin()
        _type(p, NEW)
        p.submit_phone()

    def home(p: Presenter) -> None:
        clock.advance(5 * 3600)  # past the demo's visit cooldown: the credit shows
        _home(p)

    def coupon(p: Presenter) -> None:
        p.confirm_reward()

    def coupon_claimed(p: Presenter) -> None:
        p.back()
        p.claim_promotion(3)

    def lottery(p: Presenter) -> None:
        p.back()
        p.open_rewards()
        p.open_lottery()
        _keys(p, DEMO_LOSE_CODE[:8])

    def prize_none(p: Presenter) -> None:
        _keys(p, DEMO_LOSE_CODE[8:])
        p.submit_code()

    def lottery_played(p: Presenter) -> None:
        p.back()
        p.open_rewards()
        p.open_lottery()
        _keys(p, DEMO_LOSE_CODE)
        p.submit_code()

    def prize(p: Presenter) -> None:
        p.code_clear()
        _keys(p, DEMO_WIN_CODE)
        p.submit_code()

    def shop(p: Presenter) -> None:
        p.back()
        p.open_shop()

    def items(p: Presenter) -> None:
        p.choose_category(1)
        for item in (6, 6, 5):
            p.add_item(item)

    def home_offline(p: Presenter) -> None:
        p.reset()
        clock.advance(5 * 3600)
        hub.offline = True
        _home(p)

    def pin(p: Presenter) -> None:
        hub.offline = False
        p.reset()
        for _ in range(5):
            p.secret_tap()
        _type(p, "24")

    def maintenance(p: Presenter) -> None:
        p.pin_digit("6")
        p.pin_digit("8")
        p.pin_submit()

    return [
        ("attract", lambda p: p.reset()),
        ("identify", identify),
        ("identify-invalid", identify_error),
        ("scan", scan),
        ("consent", consent),
        ("home", home),
        ("rewards", lambda p: p.open_rewards()),
        ("confirm", lambda p: p.choose_reward(3)),
        ("coupon", coupon),
        ("coupon-claimed", coupon_claimed),
        ("lottery", lottery),
        ("prize-none", prize_none),
        ("lottery-played", lottery_played),
        ("prize", prize),
        ("shop", shop),
        ("items", items),
        ("cart", lambda p: p.open_cart()),
        ("order", lambda p: p.submit_order()),
        ("done", lambda p: p.finish()),
        ("home-offline", home_offline),
        ("pin", pin),
        ("maintenance", maintenance),
    ]


def run_tour(cfg: KioskConfig, out_dir: Path) -> list[Path]:
    """Render the tour; returns the files written. Needs a display (Xvfb will do)."""
    from kiosk.app import make_root
    from kiosk.drive import open_window, pump, screenshot
    from kiosk.wiring import build

    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    root = None
    with tempfile.TemporaryDirectory(prefix="kiosk-tour-") as tmp:
        for lang in cfg.kiosk.languages:
            clock = FakeClock()
            hub = DemoHub(clock=clock, region=cfg.kiosk.region.upper())
            k = replace(cfg.kiosk, hub_url="demo:", default_language=lang,
                        camera=replace(cfg.kiosk.camera, kind="opencv"))
            kiosk = build(replace(cfg, kiosk=k), SyncRunner(), hub=hub, clock=clock, mqtt=False,
                          store=KioskStore(Path(tmp) / f"tour-{lang}.db"))
            if root is not None:
                root.parent.remove_widget(root)
            kiosk.presenter.attach_media(MediaCache(Path(tmp) / f"media-{lang}"))
            kiosk.presenter.refresh_offers()  # the promotions Attract shows, the lottery
            root = make_root(kiosk)
            open_window(root)
            for name, step in steps(hub, clock):
                step(kiosk.presenter)
                root.render_now()
                pump(2)
                shown = kiosk.presenter.state.screen.value
                if not name.startswith(shown):
                    log.warning("tour step %s shows %s", name, shown)
                written.append(screenshot(root, out_dir / f"{name}-{lang}.png"))
            kiosk.close()
    return written
