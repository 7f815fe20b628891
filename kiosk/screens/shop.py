"""Self-checkout screens: Shop (categories), Items, Cart, Order ("pay at the register")."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from kiosk.models import Item
from kiosk.screens.root import Ctx
from kiosk.screens.widgets import (
    Card,
    QrImage,
    Tap,
    Text,
    mix,
    money,
    paint,
    rgba,
    split,
    square,
)
from kiosk.states import ViewState

MINUS = "\u2212"
TILE_COLOURS = ("#c8553d", "#588b8b", "#8e6c8a", "#f28f3b", "#4f6d7a", "#7a9e7e")


def _cart_bar(state: ViewState, ctx: Ctx) -> Widget:
    t, p = ctx.theme, ctx.presenter
    bar = BoxLayout(spacing=dp(20), size_hint_y=None, height=dp(100))
    if state.message is not None:
        msg = Text(ctx.msg(state.message), size=22, colour=t.danger, bold=True)
        msg.kid = "message"  # type: ignore[attr-defined]
        bar.add_widget(msg)
    else:
        bar.add_widget(Widget())
    label = ctx._("Cart: {count} · {total}").format(count=state.cart_count,
                                                     total=money(state.total, state.currency))
    bar.add_widget(Tap(label, "cart", p.open_cart, t, enabled=bool(state.cart), size=28,
                       size_hint_x=None, width=dp(460)))
    return bar


def shop(state: ViewState, ctx: Ctx) -> Widget:
    t, p = ctx.theme, ctx.presenter
    box = BoxLayout(orientation="vertical", padding=(dp(50), 0, dp(50), dp(30)), spacing=dp(18))
    box.add_widget(Text(ctx._("What would you like?"), size=42, colour=t.text, bold=True,
                        size_hint_y=None, height=dp(70)))
    grid = GridLayout(cols=2 if ctx.portrait else 3, spacing=dp(20))
    cats = state.catalog.categories if state.catalog else ()
    for n, c in enumerate(cats):
        tile = Tap(c.name, f"category-{c.id}", partial(p.choose_category, c.id), t,
                   kind="secondary", size=36)

        tile._fill = mix(rgba(TILE_COLOURS[n % len(TILE_COLOURS)]), t.surface, 0.25)
        tile._colour.rgba = tile._fill
        grid.add_widget(tile)
    box.add_widget(grid)
    box.add_widget(_cart_bar(state, ctx))
    return box


def _item_tile(item: Item, qty: int, state: ViewState, ctx: Ctx) -> Widget:
    t, p = ctx.theme, ctx.presenter
    card = Card(t, orientation="vertical", padding=dp(14), spacing=dp(8),
                outline=t.primary if qty else None)
    pic = BoxLayout(size_hint_y=None, height=dp(90))

    picture = state.picture(item.image)
    if picture is not None and Path(picture).is_file():
        image = Image(source=picture, fit_mode="contain")
        image.kid = f"picture-{item.id}"  # type: ignore[attr-defined]
        pic.add_widget(image)
    else:  # no picture, or not fetched yet: the initial on the item's colour
        paint(pic, mix(rgba(TILE_COLOURS[item.id % len(TILE_COLOURS)]), t.surface, 0.2), 14)
        pic.add_widget(Text(item.name[:1], size=40, colour=t.text, bold=True, halign="center"))
    card.add_widget(pic)
    card.add_widget(Text(item.name, size=24, colour=t.text, bold=True))
    if not item.available:
        card.add_widget(Text(ctx._("Sold out"), size=22, colour=t.danger, bold=True))
        return card
    card.add_widget(Text(money(item.price, item.currency), size=24, colour=t.primary, bold=True))
    row = BoxLayout(spacing=dp(8), size_hint_y=None, height=dp(64))
    row.add_widget(Tap(MINUS, f"remove-{item.id}", lambda: p.remove_item(item.id), t,
                       kind="secondary", enabled=qty > 0, size=34))
    row.add_widget(Text(str(qty), size=30, colour=t.text, bold=True, halign="center"))
    row.add_widget(Tap("+", f"add-{item.id}", lambda: p.add_item(item.id), t, size=34))
    card.add_widget(row)
    return card


def items(state: ViewState, ctx: Ctx) -> Widget:
    t = ctx.theme
    box = BoxLayout(orientation="vertical", padding=(dp(50), 0, dp(50), dp(30)), spacing=dp(14))
    cat = next((c.name for c in (state.catalog.categories if state.catalog else ())
                if c.id == state.category), "")
    box.add_widget(Text(cat, size=42, colour=t.text, bold=True, size_hint_y=None,
                        height=dp(64)))
    grid = GridLayout(cols=2 if ctx.portrait else 4, spacing=dp(16), size_hint_y=None,
                      row_default_height=dp(290), row_force_default=True)
    grid.bind(minimum_height=grid.setter("height"))
    for item in state.items():
        grid.add_widget(_item_tile(item, state.qty(item.id), state, ctx))
    scroll = ScrollView(do_scroll_x=False)
    scroll.add_widget(grid)
    box.add_widget(scroll)
    box.add_widget(_cart_bar(state, ctx))
    return box


def cart(state: ViewState, ctx: Ctx) -> Widget:
    t, p = ctx.theme, ctx.presenter
    box = BoxLayout(orientation="vertical", padding=(dp(120), 0, dp(120), dp(30)), spacing=dp(12))
    box.add_widget(Text(ctx._("Your order"), size=42, colour=t.text, bold=True,
                        size_hint_y=None, height=dp(64)))
    lines = BoxLayout(orientation="vertical", spacing=dp(10), size_hint_y=None)
    lines.bind(minimum_height=lines.setter("height"))
    for ln in state.cart:
        row = Card(t, size_hint_y=None, height=dp(84), padding=(dp(20), dp(10)))
        row.add_widget(Text(ln.item.name, size=28, colour=t.text, bold=True))
        row.add_widget(Tap(MINUS, f"remove-{ln.item.id}", partial(p.remove_item, ln.item.id),
                           t, kind="secondary", size=34, size_hint_x=None, width=dp(70)))
        row.add_widget(Text(f"{ln.qty}", size=30, colour=t.text, bold=True, halign="center",
                            size_hint_x=None, width=dp(60)))
        row.add_widget(Tap("+", f"add-{ln.item.id}", partial(p.add_item, ln.item.id), t,
                           size=34, size_hint_x=None, width=dp(70)))
        row.add_widget(Text(money(ln.amount, ln.item.currency), size=28, colour=t.text,
                            halign="right", size_hint_x=None, width=dp(200)))
        lines.add_widget(row)
    scroll = ScrollView(do_scroll_x=False)
    scroll.add_widget(lines)
    box.add_widget(scroll)
    if not state.cart:
        box.add_widget(Text(ctx._("Your cart is empty."), size=26, colour=t.muted,
                            halign="center"))
    total = Text(ctx._("Total") + f":  {money(state.total, state.currency)}", size=40,
                 colour=t.primary, bold=True, halign="right", size_hint_y=None, height=dp(70))
    total.kid = "total"  # type: ignore[attr-defined]
    box.add_widget(total)
    if state.message is not None:
        msg = Text(ctx.msg(state.message), size=22, colour=t.danger, bold=True, fit_height=True)
        msg.kid = "message"  # type: ignore[attr-defined]
        box.add_widget(msg)
    row = BoxLayout(spacing=dp(24), size_hint_y=None, height=dp(110))
    row.add_widget(Tap(ctx._("Add more"), "add-more", p.back, t, kind="secondary", size=28))
    row.add_widget(Tap(ctx._("Send order"), "submit-order", p.submit_order, t,
                       enabled=bool(state.cart), size=32))
    box.add_widget(row)
    return box


def order(state: ViewState, ctx: Ctx) -> Widget:
    t, p = ctx.theme, ctx.presenter
    o = state.order
    assert o is not None
    row = split(ctx.portrait, padding=(dp(80), dp(10), dp(80), dp(40)), spacing=dp(50))
    tile = Card(t, colour=(1, 1, 1, 1), size_hint=(None, None), width=dp(440), height=dp(440),
                padding=dp(16))
    qr = QrImage(o.qr)
    qr.kid = "order-qr"  # type: ignore[attr-defined]
    tile.add_widget(qr)
    row.add_widget(square(tile, ctx.portrait))
    right = BoxLayout(orientation="vertical", spacing=dp(14))
    right.add_widget(Text(ctx._("Your order number"), size=30, colour=t.muted,
                          size_hint_y=None, height=dp(50)))
    number = Text(o.number, size=96, colour=t.primary, bold=True, size_hint_y=None,
                  height=dp(130))
    number.kid = "order-number"  # type: ignore[attr-defined]
    right.add_widget(number)
    right.add_widget(Text(ctx._("Total") + f":  {money(o.total, o.currency)}", size=34,
                          colour=t.text, bold=True, size_hint_y=None, height=dp(60)))
    right.add_widget(Text(ctx._("Please pay at the register: show this number or the QR code."),
                          size=28, colour=t.text, fit_height=True))
    right.add_widget(Widget())
    right.add_widget(Tap(ctx._("Done"), "done", p.finish, t, size=32, size_hint_y=None,
                         height=dp(110)))
    row.add_widget(right)
    return row
