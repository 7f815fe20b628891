"""Self-checkout: categories → items → cart → submit → "pay at the register".

A mixin of :class:`kiosk.presenter.Presenter`, kept apart so each module stays small. The cart
lives in the view state; the idempotency key of an order is made when the customer first presses
"Order" and kept while the cart does not change, so pressing it again after a lost answer cannot
queue the order twice at the register.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from kiosk.jobs import Backend, new_key
from kiosk.models import Catalog, CheckResult, HubError, HubReason, OrderLine
from kiosk.states import N_, CartLine, Msg, Screen, ViewState

OFFLINE_ORDER = N_("We are offline right now, so orders cannot be placed. Please order at the "
                   "register.")
MAX_QTY = 20


class ShopFlow:
    """Shop intents; expects the presenter's state, ``_set``, ``_intent`` and ``_run``."""

    state: ViewState
    backend: Backend
    settings: Any
    events: Any
    _order_key: str | None
    _set: Callable[..., None]
    _intent: Callable[[], bool]
    _run: Callable[..., None]
    _want_pictures: Callable[[Iterable[str | None]], None]

    def open_shop(self) -> None:
        if not (self._intent() and self.state.screen == Screen.HOME):
            return
        if self.state.offline:
            self._set(message=Msg.of(OFFLINE_ORDER, "error"))
            return
        if self.state.catalog is not None:
            self._set(screen=Screen.SHOP)
            return

        def failed(error: HubError) -> None:
            self._set(message=Msg.of(OFFLINE_ORDER, "error"))

        business = self.settings.shop_business
        self._run(N_("Opening the menu…"), lambda: self.backend.hub.catalog(business),
                  self._catalog_loaded, failed)

    def _catalog_loaded(self, catalog: Catalog) -> None:
        self._set(screen=Screen.SHOP, catalog=catalog, offline=False)
        # the pictures follow in the background; tiles show initials until they arrive
        self._want_pictures(i.image for i in catalog.items if i.available)

    def choose_category(self, category: int) -> None:
        if self._intent() and self.state.screen in (Screen.SHOP, Screen.ITEMS):
            self._set(screen=Screen.ITEMS, category=category)

    def add_item(self, item_id: int) -> None:
        self._change_qty(item_id, +1)

    def remove_item(self, item_id: int) -> None:
        self._change_qty(item_id, -1)

    def _change_qty(self, item_id: int, delta: int) -> None:
        state = self.state
        if not (self._intent() and state.screen in (Screen.ITEMS, Screen.CART) and state.catalog):
            return
        item = next((i for i in state.catalog.items if i.id == item_id), None)
        if item is None or (delta > 0 and not item.available):
            return
        lines = list(state.cart)
        idx = next((n for n, ln in enumerate(lines) if ln.item.id == item_id), None)
        qty = (lines[idx].qty if idx is not None else 0) + delta
        if qty > MAX_QTY:
            return
        if idx is None and qty > 0:
            lines.append(CartLine(item, qty))
        elif idx is not None and qty > 0:
            lines[idx] = CartLine(item, qty)
        elif idx is not None:
            del lines[idx]
        self._order_key = None  # a different cart is a different order
        self._set(cart=tuple(lines), message=None)

    def open_cart(self) -> None:
        if self._intent() and self.state.screen in (Screen.SHOP, Screen.ITEMS):
            self._set(screen=Screen.CART)

    def submit_order(self) -> None:
        state = self.state
        if not (self._intent() and state.screen == Screen.CART and state.cart):
            return
        if state.offline:
            self._set(message=Msg.of(OFFLINE_ORDER, "error"))
            return
        if self._order_key is None:
            self._order_key = new_key(self.settings.device, "order")
        key = self._order_key
        lines = [OrderLine(ln.item.id, ln.qty) for ln in state.cart]
        customer = state.summary.customer if state.summary else None
        business = self.settings.shop_business

        def job() -> CheckResult:
            return self.backend.hub.submit_check(
                customer=customer, business=business, lines=lines, idempotency_key=key,
                device=self.settings.device,
            )

        self._run(N_("Sending your order…"), job, self._ordered, self._order_failed)

    def _ordered(self, result: CheckResult) -> None:
        self._order_key = None
        self._set(screen=Screen.ORDER, order=result, offline=False)
        try:
            self.events.order(check=result.check, number=result.number, total=str(result.total),
                              currency=result.currency, lines=len(self.state.cart))
        except Exception:  # reporting must never spoil the customer's order
            pass
        self._set(cart=())

    def _order_failed(self, error: HubError) -> None:
        if error.reason == HubReason.UNAVAILABLE:
            items = error.detail.get("items")
            gone = {int(i) for i in items if str(i).isdigit()} if isinstance(items, list) else set()
            names = ", ".join(ln.item.name for ln in self.state.cart if ln.item.id in gone)
            cart = tuple(ln for ln in self.state.cart if ln.item.id not in gone)
            self._order_key = None
            self._set(cart=cart, message=Msg.of(
                N_("Sorry, {names} just sold out. We took it out of your cart."), "error",
                names=names or "?"))
            return
        text = OFFLINE_ORDER if error.reason == HubReason.OFFLINE else N_(
            "Your order could not be sent. Please try again.")
        self._set(message=Msg.of(text, "error"))
