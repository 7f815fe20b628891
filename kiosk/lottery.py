"""Lottery play on Rewards: scan the receipt's QR or type its code, then the prize.

A mixin of :class:`kiosk.presenter.Presenter`. Playing needs the hub (each code plays once, and
only the hub knows who played it), so offline it is refused with a clear message. The idempotency
key belongs to the code: sending the same code again after a lost answer is the same play and
gets the first answer (a prize is never lost to a timeout), while another code gets a new key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kiosk.jobs import Backend, new_key
from kiosk.models import HubError, HubReason, LotteryPlay
from kiosk.states import N_, Msg, Screen, ViewState
from kiosk.texts import OFFLINE_PLAY, PLAY_TEXT, TRY_AGAIN

MAX_CODE = 200
"""Longest text sent as a code (the hub's limit); a longer QR is not a lottery code."""
MAX_TYPED = 64
"""Longest code the keyboard takes (the hub's codes are 4-64 letters and digits)."""
CODE_KEYS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"


def clean_code(text: str) -> str:
    """A scanned or typed code as sent: surrounding blanks removed, nothing else changed (the
    hub normalises case, dashes and spaces)."""
    return text.strip()


class LotteryFlow:
    """Lottery intents; expects the presenter's state, ``_set``, ``_intent`` and ``_run``."""

    state: ViewState
    backend: Backend
    settings: Any
    _set: Callable[..., None]
    _intent: Callable[[], bool]
    _run: Callable[..., None]
    _play_key: tuple[str, str] | None
    refresh_offers: Callable[[], None]

    def open_lottery(self) -> None:
        """"Play" on Rewards."""
        if not (self._intent() and self.state.screen == Screen.REWARDS and self.state.lotteries):
            return
        if self.state.offline:
            self._set(message=Msg.of(OFFLINE_PLAY, "error"))
            return
        self._set(screen=Screen.LOTTERY, code_display="", play=None)

    def code_key(self, key: str) -> None:
        """A key of the on-screen keyboard."""
        s = self.state
        if (self._intent() and s.screen == Screen.LOTTERY and key in CODE_KEYS
                and len(s.code_display) < MAX_TYPED):
            self._set(code_display=s.code_display + key, message=None)

    def code_backspace(self) -> None:
        if self._intent() and self.state.screen == Screen.LOTTERY:
            self._set(code_display=self.state.code_display[:-1], message=None)

    def code_clear(self) -> None:
        if self._intent() and self.state.screen == Screen.LOTTERY:
            self._set(code_display="", message=None)

    def submit_code(self) -> None:
        """"Play" under the typed code."""
        if self._intent() and self.state.screen == Screen.LOTTERY and self.state.code_display:
            self._play(self.state.code_display)

    def lottery_scanned(self, text: str) -> None:
        """A QR read by the camera while the lottery screen is shown."""
        if not (self._intent() and self.state.screen == Screen.LOTTERY and clean_code(text)):
            return
        code = clean_code(text)
        if len(code) > MAX_CODE:  # some other QR held up to the camera
            self._set(message=Msg.of(PLAY_TEXT[HubReason.UNKNOWN_CODE], "error"))
            return
        self._play(code)

    def _play(self, code: str) -> None:
        state = self.state
        if state.summary is None:
            return
        if state.offline:
            self._set(message=Msg.of(OFFLINE_PLAY, "error"))
            return
        if self._play_key is None or self._play_key[0] != code:
            self._play_key = (code, new_key(self.settings.device, "play"))
        key = self._play_key[1]
        customer = state.summary.customer

        def done(result: LotteryPlay) -> None:
            self._play_key = None
            summary = self.state.summary
            if result.coupon is not None and summary is not None:
                summary = replace(summary, coupons=(*summary.coupons, result.coupon))
            self._set(screen=Screen.PRIZE, play=result, summary=summary, code_display="",
                      offline=False)

        def failed(error: HubError) -> None:
            if error.reason != HubReason.OFFLINE:
                self._play_key = None  # answered for good: the next try is a new play
            if error.reason in (HubReason.ENDED, HubReason.NO_PRIZES):
                self.refresh_offers()  # Rewards stops offering it
            self._set(message=Msg.of(PLAY_TEXT.get(error.reason, TRY_AGAIN), "error"))

        self._run(N_("Checking your code…"),
                  lambda: self.backend.hub.play_lottery(customer=customer, code=code,
                                                        idempotency_key=key),
                  done, failed)
