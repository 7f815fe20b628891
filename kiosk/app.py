"""The Kivy app: views over the presenter, a worker thread for the hub, MQTT, the camera.

Import this module only after :func:`kiosk.platform.apply_kivy_config` (the CLI does), because
importing Kivy's window reads the config once.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock

from kiosk.config import KioskConfig
from kiosk.i18n import Translator
from kiosk.media import MediaCache
from kiosk.platform import effective_rotation
from kiosk.presenter import Presenter
from kiosk.runner import ThreadRunner
from kiosk.screens import lottery, loyalty, shop, start
from kiosk.screens.root import Builder, Ctx, KioskRoot
from kiosk.screens.widgets import Theme
from kiosk.states import Screen
from kiosk.wiring import Kiosk, build
from venue.config import load_config

log = logging.getLogger("venue.kiosk")

BUILDERS: dict[Screen, Builder] = {
    Screen.ATTRACT: start.attract,
    Screen.IDENTIFY: start.identify,
    Screen.SCAN: start.scan,
    Screen.CONSENT: start.consent,
    Screen.HOME: loyalty.home,
    Screen.REWARDS: loyalty.rewards,
    Screen.CONFIRM: loyalty.confirm,
    Screen.COUPON: loyalty.coupon,
    Screen.LOTTERY: lottery.lottery,
    Screen.PRIZE: lottery.prize,
    Screen.SHOP: shop.shop,
    Screen.ITEMS: shop.items,
    Screen.CART: shop.cart,
    Screen.ORDER: shop.order,
    Screen.DONE: start.done,
    Screen.PIN: start.pin,
    Screen.MAINTENANCE: start.maintenance,
}

TICK_S = 0.5


def ui_deliver(fn: Callable[[], None]) -> None:
    """Hand a worker's outcome to the UI thread (Kivy's Clock is safe to call from threads)."""
    Clock.schedule_once(lambda _dt: fn(), -1)


def settle_memory() -> None:
    """Move everything alive after start-up out of the garbage collector's sight.

    Start-up leaves a million long-lived objects (Kivy, phonenumbers' metadata); without this a
    full collection walks them all and stalls a frame for ~200 ms at a random tap (measured in
    bench/bench_kiosk.py). Frozen, a full collection only sees the screens built since.
    """
    gc.collect()
    gc.freeze()


def collect_between_customers(presenter: Presenter) -> None:
    """Run full garbage collections only when nobody is waiting.

    Each screen is rebuilt from new widgets, and the old ones end in cycles that only a full
    (generation 2) collection frees; Python runs one at a random allocation, and with a few
    hundred screens' worth of widgets it stalls that frame by 100-200 ms (bench_kiosk.py saw
    the p95 double). So automatic generation-2 runs are pushed out of reach and a full collection
    runs once the kiosk is back on Attract (or a customer finished), a moment nobody waits on.
    """
    settle_memory()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 1_000_000)
    last = {"screen": presenter.state.screen}

    def on_change(state: Any) -> None:
        if state.screen != last["screen"] and state.screen in (Screen.ATTRACT, Screen.DONE):
            Clock.schedule_once(lambda _dt: gc.collect(), 0.3)
        last["screen"] = state.screen

    presenter.subscribe(on_change)


def media_cache(cfg: KioskConfig) -> MediaCache:
    """Pictures from the hub under ``{data_dir}/media``, bounded by ``kiosk.media_max_mb``."""
    return MediaCache(Path(cfg.device.data_dir) / "media",
                      max_bytes=int(cfg.kiosk.media_max_mb * 1024 * 1024))


def apply_rotation(rotation: int) -> None:
    """Turn the picture (and the touches with it) for a display mounted rotated.

    ``graphics.rotation`` in Kivy's config already sets it when the window opens; setting
    ``Window.rotation`` again here makes it hold whatever window provider read the config.
    """
    from kivy.core.window import Window

    if Window is not None and Window.rotation != rotation:
        Window.rotation = rotation


def make_root(kiosk: Kiosk, translator: Translator | None = None) -> KioskRoot:
    """The root widget for a wired kiosk."""
    cfg = kiosk.cfg.kiosk
    ctx = Ctx(kiosk.presenter, Theme.from_branding(cfg.branding), cfg.branding,
              translator or Translator(), lang=kiosk.presenter.state.lang)
    return KioskRoot(ctx, BUILDERS)


class KioskApp(App):
    """The kiosk full screen. ``config_path`` is re-read by the ``reload`` command."""

    title = "venue kiosk"

    def __init__(self, cfg: KioskConfig, config_path: str | None, **kw: Any) -> None:
        super().__init__(**kw)
        self.cfg = cfg
        self.config_path = config_path
        self.runner = ThreadRunner(ui_deliver)
        self.kiosk = build(cfg, self.runner, actions={"reload": self.reload,
                                                      "restart": self.restart})
        self.kiosk.presenter.attach_media(media_cache(cfg))
        self.root_widget: KioskRoot | None = None
        self.camera: Any = None

    def build(self) -> KioskRoot:
        self.root_widget = make_root(self.kiosk)
        return self.root_widget

    def on_start(self) -> None:
        k = self.kiosk
        apply_rotation(effective_rotation(self.cfg.kiosk.display))
        if k.link is not None:
            k.attach_commands(ui_deliver, self.reload)
            k.link.start()
        Clock.schedule_interval(lambda _dt: k.presenter.tick(), TICK_S)
        if k.link is not None:
            Clock.schedule_interval(lambda _dt: self._telemetry(), self.cfg.kiosk.telemetry_s)
        self._start_camera()
        collect_between_customers(k.presenter)
        log.info("kiosk %s ready (hub %s)", self.cfg.device.id, self.cfg.kiosk.hub_url)

    def _telemetry(self) -> None:
        try:
            self.kiosk.link.publish_telemetry(self.kiosk.telemetry())
        except Exception:
            log.debug("telemetry failed", exc_info=True)

    def _start_camera(self) -> None:
        kind = self.cfg.kiosk.camera.kind
        if kind == "none":
            return
        from kiosk.camera import CardScanner

        p = self.kiosk.presenter

        def found(text: str) -> None:
            ui_deliver(lambda: p.card_scanned(text))

        def wanted() -> bool:
            return (p.state.screen in (Screen.SCAN, Screen.IDENTIFY, Screen.LOTTERY)
                    and p.state.busy is None)

        try:
            self.camera = CardScanner(self.cfg.kiosk.camera, on_code=found, active=wanted)
            self.camera.start()
        except Exception:
            log.exception("camera %s unavailable; card QR scanning is off", kind)

    def reload(self) -> None:
        """Re-read the config file; keep running with the old one when it is broken."""
        try:
            cfg = load_config(KioskConfig, self.config_path)
        except Exception as exc:
            log.error("reload refused: %s", exc)
            return
        self.cfg = cfg
        self.kiosk.reload(cfg)
        if self.root_widget is not None:
            self.root_widget.ctx.branding = cfg.kiosk.branding
            self.root_widget.ctx.theme = Theme.from_branding(cfg.kiosk.branding)
            self.root_widget.render_now()
        log.info("config reloaded")

    def restart(self) -> None:
        """Replace this process with a fresh one (same command line)."""
        log.info("restart requested from maintenance")
        self.on_stop()
        os.execv(sys.executable, [sys.executable, *sys.argv])

    def on_stop(self) -> None:
        if self.camera is not None:
            self.camera.stop()
            self.camera = None
        self.runner.stop()
        self.kiosk.close()


def run_kiosk(cfg: KioskConfig, config_path: str | None) -> int:
    """Run until the window closes or the process is signalled."""
    from venue.runtime import SystemdNotifier

    Path(cfg.device.data_dir).mkdir(parents=True, exist_ok=True)
    notifier = SystemdNotifier()
    app = KioskApp(cfg, config_path)
    Clock.schedule_once(lambda _dt: notifier.ready("kiosk: running"), 0)
    if notifier.watchdog_interval:
        Clock.schedule_interval(lambda _dt: notifier.watchdog(), notifier.watchdog_interval / 2)
    try:
        app.run()
    finally:
        notifier.stopping("kiosk: stopping")
    return 0
