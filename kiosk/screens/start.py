"""Screens around identification: Attract, Identify (keypad), Scan, Consent, PIN, Done,
Maintenance."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.widget import Widget

from kiosk.screens.root import Ctx
from kiosk.screens.widgets import Card, Tap, Text, split, sym
from kiosk.states import ViewState


def attract(state: ViewState, ctx: Ctx) -> Widget:
    t, b, p = ctx.theme, ctx.branding, ctx.presenter
    box = BoxLayout(orientation="vertical", padding=(dp(80), dp(10), dp(80), dp(60)),
                    spacing=dp(18))
    if b.logo and Path(b.logo).is_file():
        box.add_widget(Image(source=b.logo, size_hint_y=None, height=dp(160)))
    box.add_widget(Text(b.venue_name, size=72, colour=t.text, bold=True, halign="center",
                        size_hint_y=None, height=dp(120)))
    box.add_widget(Text(b.tagline or ctx._("Collect points with every visit and spend them "
                                           "on treats."),
                        size=30, colour=t.muted, halign="center", size_hint_y=None,
                        height=dp(90)))
    promo = state.promotion
    if promo is not None:
        box.add_widget(_promotion(state, ctx))
    else:
        box.add_widget(Widget())
    box.add_widget(Tap(ctx._("Touch to start"), "start", p.begin, t, size=44,
                       size_hint_y=None, height=dp(150), radius=28))
    box.add_widget(Text(ctx._("Check in with your phone number, get rewards, order ahead."),
                        size=22, colour=t.muted, halign="center", size_hint_y=None,
                        height=dp(50)))
    return box


def _promotion(state: ViewState, ctx: Ctx) -> Widget:
    """The promotion Attract shows now (they take turns), with its picture once fetched."""
    t = ctx.theme
    promo = state.promotion
    assert promo is not None
    card = Card(t, padding=dp(24), spacing=dp(24), outline=t.primary)
    card.kid = "promotion"  # type: ignore[attr-defined]
    picture = state.picture(promo.image)
    if picture is not None and Path(picture).is_file():
        card.add_widget(Image(source=picture, fit_mode="contain", size_hint_x=None,
                              width=dp(180)))
    text = BoxLayout(orientation="vertical", spacing=dp(6))
    title = Text(promo.title, size=38, colour=t.primary, bold=True)
    title.kid = "promotion-title"  # type: ignore[attr-defined]
    text.add_widget(title)
    if promo.text:
        text.add_widget(Text(promo.text, size=24, colour=t.text))
    if promo.coupon is not None:
        text.add_widget(Text(ctx._("Touch to start and claim your coupon: {name}").format(
            name=promo.coupon.name), size=22, colour=t.success, bold=True))
    card.add_widget(text)
    if len(state.promotions) > 1:
        dots = "  ".join("●" if n == state.promo_index % len(state.promotions) else "○"
                         for n in range(len(state.promotions)))
        card.add_widget(Text(sym(dots), size=16, colour=t.muted, size_hint_x=None,
                             width=dp(30 * len(state.promotions)), halign="right",
                             valign="bottom"))
    return card


def keypad(ctx: Ctx, on_digit: object, on_back: object, on_clear: object,
           prefix: str = "key") -> Widget:
    t = ctx.theme
    if ctx.portrait:
        grid = GridLayout(cols=3, spacing=dp(14), size_hint=(1, 0.9))
    else:
        grid = GridLayout(cols=3, spacing=dp(14), size_hint=(None, 1), width=dp(480))
    for d in "123456789":
        grid.add_widget(Tap(d, f"{prefix}-{d}", partial(on_digit, d), t,  # type: ignore
                            kind="key", size=40))
    grid.add_widget(Tap(ctx._("Clear"), f"{prefix}-clear", on_clear, t,  # type: ignore[arg-type]
                        kind="secondary", size=24))
    grid.add_widget(Tap("0", f"{prefix}-0", lambda: on_digit("0"), t,  # type: ignore
                        kind="key", size=40))
    grid.add_widget(Tap(sym("⌫"), f"{prefix}-back", on_back, t,  # type: ignore[arg-type]
                        kind="secondary", size=36))
    return grid


def identify(state: ViewState, ctx: Ctx) -> Widget:
    t, p = ctx.theme, ctx.presenter
    row = split(ctx.portrait, padding=(dp(60), dp(10), dp(60), dp(40)), spacing=dp(50))
    left = BoxLayout(orientation="vertical", spacing=dp(18))
    left.add_widget(Text(ctx._("Your phone number"), size=40, colour=t.text, bold=True,
                         size_hint_y=None, height=dp(70)))
    left.add_widget(Text(ctx._("We use it to find your card. It stays hidden on the screen."),
                         size=22, colour=t.muted, size_hint_y=None, height=dp(64)))
    display = Card(t, size_hint_y=None, height=dp(110), outline=t.primary)
    display.add_widget(Text(state.prefix, size=40, colour=t.muted, bold=True,
                            size_hint_x=None, width=dp(110)))
    shown = Text(state.phone_display or ctx._("type your number"), size=42,
                 colour=t.text if state.phone_display else t.muted, bold=bool(state.phone_display))
    shown.kid = "phone-display"  # type: ignore[attr-defined]
    display.add_widget(shown)
    left.add_widget(display)
    if state.message is not None:
        msg = Text(ctx.msg(state.message), size=24, colour=t.danger, bold=True,
                   fit_height=True)
        msg.kid = "message"  # type: ignore[attr-defined]
        left.add_widget(msg)
    left.add_widget(Widget())
    left.add_widget(Tap(ctx._("Continue") + "  " + sym("→"), "submit", p.submit_phone, t,
                        enabled=state.can_submit, size=34, size_hint_y=None, height=dp(110)))
    if state.camera:
        left.add_widget(Tap(ctx._("Scan my card QR instead"), "scan", p.open_scanner, t,
                            kind="secondary", size=24, size_hint_y=None, height=dp(80)))
    row.add_widget(left)
    row.add_widget(keypad(ctx, p.press_digit, p.backspace, p.clear))
    return row


def scan(state: ViewState, ctx: Ctx) -> Widget:
    t = ctx.theme
    box = BoxLayout(orientation="vertical", padding=dp(80), spacing=dp(20))
    box.add_widget(Text(ctx._("Hold your card's QR code up to the camera"), size=40,
                        colour=t.text, bold=True, halign="center"))
    box.add_widget(Text(ctx._("It is read automatically."), size=26, colour=t.muted,
                        halign="center"))
    return box


def consent(state: ViewState, ctx: Ctx) -> Widget:
    t, p = ctx.theme, ctx.presenter
    box = BoxLayout(orientation="vertical", padding=(dp(120), dp(10), dp(120), dp(50)),
                    spacing=dp(20))
    box.add_widget(Text(ctx._("Welcome! Join our loyalty programme?"), size=44, colour=t.text,
                        bold=True, size_hint_y=None, height=dp(90)))
    card = Card(t, orientation="vertical", padding=dp(30))
    card.add_widget(Text(ctx._(
        "We store your phone number to keep your points and coupons. We never show it in full "
        "and never share it. You can leave the programme at any time at the register. Nothing "
        "is stored unless you agree."), size=26, colour=t.text, valign="top"))
    box.add_widget(card)
    if state.message is not None:
        box.add_widget(Text(ctx.msg(state.message), size=24, colour=t.danger, bold=True,
                            fit_height=True))
    row = BoxLayout(spacing=dp(24), size_hint_y=None, height=dp(120))
    row.add_widget(Tap(ctx._("No, thanks"), "decline", p.decline_terms, t, kind="secondary",
                       size=30))
    row.add_widget(Tap(ctx._("I agree, create my card"), "accept", p.accept_terms, t, size=30))
    box.add_widget(row)
    return box


def done(state: ViewState, ctx: Ctx) -> Widget:
    t = ctx.theme
    box = BoxLayout(orientation="vertical", padding=dp(80), spacing=dp(20))
    box.add_widget(Widget())
    box.add_widget(Text(sym("✓"), size=120, colour=t.success, halign="center",
                        size_hint_y=None, height=dp(160)))
    box.add_widget(Text(ctx._("Thank you! See you soon."), size=56, colour=t.text, bold=True,
                        halign="center", size_hint_y=None, height=dp(100)))
    box.add_widget(Widget())
    box.add_widget(Tap(ctx._("Start again"), "again", ctx.presenter.reset, t, kind="secondary",
                       size=26, size_hint=(None, None), width=dp(320), height=dp(90),
                       pos_hint={"center_x": 0.5}))
    return box


def pin(state: ViewState, ctx: Ctx) -> Widget:
    t, p = ctx.theme, ctx.presenter
    row = split(ctx.portrait, padding=(dp(80), dp(10), dp(80), dp(40)), spacing=dp(50))
    left = BoxLayout(orientation="vertical", spacing=dp(16))
    left.add_widget(Text(ctx._("Staff PIN"), size=40, colour=t.text, bold=True,
                         size_hint_y=None, height=dp(70)))
    left.add_widget(Text(state.pin_display.replace("●", "•") or "—", size=50, colour=t.text,
                         size_hint_y=None, height=dp(90)))
    if state.message is not None:
        left.add_widget(Text(ctx.msg(state.message), size=24, colour=t.danger, bold=True,
                             fit_height=True))
    left.add_widget(Widget())
    left.add_widget(Tap(ctx._("Open"), "pin-ok", p.pin_submit, t, size=32, size_hint_y=None,
                        height=dp(100)))
    left.add_widget(Tap(ctx._("Cancel"), "pin-cancel", p.reset, t, kind="secondary", size=26,
                        size_hint_y=None, height=dp(80)))
    row.add_widget(left)
    row.add_widget(keypad(ctx, p.pin_digit, p.reset, p.reset, prefix="pin"))
    return row


def maintenance(state: ViewState, ctx: Ctx) -> Widget:
    t, p = ctx.theme, ctx.presenter
    box = BoxLayout(orientation="vertical", padding=(dp(80), dp(10), dp(80), dp(40)),
                    spacing=dp(16))
    box.add_widget(Text(ctx._("Maintenance"), size=40, colour=t.text, bold=True,
                        size_hint_y=None, height=dp(70)))
    info = state.maintenance
    grid = GridLayout(cols=2, spacing=dp(8), row_default_height=dp(44), row_force_default=True)
    rows = [] if info is None else [
        (ctx._("Device"), info.device), (ctx._("Version"), info.version),
        (ctx._("Hub"), f"{info.hub} ({info.hub_state})"), (ctx._("Broker"), info.broker),
        (ctx._("Events waiting"), str(info.outbox_depth)),
        (ctx._("Visit credits queued"), str(info.queued_credits)),
    ]
    for k, v in rows:
        grid.add_widget(Text(k, size=24, colour=t.muted))
        grid.add_widget(Text(v, size=24, colour=t.text, bold=True))
    box.add_widget(grid)
    row = BoxLayout(spacing=dp(20), size_hint_y=None, height=dp(100))
    for kid, label in (("retry", ctx._("Retry queued credits")), ("reload", ctx._("Reload config")),
                       ("restart", ctx._("Restart app"))):
        row.add_widget(Tap(label, f"maint-{kid}", partial(p.maintenance_action, kid), t,
                           kind="secondary", size=22))
    row.add_widget(Tap(ctx._("Close"), "maint-close", p.reset, t, size=24))
    box.add_widget(row)
    return box
