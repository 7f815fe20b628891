"""Kiosk test helpers: a scriptable hub double, a held runner, and a presenter factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.demo import DemoHub
from kiosk.jobs import Backend
from kiosk.models import HubError, HubReason
from kiosk.presenter import Presenter, Settings
from kiosk.runner import SyncRunner
from kiosk.states import MaintenanceInfo
from kiosk.store import KioskStore
from venue.clock import FakeClock

KNOWN_DIGITS = "0671234567"  # the demo's returning customer on a UA keypad
NEW_DIGITS = "0509876543"


class ScriptedHub(DemoHub):
    """The demo data with failures on demand and every call recorded.

    ``fail["identify"] = HubError(...)`` makes that method raise (until removed);
    ``down = True`` makes every call fail as an unreachable hub does.
    """

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.fail: dict[str, HubError] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.down = False

    def _guard(self, name: str, **kw: Any) -> None:
        self.calls.append((name, kw))
        if self.down:
            raise HubError(HubReason.OFFLINE, "down")
        if name in self.fail:
            raise self.fail[name]

    def identify(self, **kw: Any) -> Any:  # type: ignore[override]
        self._guard("identify", **kw)
        return super().identify(**kw)

    def register(self, **kw: Any) -> Any:  # type: ignore[override]
        self._guard("register", **kw)
        return super().register(**kw)

    def credit_visit(self, visit: Any) -> Any:
        self._guard("credit_visit", visit=visit)
        return super().credit_visit(visit)

    def redeem(self, reward: int, **kw: Any) -> Any:  # type: ignore[override]
        self._guard("redeem", reward=reward, **kw)
        return super().redeem(reward, **kw)

    def catalog(self, business: int) -> Any:
        self._guard("catalog", business=business)
        return super().catalog(business)

    def submit_check(self, **kw: Any) -> Any:  # type: ignore[override]
        self._guard("submit_check", **kw)
        return super().submit_check(**kw)

    def lotteries(self, businesses: list[int]) -> Any:
        self._guard("lotteries", businesses=businesses)
        return super().lotteries(businesses)

    def play_lottery(self, **kw: Any) -> Any:  # type: ignore[override]
        self._guard("play_lottery", **kw)
        return super().play_lottery(**kw)

    def promotions(self, businesses: list[int]) -> Any:
        self._guard("promotions", businesses=businesses)
        return super().promotions(businesses)

    def claim_promotion(self, promotion: int, **kw: Any) -> Any:  # type: ignore[override]
        self._guard("claim_promotion", promotion=promotion, **kw)
        return super().claim_promotion(promotion, **kw)

    def media(self, path: str) -> bytes | None:
        try:
            self._guard("media", path=path)
        except HubError:
            return None  # as the HTTP client answers for a picture it cannot have
        return super().media(path)

    def ping(self) -> bool:
        self.calls.append(("ping", {}))
        return not self.down

    def called(self, name: str) -> list[dict[str, Any]]:
        return [kw for n, kw in self.calls if n == name]


class HeldRunner:
    """Keeps jobs until the test releases them: the 'call in flight' moments."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[[], Any], Callable[[Any, BaseException | None], None]]] = []

    def submit(self, job: Callable[[], Any], done: Any) -> None:
        self.jobs.append((job, done))

    def release_all(self) -> None:
        while self.jobs:
            job, done = self.jobs.pop(0)
            SyncRunner().submit(job, done)


class Events:
    def __init__(self) -> None:
        self.checkins: list[dict[str, Any]] = []
        self.orders: list[dict[str, Any]] = []

    def checkin(self, **kw: Any) -> None:
        self.checkins.append(kw)

    def order(self, **kw: Any) -> None:
        self.orders.append(kw)


def make_presenter(
    clock: FakeClock,
    hub: ScriptedHub | None = None,
    *,
    runner: Any = None,
    store: KioskStore | None = None,
    **settings: Any,
) -> tuple[Presenter, ScriptedHub, Events, KioskStore]:
    hub = hub or ScriptedHub(clock)
    store = store or KioskStore(":memory:")
    events = Events()
    backend = Backend(hub, store, clock, device="k1", businesses=[1])
    settings.setdefault("device", "k1")

    def status(offline: bool) -> MaintenanceInfo:
        return MaintenanceInfo("k1", "0.1.0", "demo:", "offline" if offline else "online",
                               "connected", 0, store.queue_depth())

    p = Presenter(backend, runner or SyncRunner(), clock, Settings(**settings), events=events,
                  status=status)
    return p, hub, events, store


def type_number(p: Presenter, digits: str) -> None:
    for d in digits:
        p.press_digit(d)
