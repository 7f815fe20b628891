"""The maintenance screen's way in (hidden taps + PIN) and its actions; a presenter mixin.

Five taps on the venue name within three seconds, on Attract only, open a PIN pad; three wrong
PINs send the kiosk back to Attract. Behind it a technician sees the device, hub and broker state
and the queues, and can retry queued credits, reload the config or restart the app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kiosk.states import N_, MaintenanceInfo, Msg, Screen, ViewState
from venue.clock import Clock

log = logging.getLogger("venue.kiosk")

SECRET_TAPS = 5
SECRET_WINDOW_S = 3.0
PIN_TRIES = 3


class MaintenanceFlow:
    """Maintenance intents; expects the presenter's state, clock, settings and ``_set``."""

    state: ViewState
    clock: Clock
    settings: Any
    status: Callable[[bool], MaintenanceInfo] | None
    actions: dict[str, Callable[[], None]]
    _taps: list[float]
    _pin: str
    _pin_failures: int
    _set: Callable[..., None]
    touched: Callable[[], None]
    reset: Callable[[], None]
    retry_now: Callable[[], None]

    def secret_tap(self) -> None:
        """A tap on the hidden corner of Attract; five within three seconds open the PIN pad."""
        if self.state.screen != Screen.ATTRACT:
            return
        now = self.clock.monotonic()
        self._taps = [t for t in self._taps if now - t <= SECRET_WINDOW_S] + [now]
        if len(self._taps) >= SECRET_TAPS:
            self._taps.clear()
            self._pin = ""
            self.touched()
            self._set(screen=Screen.PIN, pin_display="")

    def pin_digit(self, digit: str) -> None:
        self.touched()
        if self.state.screen == Screen.PIN and digit.isdigit() and len(self._pin) < 8:
            self._pin += digit
            self._set(pin_display="●" * len(self._pin), message=None)

    def pin_submit(self) -> None:
        self.touched()
        if self.state.screen != Screen.PIN:
            return
        ok, self._pin = self._pin == self.settings.maintenance_pin, ""
        if ok:
            self._pin_failures = 0
            info = self.status(self.state.offline) if self.status else None
            self._set(screen=Screen.MAINTENANCE, pin_display="", maintenance=info)
            return
        self._pin_failures += 1
        log.warning("wrong maintenance PIN (%d)", self._pin_failures)
        if self._pin_failures >= PIN_TRIES:
            self._pin_failures = 0
            self.reset()
            return
        self._set(pin_display="", message=Msg.of(N_("Wrong PIN."), "error"))

    def maintenance_action(self, name: str) -> None:
        self.touched()
        if self.state.screen != Screen.MAINTENANCE:
            return
        if name == "retry":
            self.retry_now()
            return
        action = self.actions.get(name)
        if action is not None:
            log.info("maintenance: %s", name)
            action()


