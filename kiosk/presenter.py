"""The kiosk's screen flow as a state machine, with no Kivy in it.

Views call the intent methods (``press_digit``, ``submit_phone``, ``open_rewards`` ...) on the UI
thread and redraw from :attr:`Presenter.state` whenever it changes. Anything that waits on the
hub is handed to the injected :class:`~kiosk.runner.Runner` as a job of :class:`~kiosk.jobs.Backend`
and comes back through a callback; a result that arrives after the customer left (idle timeout)
belongs to an old *session* and is dropped. Time comes from the injected clock, so tests drive
idle timeouts and retries without sleeping. The app calls :meth:`tick` twice a second.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kiosk.jobs import Backend, Identified, Retried, new_key, with_points
from kiosk.keypad import PhoneInput
from kiosk.lottery import LotteryFlow
from kiosk.maintenance import MaintenanceFlow
from kiosk.media import MediaCache
from kiosk.models import HubError, HubReason, Reward, VisitResult
from kiosk.offers import OffersFlow
from kiosk.ports import EventSink, NullEvents, Settings
from kiosk.runner import Runner
from kiosk.shop import ShopFlow
from kiosk.states import N_, MaintenanceInfo, Msg, Screen, ViewState
from kiosk.texts import OFFLINE_SPEND, REASON_TEXT, visit_note
from venue.clock import Clock
from venue.errors import PhoneNumberError

log = logging.getLogger("venue.kiosk")


class Presenter(ShopFlow, LotteryFlow, OffersFlow, MaintenanceFlow):
    """The state machine. See the module docstring for threads and sessions.

    Args:
        backend: Hub calls with the offline rules.
        runner: Runs backend jobs off the UI thread.
        clock: For idle and retry timing (monotonic) and visit times (wall).
        settings: Timeouts, businesses, languages, PIN.
        events: Receives ``kiosk.checkin`` / ``kiosk.order``.
        status: Builds the maintenance screen's :class:`MaintenanceInfo`.
        actions: Maintenance actions by name (``reload``, ``restart``).
        media: Where pictures are kept; ``None``: tiles show initials (see ``attach_media``).
    """

    def __init__(
        self,
        backend: Backend,
        runner: Runner,
        clock: Clock,
        settings: Settings,
        *,
        events: EventSink | None = None,
        status: Callable[[bool], MaintenanceInfo] | None = None,
        actions: dict[str, Callable[[], None]] | None = None,
        media: MediaCache | None = None,
    ) -> None:
        self.backend = backend
        self.runner = runner
        self.clock = clock
        self.settings = settings
        self.events: EventSink = events or NullEvents()
        self.status = status
        self.actions = dict(actions or {})
        self.phone = PhoneInput(settings.region)
        self._listeners: list[Callable[[ViewState], None]] = []
        self._session = 0
        self._call = 0
        self._busy_since = clock.monotonic()
        self._busy_failed: Callable[[HubError], None] = lambda error: None
        self._last_touch = clock.monotonic()
        self._screen_since = clock.monotonic()
        self._next_retry = clock.monotonic()
        self._retrying = False
        self._taps: list[float] = []
        self._pin = ""
        self._pin_failures = 0
        self._pending_e164: str | None = None
        self._redeem_key: str | None = None
        self._order_key: str | None = None
        self._play_key: tuple[str, str] | None = None
        self.media = media
        self._init_offers()
        self.state = ViewState(
            lang=settings.default_language,
            languages=settings.languages,
            prefix=self.phone.prefix,
            camera=settings.camera,
        )

    # -- plumbing ----------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[ViewState], None]) -> None:
        """Call ``listener(state)`` after every change (the app redraws there)."""
        self._listeners.append(listener)

    def _set(self, **changes: Any) -> None:
        if "screen" in changes and changes["screen"] != self.state.screen:
            self._screen_since = self.clock.monotonic()
            changes.setdefault("message", None)
        self.state = replace(self.state, **changes)
        for listener in self._listeners:
            listener(self.state)

    def _run(self, busy: str, job: Callable[[], Any], done: Callable[[Any], None],
             failed: Callable[[HubError], None]) -> None:
        """Run ``job`` off the UI thread; drop its outcome if the session ended meanwhile or
        the customer was already told it took too long."""
        self._call += 1
        session, call = self._session, self._call
        self._busy_since = self.clock.monotonic()
        self._busy_failed = failed
        self._set(busy=Msg.of(busy), message=None)

        def finish(result: Any, error: BaseException | None) -> None:
            if session != self._session or call != self._call:
                return
            self.state = replace(self.state, busy=None)
            if error is None:
                done(result)
            elif isinstance(error, HubError):
                if error.reason == HubReason.OFFLINE:
                    self.state = replace(self.state, offline=True)
                failed(error)
            else:
                log.error("kiosk job failed", exc_info=error)
                failed(HubError(HubReason.OFFLINE, str(error)))

        self.runner.submit(job, finish)

    def touched(self) -> None:
        """Any touch: the customer is still here."""
        self._last_touch = self.clock.monotonic()

    def _intent(self) -> bool:
        """Common start of an intent: note activity; False while a call is running."""
        self.touched()
        return self.state.busy is None

    def reset(self) -> None:
        """Back to Attract; forget the customer, the typed digits, the cart, the language."""
        self._session += 1
        self.phone.clear()
        self._pending_e164 = None
        self._redeem_key = self._order_key = self._play_key = None
        self._claim_keys.clear()
        self._pictures_failed.clear()
        self._pin = ""
        s = self.settings
        self._set(
            screen=Screen.ATTRACT, lang=s.default_language, busy=None, message=None,
            phone_display="", can_submit=False, summary=None, visits=(), notes=(), reward=None,
            coupon=None, balance_after=None, catalog=None, category=None, cart=(), order=None,
            pin_display="", maintenance=None, claimed=frozenset(), code_display="", play=None,
        )

    # -- attract and identify ----------------------------------------------------------------------

    def choose_language(self, lang: str) -> None:
        if self._intent() and lang in self.settings.languages:
            self._set(lang=lang)

    def begin(self) -> None:
        """The call to action on Attract."""
        if self._intent() and self.state.screen == Screen.ATTRACT:
            self.phone.clear()
            self._set(screen=Screen.IDENTIFY, phone_display="", can_submit=False)

    def press_digit(self, digit: str) -> None:
        if self.state.screen == Screen.PIN:
            self.pin_digit(digit)
            return
        if self._intent() and self.state.screen == Screen.IDENTIFY and self.phone.press(digit):
            self._keypad_changed()

    def backspace(self) -> None:
        if self._intent() and self.state.screen == Screen.IDENTIFY:
            self.phone.backspace()
            self._keypad_changed()

    def clear(self) -> None:
        if self._intent() and self.state.screen == Screen.IDENTIFY:
            self.phone.clear()
            self._keypad_changed()

    def _keypad_changed(self) -> None:
        self._set(phone_display=self.phone.display(), can_submit=self.phone.possible(),
                  message=None)

    def submit_phone(self) -> None:
        """Continue on the keypad: validate locally, then ask the hub."""
        if not (self._intent() and self.state.screen == Screen.IDENTIFY):
            return
        try:
            e164 = self.phone.e164()
        except PhoneNumberError:
            self._set(message=Msg.of(REASON_TEXT[HubReason.INVALID_PHONE], "error"))
            return
        self._pending_e164 = e164
        self._run(N_("Looking you up…"), lambda: self.backend.identify(e164=e164),
                  self._identified, self._identify_failed)

    def open_scanner(self) -> None:
        if self._intent() and self.state.screen == Screen.IDENTIFY and self.settings.camera:
            self._set(screen=Screen.SCAN)

    def card_scanned(self, token: str) -> None:
        """A QR read by the camera on the scan screen (or anywhere on Identify); on the lottery
        screen it is the receipt's code."""
        if self.state.screen == Screen.LOTTERY:
            self.lottery_scanned(token)
            return
        if not (self._intent() and self.state.screen in (Screen.SCAN, Screen.IDENTIFY)):
            return
        self._pending_e164 = None
        self._run(N_("Looking you up…"), lambda: self.backend.identify(card=token.strip()),
                  self._identified, self._identify_failed)

    def _identified(self, result: Identified) -> None:
        self.phone.clear()
        self._set(
            screen=Screen.HOME, summary=result.summary, visits=result.visits,
            notes=tuple(visit_note(v) for v in result.visits if visit_note(v) is not None),
            offline=result.offline, phone_display="", can_submit=False,
        )
        for v in result.visits:
            if not v.queued:
                self._report_checkin(result.summary.customer, v, offline=False)
        self._want_pictures(r.image for r in result.summary.rewards)

    def _identify_failed(self, error: HubError) -> None:
        if error.reason == HubReason.UNKNOWN_CUSTOMER and self._pending_e164 is not None:
            self._set(screen=Screen.CONSENT)
            return
        screen = Screen.IDENTIFY
        self._set(screen=screen, message=Msg.of(REASON_TEXT[error.reason], "error"))

    def accept_terms(self) -> None:
        """Consent given: only now is the customer registered (and anything stored)."""
        if not (self._intent() and self.state.screen == Screen.CONSENT and self._pending_e164):
            return
        e164 = self._pending_e164

        def failed(error: HubError) -> None:
            self._set(message=Msg.of(REASON_TEXT[error.reason], "error"))

        self._run(N_("Creating your card…"), lambda: self.backend.register(e164),
                  self._identified, failed)

    def decline_terms(self) -> None:
        if self._intent() and self.state.screen == Screen.CONSENT:
            self.reset()

    # -- home and rewards --------------------------------------------------------------------------

    def open_rewards(self) -> None:
        if not (self._intent() and self.state.screen == Screen.HOME):
            return
        if self.state.offline:
            self._set(message=Msg.of(OFFLINE_SPEND, "error"))
            return
        self._set(screen=Screen.REWARDS)

    def choose_reward(self, reward_id: int) -> None:
        if not (self._intent() and self.state.screen == Screen.REWARDS and self.state.summary):
            return
        reward = next((r for r in self.state.summary.rewards if r.id == reward_id), None)
        if reward is None:
            return
        if not reward.affordable:
            self._set(message=self._short_of(reward))
            return
        self._redeem_key = new_key(self.settings.device, "redeem")
        self._set(screen=Screen.CONFIRM, reward=reward)

    def _short_of(self, reward: Reward, balance: int | None = None) -> Msg:
        summary = self.state.summary
        if balance is None and summary is not None:
            b = summary.balance(reward.business)
            balance = b.points if b else 0
        return Msg.of(N_("You need {missing} more points for {name}."), "error",
                      missing=max(0, reward.cost - (balance or 0)), name=reward.name)

    def confirm_reward(self) -> None:
        state = self.state
        if not (self._intent() and state.screen == Screen.CONFIRM and state.reward
                and state.summary and self._redeem_key):
            return
        reward, customer, key = state.reward, state.summary.customer, self._redeem_key

        def done(result: Any) -> None:
            summary = self.state.summary
            assert summary is not None
            summary = with_points(summary, {reward.business: result.balance})
            summary = replace(summary, coupons=(*summary.coupons, result.coupon))
            self._redeem_key = None
            self._set(screen=Screen.COUPON, coupon=result.coupon, balance_after=result.balance,
                      summary=summary, offline=False)

        def failed(error: HubError) -> None:
            summary = self.state.summary
            if error.reason == HubReason.INSUFFICIENT_POINTS and summary is not None:
                balance = error.detail.get("balance")
                if isinstance(balance, int):
                    summary = with_points(summary, {reward.business: balance})
                self._set(screen=Screen.REWARDS, summary=summary)
                self._set(message=self._short_of(reward, balance if isinstance(balance, int)
                                                 else None))
                return
            text = OFFLINE_SPEND if error.reason == HubReason.OFFLINE else REASON_TEXT[error.reason]
            self._set(screen=Screen.REWARDS)
            self._set(message=Msg.of(text, "error"))

        self._run(N_("Getting your reward…"),
                  lambda: self.backend.hub.redeem(reward.id, customer=customer,
                                                  idempotency_key=key),
                  done, failed)

    def finish(self) -> None:
        """"I'm done": thank the customer, then back to Attract by itself."""
        if self._intent() and self.state.screen not in (Screen.ATTRACT, Screen.DONE):
            self._set(screen=Screen.DONE)

    def back(self) -> None:
        """The screen's back button; never a dead end."""
        if not self._intent():
            return
        target = {
            Screen.SCAN: Screen.IDENTIFY,
            Screen.REWARDS: Screen.HOME,
            Screen.CONFIRM: Screen.REWARDS,
            Screen.COUPON: Screen.HOME,
            Screen.LOTTERY: Screen.REWARDS,
            Screen.PRIZE: Screen.HOME,
            Screen.SHOP: Screen.HOME,
            Screen.ITEMS: Screen.SHOP,
            Screen.CART: Screen.ITEMS if self.state.category is not None else Screen.SHOP,
        }.get(self.state.screen)
        if target is None:
            self.reset()
        else:
            self._set(screen=target)

    # -- time --------------------------------------------------------------------------------------

    def tick(self) -> None:
        """Called periodically by the app: timeouts, retries of queued credits."""
        now = self.clock.monotonic()
        screen = self.state.screen
        if self.state.busy is not None and now - self._busy_since >= self.settings.busy_limit_s:
            # the worker is stuck on a hub that neither answers nor fails: give up on it here
            log.warning("hub call still running after %.0f s: treated as offline",
                        now - self._busy_since)
            self._call += 1
            self.state = replace(self.state, busy=None, offline=True)
            self._busy_failed(HubError(HubReason.OFFLINE, "no answer in time"))
        if screen == Screen.DONE and now - self._screen_since >= self.settings.done_timeout_s:
            self.reset()
        elif (screen != Screen.ATTRACT and self.state.busy is None
              and now - self._last_touch >= self.settings.idle_timeout_s):
            log.info("idle on %s: back to the start", screen.value)
            self.reset()
        if screen == Screen.MAINTENANCE and self.status is not None:
            self._set(maintenance=self.status(self.state.offline))
        if not self._retrying and now >= self._next_retry:
            self._retry()
        self._offers_tick(now)

    def _retry(self) -> None:
        self._retrying = True
        self._next_retry = self.clock.monotonic() + self.settings.retry_s

        def finish(result: Any, error: BaseException | None) -> None:
            self._retrying = False
            if error is not None or not isinstance(result, Retried):
                log.warning("retry of queued credits failed: %r", error)
                return
            for visit, answer in result.sent:
                self._report_checkin(visit.customer, answer, offline=True)
            if result.online != (not self.state.offline):
                self._set(offline=not result.online)

        self.runner.submit(self.backend.retry, finish)

    def retry_now(self) -> None:
        """Retry at the next tick (after the hub came back, or from maintenance)."""
        self._next_retry = self.clock.monotonic()

    def _report_checkin(self, customer: str, v: VisitResult, *, offline: bool) -> None:
        try:
            self.events.checkin(customer=customer, business=v.business, credited=v.credited,
                                reason=v.reason, offline=offline)
        except Exception:
            log.exception("cannot report kiosk.checkin")
