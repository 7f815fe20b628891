"""Builds a kiosk from its config: hub client (or demo data), store, backend, presenter, MQTT.

Kept free of Kivy so the pieces can be built and checked without a display; the Kivy app
(:mod:`kiosk.app`) and the screenshot tour take a :class:`Kiosk` from :func:`build`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import venue
from kiosk.config import KioskConfig
from kiosk.demo import DemoHub
from kiosk.hub_client import HttpHubClient
from kiosk.jobs import Backend
from kiosk.models import HubClient
from kiosk.presenter import Presenter, Settings
from kiosk.runner import Runner
from kiosk.states import MaintenanceInfo
from kiosk.store import KioskStore
from venue.clock import SYSTEM_CLOCK, Clock
from venue.health import Health
from venue.phone import set_default_region

log = logging.getLogger("venue.kiosk")


class MqttEvents:
    """:class:`~kiosk.presenter.EventSink` over the MQTT link: ``kiosk.checkin``/``kiosk.order``.

    Payloads carry customer ids only (docs/contracts.md); the event envelope refuses phone keys.
    """

    def __init__(self, link: Any) -> None:
        self.link = link
        self.counts = {"checkins": 0, "orders": 0}

    def checkin(
        self, *, customer: str, business: int, credited: bool, reason: str, offline: bool
    ) -> None:
        self.counts["checkins"] += 1
        self.link.publish_event("kiosk.checkin", {
            "customer": customer, "business": business, "credited": credited,
            "reason": reason, "offline": offline,
        })

    def order(self, *, check: int, number: str, total: str, currency: str, lines: int) -> None:
        self.counts["orders"] += 1
        self.link.publish_event("kiosk.order", {
            "check": check, "number": number, "total": total, "currency": currency,
            "lines": lines,
        })


def settings_from(cfg: KioskConfig) -> Settings:
    k = cfg.kiosk
    return Settings(
        device=cfg.device.id,
        region=k.region.upper(),
        businesses=tuple(k.businesses),
        shop_business=k.shop,
        languages=tuple(k.languages),
        default_language=k.default_language,
        idle_timeout_s=k.idle_timeout_s,
        done_timeout_s=k.done_timeout_s,
        retry_s=k.retry_s,
        maintenance_pin=k.maintenance_pin,
        camera=k.camera.kind != "none",
        # identify + one visit per business, each bounded by twice the HTTP timeout
        busy_limit_s=max(8.0, 2.5 * k.http_timeout_s * (1 + len(k.businesses))),
    )


def make_hub(cfg: KioskConfig, clock: Clock) -> HubClient:
    """The HTTP client, or the demo data source for ``hub_url = "demo:"``."""
    k = cfg.kiosk
    if k.demo:
        return DemoHub(clock=clock, region=k.region.upper())
    return HttpHubClient(k.hub_url, k.resolved_token(), timeout=k.http_timeout_s)


@dataclass
class Kiosk:
    """Everything but the views."""

    cfg: KioskConfig
    presenter: Presenter
    hub: HubClient
    store: KioskStore
    link: Any = None
    events: MqttEvents | None = None
    health: Health | None = None

    def telemetry(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.health.numbers()) if self.health else {}
        data.update(
            screen=self.presenter.state.screen.value,
            offline=self.presenter.state.offline,
            queued_credits=self.store.queue_depth(),
        )
        if self.events is not None:
            data.update(self.events.counts)
        if self.link is not None:
            data["outbox_depth"] = self.link.stats().get("outbox_depth", 0)
        return data

    def attach_commands(
        self, on_ui: Callable[[Callable[[], None]], None], reload: Callable[[], None]
    ) -> None:
        """Obey ``reload`` (re-read the config on the UI thread) and ``ping`` (answer with the
        telemetry numbers) from the MQTT link's command thread."""
        if self.link is None:
            return

        def on_reload(cmd: Any) -> dict[str, Any]:
            log.info("reload asked by %s", getattr(cmd, "by", "") or "?")
            on_ui(reload)
            return {"reloading": True}

        self.link.on_command("reload", on_reload)
        self.link.on_command("ping", lambda cmd: {"pong": True, **self.telemetry()})

    def reload(self, cfg: KioskConfig) -> None:
        """Take new timeouts, languages, PIN and businesses (branding is redrawn by the app)."""
        self.cfg = cfg
        self.presenter.settings = settings_from(cfg)
        self.presenter.backend.businesses = list(cfg.kiosk.businesses)
        set_default_region(cfg.kiosk.region)

    def close(self) -> None:
        if self.link is not None:
            try:
                self.link.stop()
            except Exception:
                log.exception("stopping the MQTT link failed")
        close = getattr(self.hub, "close", None)
        if callable(close):
            close()
        self.store.close()


def build(
    cfg: KioskConfig,
    runner: Runner,
    *,
    hub: HubClient | None = None,
    clock: Clock | None = None,
    mqtt: bool = True,
    link: Any = None,
    actions: dict[str, Callable[[], None]] | None = None,
    store: KioskStore | None = None,
) -> Kiosk:
    """Wire a kiosk. ``mqtt=False`` runs without a broker (tour, tests, bench)."""
    clock = clock or SYSTEM_CLOCK
    set_default_region(cfg.kiosk.region)
    hub = hub or make_hub(cfg, clock)
    store = store or KioskStore(cfg.data_path("kiosk-queue.db", cfg.kiosk.queue))
    events: MqttEvents | None = None
    if mqtt and link is None:
        from venue.mqtt import MqttLink
        from venue.outbox import Outbox
        from venue.topics import DeviceRef

        ref = DeviceRef(cfg.device.site, "kiosk", cfg.device.id)
        outbox = Outbox(cfg.data_path("kiosk-outbox.db", None), max_items=cfg.mqtt.outbox_max)
        link = MqttLink(ref, cfg.mqtt, outbox=outbox, clock=clock,
                        status_extra=lambda: {"hub": "demo" if cfg.kiosk.demo else "http"})
    if link is not None:
        events = MqttEvents(link)
        if hasattr(link, "when_connected"):
            from venue import ha

            # Home Assistant shows the kiosk's screen and hub state, and a reload button.
            ha.attach(link, ha.KIOSK_ENTITIES, name=f"Kiosk {cfg.device.id}")
    backend = Backend(hub, store, clock, device=cfg.device.id,
                      businesses=list(cfg.kiosk.businesses))
    kiosk = Kiosk(cfg, None, hub, store, link, events, Health(clock=clock))  # type: ignore[arg-type]

    def status(offline: bool) -> MaintenanceInfo:
        stats = link.stats() if link is not None else {}
        broker = ("connected" if stats.get("connected") else "disconnected") if link else "off"
        return MaintenanceInfo(
            device=cfg.device.id, version=venue.__version__, hub=kiosk.cfg.kiosk.hub_url,
            hub_state="offline" if offline else "online", broker=broker,
            outbox_depth=int(stats.get("outbox_depth", 0)), queued_credits=store.queue_depth(),
        )

    kiosk.presenter = Presenter(backend, runner, clock, settings_from(cfg),
                                events=events, status=status, actions=actions)
    return kiosk


def with_demo(cfg: KioskConfig) -> KioskConfig:
    """The config with the demo data source (``--demo``, ``--screenshot-tour``)."""
    return replace(cfg, kiosk=replace(cfg.kiosk, hub_url="demo:"))
