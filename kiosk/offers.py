"""Promotions (rotating on Attract, claimable on Home) and the pictures the screens show.

A mixin of :class:`kiosk.presenter.Presenter`. What runs now (promotions, lotteries) belongs to
the kiosk, not to a customer: it is fetched in the background every ``offers_refresh_s`` and kept
across customers; a failed refresh keeps what was known (and never turns the kiosk "offline":
that is for the customer's own calls to decide). Pictures are fetched one per job on the worker
thread, so a customer's call never waits behind a whole menu of them; a picture that cannot be had
leaves the tile's initial in place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from kiosk.jobs import Backend, new_key, with_points
from kiosk.media import MediaCache
from kiosk.models import Claim, HubError, HubReason, Lottery, Promotion
from kiosk.runner import Runner
from kiosk.states import N_, Msg, Screen, ViewState
from kiosk.texts import CLAIM_TEXT, OFFLINE_CLAIM, TRY_AGAIN
from venue.clock import Clock

log = logging.getLogger("venue.kiosk")


class OffersFlow:
    """Promotions, lotteries' list and pictures; expects the presenter's plumbing."""

    state: ViewState
    backend: Backend
    runner: Runner
    clock: Clock
    settings: Any
    media: MediaCache | None
    _set: Callable[..., None]
    _intent: Callable[[], bool]
    _run: Callable[..., None]

    def _init_offers(self) -> None:
        now = self.clock.monotonic()
        self._offers_next = now
        self._offers_loading = False
        self._promo_since = now
        self._claim_keys: dict[int, str] = {}
        self._pictures_wanted: list[str] = []
        self._pictures_failed: set[str] = set()
        self._picture_busy = False

    def attach_media(self, media: MediaCache | None) -> None:
        """Where pictures are kept (``{data_dir}/media``); without one, tiles show initials."""
        self.media = media
        self._want_pictures(p.image for p in self.state.promotions)

    # -- background refresh ------------------------------------------------------------------------

    def _offers_tick(self, now: float) -> None:
        if not self._offers_loading and now >= self._offers_next:
            self.refresh_offers()
        s = self.state
        if (s.screen == Screen.ATTRACT and len(s.promotions) > 1
                and now - self._promo_since >= self.settings.promo_rotate_s):
            self._promo_since = now
            self._set(promo_index=(s.promo_index + 1) % len(s.promotions))

    def refresh_offers(self) -> None:
        """Ask the hub what runs now (lotteries, promotions), off the UI thread."""
        self._offers_loading = True
        self._offers_next = self.clock.monotonic() + self.settings.offers_refresh_s
        businesses = list(self.settings.businesses)
        hub = self.backend.hub

        def job() -> tuple[tuple[Lottery, ...] | None, tuple[Promotion, ...] | None]:
            lotteries: tuple[Lottery, ...] | None = None
            promotions: tuple[Promotion, ...] | None = None
            try:
                lotteries = hub.lotteries(businesses)
            except HubError as exc:
                log.info("lotteries not available: %s", exc)
            try:
                promotions = hub.promotions(businesses)
            except HubError as exc:
                log.info("promotions not available: %s", exc)
            return lotteries, promotions

        def finish(result: Any, error: BaseException | None) -> None:
            self._offers_loading = False
            if error is not None:
                log.warning("refreshing offers failed: %r", error)
                return
            lotteries, promotions = result
            changes: dict[str, Any] = {}
            if lotteries is not None and lotteries != self.state.lotteries:
                changes["lotteries"] = lotteries
            if promotions is not None and promotions != self.state.promotions:
                changes["promotions"] = promotions
                changes["promo_index"] = 0
                self._promo_since = self.clock.monotonic()
            if changes:
                self._set(**changes)
            self._want_pictures(p.image for p in self.state.promotions)

        self.runner.submit(job, finish)

    # -- claiming a promotion's coupon -------------------------------------------------------------

    def claim_promotion(self, promotion_id: int) -> None:
        """Home's "claim" entry: the promotion's coupon, once per customer."""
        state = self.state
        if not (self._intent() and state.screen == Screen.HOME and state.summary):
            return
        promo = next((p for p in state.claimable() if p.id == promotion_id), None)
        if promo is None or promo.coupon is None:
            return
        if state.offline:
            self._set(message=Msg.of(OFFLINE_CLAIM, "error"))
            return
        customer = state.summary.customer
        key = self._claim_keys.setdefault(promo.id, new_key(self.settings.device, "claim"))

        def done(result: Claim) -> None:
            self._claim_keys.pop(promo.id, None)
            summary = self.state.summary
            assert summary is not None
            if result.balance is not None:
                summary = with_points(summary, {promo.business: result.balance})
            summary = replace(summary, coupons=(*summary.coupons, result.coupon))
            self._set(screen=Screen.COUPON, coupon=result.coupon, balance_after=result.balance,
                      summary=summary, claimed=self.state.claimed | {promo.id}, offline=False)

        def failed(error: HubError) -> None:
            if error.reason != HubReason.OFFLINE:
                self._claim_keys.pop(promo.id, None)
            changes: dict[str, Any] = {}
            if error.reason in (HubReason.ALREADY_CLAIMED, HubReason.ENDED, HubReason.NO_COUPON):
                changes["claimed"] = self.state.claimed | {promo.id}
            if error.reason == HubReason.INSUFFICIENT_POINTS and promo.coupon is not None:
                balance = error.detail.get("balance")
                summary = self.state.summary
                if isinstance(balance, int) and summary is not None:
                    changes["summary"] = with_points(summary, {promo.business: balance})
                else:
                    b = summary.balance(promo.business) if summary else None
                    balance = b.points if b else 0
                msg = Msg.of(N_("You need {missing} more points for {name}."), "error",
                             missing=max(0, promo.coupon.cost - int(balance)),
                             name=promo.coupon.name)
            else:
                msg = Msg.of(CLAIM_TEXT.get(error.reason, TRY_AGAIN), "error")
            self._set(screen=Screen.HOME, **changes)
            self._set(message=msg)

        self._run(N_("Getting your coupon…"),
                  lambda: self.backend.hub.claim_promotion(promo.id, customer=customer,
                                                           idempotency_key=key),
                  done, failed)

    # -- pictures ----------------------------------------------------------------------------------

    def _want_pictures(self, paths: Iterable[str | None]) -> None:
        """Fetch these hub pictures in the background, one job at a time."""
        if self.media is None:
            return
        known = {p for p, _ in self.state.pictures}
        for path in paths:
            if (path and path not in known and path not in self._pictures_failed
                    and path not in self._pictures_wanted):
                self._pictures_wanted.append(path)
        self._next_picture()

    def _next_picture(self) -> None:
        media = self.media
        if self._picture_busy or not self._pictures_wanted or media is None:
            return
        path = self._pictures_wanted.pop(0)
        self._picture_busy = True
        get = self.backend.hub.media

        def finish(result: Any, error: BaseException | None) -> None:
            self._picture_busy = False
            if isinstance(result, Path):
                self._set(pictures=(*self.state.pictures, (path, str(result))))
            else:
                if error is not None:
                    log.warning("picture %s failed: %r", path, error)
                self._pictures_failed.add(path)
            self._next_picture()

        self.runner.submit(lambda: media.fetch(path, get), finish)
