"""Lottery screens: scan or type the receipt's code, then the prize (or "not this time")."""

from __future__ import annotations

from functools import partial

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from kiosk.lottery import CODE_KEYS
from kiosk.screens.root import Ctx
from kiosk.screens.widgets import Card, QrImage, Tap, Text, split, square, sym
from kiosk.states import ViewState


def keyboard(ctx: Ctx) -> Widget:
    """Letters, digits and the dash of receipt codes, with backspace and clear."""
    t, p = ctx.theme, ctx.presenter
    grid = GridLayout(cols=7, spacing=dp(8), size_hint=(1, 0.8) if ctx.portrait else (0.55, 1))
    for key in CODE_KEYS:
        grid.add_widget(Tap(key, f"code-{key}", partial(p.code_key, key), t, kind="key",
                            size=28))
    grid.add_widget(Tap(sym("⌫"), "code-back", p.code_backspace, t, kind="secondary", size=28))
    return grid


def lottery(state: ViewState, ctx: Ctx) -> Widget:
    t, p = ctx.theme, ctx.presenter
    row = split(ctx.portrait, padding=(dp(50), dp(10), dp(50), dp(30)), spacing=dp(40))
    left = BoxLayout(orientation="vertical", spacing=dp(14))
    draw = state.lotteries[0] if state.lotteries else None
    left.add_widget(Text(draw.name if draw else ctx._("Lottery"), size=40, colour=t.text,
                         bold=True, size_hint_y=None, height=dp(64)))
    hint = (ctx._("Hold the QR code of your receipt up to the camera, or type its code.")
            if state.camera else ctx._("Type the code printed on your receipt."))
    left.add_widget(Text(hint, size=24, colour=t.muted, fit_height=True))
    display = Card(t, size_hint_y=None, height=dp(96), outline=t.primary)
    shown = Text(state.code_display or ctx._("code"), size=36,
                 colour=t.text if state.code_display else t.muted, bold=bool(state.code_display))
    shown.kid = "code-display"  # type: ignore[attr-defined]
    display.add_widget(shown)
    display.add_widget(Tap(ctx._("Clear"), "code-clear", p.code_clear, t, kind="secondary",
                           size=20, size_hint_x=None, width=dp(130)))
    left.add_widget(display)
    if state.message is not None:
        msg = Text(ctx.msg(state.message), size=24, colour=t.danger, bold=True, fit_height=True)
        msg.kid = "message"  # type: ignore[attr-defined]
        left.add_widget(msg)
    left.add_widget(Widget())
    left.add_widget(Tap(ctx._("Play"), "play", p.submit_code, t, enabled=bool(state.code_display),
                        size=34, size_hint_y=None, height=dp(110)))
    row.add_widget(left)
    row.add_widget(keyboard(ctx))
    return row


def prize(state: ViewState, ctx: Ctx) -> Widget:
    t, p = ctx.theme, ctx.presenter
    play = state.play
    assert play is not None
    buttons = BoxLayout(spacing=dp(20), size_hint_y=None, height=dp(110))
    buttons.add_widget(Tap(ctx._("My card"), "more", p.back, t, kind="secondary", size=26))
    buttons.add_widget(Tap(ctx._("Done"), "done", p.finish, t, size=30))
    c = play.coupon
    if c is None:
        box = BoxLayout(orientation="vertical", padding=(dp(160), dp(20), dp(160), dp(40)),
                        spacing=dp(20))
        box.add_widget(Widget())
        title = Text(ctx._("No prize this time"), size=56, colour=t.text, bold=True,
                     halign="center", size_hint_y=None, height=dp(90))
        title.kid = "no-prize"  # type: ignore[attr-defined]
        box.add_widget(title)
        box.add_widget(Text(ctx._("Thank you for playing! Every receipt is a new chance."),
                            size=30, colour=t.muted, halign="center", fit_height=True))
        box.add_widget(Widget())
        box.add_widget(buttons)
        return box
    row = split(ctx.portrait, padding=(dp(80), dp(10), dp(80), dp(40)), spacing=dp(50))
    tile = Card(t, colour=(1, 1, 1, 1), size_hint=(None, None), width=dp(440), height=dp(440),
                padding=dp(16))
    qr = QrImage(c.code or c.serial or c.ref)
    qr.kid = "prize-qr"  # type: ignore[attr-defined]
    tile.add_widget(qr)
    row.add_widget(square(tile, ctx.portrait))
    right = BoxLayout(orientation="vertical", spacing=dp(14))
    right.add_widget(Text(f"{sym('✓')} " + ctx._("You won!"), size=34, colour=t.success,
                          bold=True, size_hint_y=None, height=dp(56)))
    name = Text(play.prize or c.name, size=52, colour=t.text, bold=True, size_hint_y=None,
                height=dp(80))
    name.kid = "prize-name"  # type: ignore[attr-defined]
    right.add_widget(name)
    right.add_widget(Text(ctx._("Show this code at the register."), size=26, colour=t.muted,
                          size_hint_y=None, height=dp(50)))
    if c.serial:
        right.add_widget(Text(c.serial, size=44, colour=t.primary, bold=True, size_hint_y=None,
                              height=dp(70)))
    right.add_widget(Text(ctx._("It is in your coupons too."), size=24, colour=t.text,
                          size_hint_y=None, height=dp(44)))
    right.add_widget(Widget())
    right.add_widget(buttons)
    row.add_widget(right)
    return row
