"""Screens of a known customer: Home, Rewards, Confirm, Coupon."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from kiosk.models import Coupon, Promotion
from kiosk.screens.root import Ctx
from kiosk.screens.widgets import Card, QrImage, Tap, Text, split, square, sym
from kiosk.states import ViewState


def _tone(ctx: Ctx, tone: str) -> tuple[float, float, float, float]:
    t = ctx.theme
    return {"error": t.danger, "success": t.success}.get(tone, t.text)


def _fit(card: Widget, label: Widget, height: float) -> None:
    card.height = max(dp(84), height + dp(40))


def home(state: ViewState, ctx: Ctx) -> Widget:
    t, p = ctx.theme, ctx.presenter
    s = state.summary
    assert s is not None
    row = split(ctx.portrait, padding=(dp(50), dp(0), dp(50), dp(40)), spacing=dp(30))
    left = BoxLayout(orientation="vertical", spacing=dp(14))
    hello = ctx._("Welcome!") if s.new else ctx._("Welcome back!")
    left.add_widget(Text(hello, size=46, colour=t.text, bold=True, size_hint_y=None,
                         height=dp(70)))
    who = Text(s.masked_phone, size=28, colour=t.muted, size_hint_y=None, height=dp(44))
    who.kid = "masked-phone"  # type: ignore[attr-defined]
    left.add_widget(who)
    for note in state.notes:
        card = Card(t, size_hint_y=None, height=dp(84), outline=_tone(ctx, note.tone))
        label = Text(ctx.msg(note), size=24, colour=_tone(ctx, note.tone), bold=True,
                     fit_height=True)
        label.bind(height=partial(_fit, card))
        card.add_widget(label)
        card.kid = "visit-note"  # type: ignore[attr-defined]
        left.add_widget(card)
    for b in s.balances:
        card = Card(t, size_hint_y=None, height=dp(120))
        card.add_widget(Text(b.business_name or ctx._("Points"), size=26, colour=t.muted))
        card.add_widget(Text(f"{b.points} [size=24]{ctx._('points')}[/size]", size=54,
                             colour=t.primary, bold=True, halign="right"))
        left.add_widget(card)
    if state.message is not None:
        msg = Text(ctx.msg(state.message), size=22, colour=t.danger, bold=True, fit_height=True)
        msg.kid = "message"  # type: ignore[attr-defined]
        left.add_widget(msg)
    left.add_widget(Widget())
    buttons = BoxLayout(spacing=dp(20), size_hint_y=None, height=dp(120))
    buttons.add_widget(Tap(ctx._("Rewards"), "rewards", p.open_rewards, t, size=32))
    buttons.add_widget(Tap(ctx._("Order"), "shop", p.open_shop, t, size=32))
    left.add_widget(buttons)
    row.add_widget(left)
    right = BoxLayout(orientation="vertical", spacing=dp(14),
                      size_hint_x=1 if ctx.portrait else 0.8)
    for promo in state.claimable()[:2]:
        right.add_widget(_claim_entry(ctx, promo))
    right.add_widget(_coupons(ctx, s.coupons))
    row.add_widget(right)
    return row


def _claim_entry(ctx: Ctx, promo: Promotion) -> Widget:
    """A promotion's coupon the customer can take: what it is, what it costs, "Claim"."""
    t, p = ctx.theme, ctx.presenter
    c = promo.coupon
    assert c is not None
    card = Card(t, size_hint_y=None, height=dp(96), outline=t.success, padding=(dp(20), dp(12)))
    cost = ctx._("free") if c.cost == 0 else f"{c.cost} {ctx._('points')}"
    card.add_widget(Text(f"{promo.title}\n[size=20][color={ctx.branding.muted}]{c.name} · {cost}"
                         "[/color][/size]", size=24, colour=t.text, bold=True))
    card.add_widget(Tap(ctx._("Claim"), f"claim-{promo.id}", partial(p.claim_promotion, promo.id),
                        t, kind="success", size=24, size_hint_x=None, width=dp(150)))
    card.kid = f"promotion-{promo.id}"  # type: ignore[attr-defined]
    return card


def _coupons(ctx: Ctx, coupons: tuple[Coupon, ...]) -> Widget:
    t = ctx.theme
    box = Card(t, orientation="vertical")
    box.add_widget(Text(ctx._("Your coupons"), size=28, colour=t.text, bold=True,
                        size_hint_y=None, height=dp(44)))
    if not coupons:
        box.add_widget(Text(ctx._("No coupons yet. Spend points on a reward!"), size=22,
                            colour=t.muted, valign="top"))
        return box
    scroll = ScrollView(do_scroll_x=False)
    column = BoxLayout(orientation="vertical", spacing=dp(12), size_hint_y=None)
    column.bind(minimum_height=column.setter("height"))
    for c in coupons:
        item = BoxLayout(spacing=dp(14), size_hint_y=None, height=dp(130))
        if c.code:
            item.add_widget(QrImage(c.code, size_hint_x=None, width=dp(130)))
        text = BoxLayout(orientation="vertical")
        text.add_widget(Text(c.name, size=26, colour=t.text, bold=True))
        shown = c.serial or ctx._("Code shown when you redeem it at the register")
        text.add_widget(Text(shown, size=20, colour=t.muted))
        if c.valid_until is not None:
            text.add_widget(Text(ctx._("Valid until {date}").format(
                date=c.valid_until.astimezone().strftime("%d.%m.%Y")), size=18, colour=t.muted))
        item.add_widget(text)
        column.add_widget(item)
    scroll.add_widget(column)
    box.add_widget(scroll)
    return box


def rewards(state: ViewState, ctx: Ctx) -> Widget:
    t, p = ctx.theme, ctx.presenter
    s = state.summary
    assert s is not None
    box = BoxLayout(orientation="vertical", padding=(dp(50), 0, dp(50), dp(30)), spacing=dp(14))
    points = ", ".join(f"{b.points}" for b in s.balances)
    head = BoxLayout(spacing=dp(20), size_hint_y=None, height=dp(80))
    head.add_widget(Text(ctx._("Rewards") + f"  [color={ctx.branding.muted}][size=26]{points} "
                         f"{ctx._('points')}[/size][/color]", size=42, colour=t.text, bold=True))
    box.add_widget(head)
    if state.lotteries:
        draw = state.lotteries[0]
        play = Tap(f"{ctx._('Play')}: {draw.name}", "lottery", p.open_lottery, t,
                   kind="success", size=24, size_hint_x=None, width=dp(380))
        if ctx.portrait:  # under the title, as wide as the screen
            play.size_hint = (1, None)
            play.height = dp(90)
            box.add_widget(play)
        else:
            head.add_widget(play)
    if state.message is not None:
        msg = Text(ctx.msg(state.message), size=24, colour=t.danger, bold=True, fit_height=True)
        msg.kid = "message"  # type: ignore[attr-defined]
        box.add_widget(msg)
    grid = GridLayout(cols=1 if ctx.portrait else 2, spacing=dp(18), size_hint_y=None,
                      row_default_height=dp(130), row_force_default=True)
    grid.bind(minimum_height=grid.setter("height"))
    ordered = sorted(s.rewards, key=lambda r: (not r.affordable, r.cost))
    for r in ordered:
        label = f"{r.name}\n[size=22]{r.cost} {ctx._('points')}[/size]"
        if not r.affordable:
            label += f"  [size=18]({ctx._('not enough yet')})[/size]"
        tile = Tap(label, f"reward-{r.id}", partial(p.choose_reward, r.id), t,
                   kind="secondary" if r.affordable else "ghost", size=30)
        picture = state.picture(r.image)
        if picture is not None and Path(picture).is_file():
            cell = BoxLayout(spacing=dp(10))
            image = Image(source=picture, fit_mode="contain", size_hint_x=None,
                          width=dp(120))
            image.kid = f"picture-reward-{r.id}"  # type: ignore[attr-defined]
            cell.add_widget(image)
            cell.add_widget(tile)
            grid.add_widget(cell)
        else:
            grid.add_widget(tile)
    if not s.rewards:
        box.add_widget(Text(ctx._("No rewards here yet."), size=26, colour=t.muted))
    scroll = ScrollView(do_scroll_x=False)
    scroll.add_widget(grid)
    box.add_widget(scroll)
    return box


def confirm(state: ViewState, ctx: Ctx) -> Widget:
    t, p = ctx.theme, ctx.presenter
    r = state.reward
    assert r is not None
    box = BoxLayout(orientation="vertical", padding=(dp(160), dp(20), dp(160), dp(50)),
                    spacing=dp(24))
    box.add_widget(Widget())
    box.add_widget(Text(r.name, size=56, colour=t.text, bold=True, halign="center",
                        size_hint_y=None, height=dp(90)))
    box.add_widget(Text(ctx._("Spend {cost} points on this reward?").format(cost=r.cost),
                        size=32, colour=t.muted, halign="center", size_hint_y=None,
                        height=dp(60)))
    box.add_widget(Widget())
    row = BoxLayout(spacing=dp(24), size_hint_y=None, height=dp(120))
    row.add_widget(Tap(ctx._("Not now"), "cancel", p.back, t, kind="secondary", size=30))
    row.add_widget(Tap(ctx._("Yes, get it"), "confirm", p.confirm_reward, t, size=30))
    box.add_widget(row)
    return box


def coupon(state: ViewState, ctx: Ctx) -> Widget:
    t, p = ctx.theme, ctx.presenter
    c = state.coupon
    assert c is not None
    row = split(ctx.portrait, padding=(dp(80), dp(10), dp(80), dp(40)), spacing=dp(50))
    code = c.code or c.serial or c.ref
    tile = Card(t, colour=(1, 1, 1, 1), size_hint=(None, None), width=dp(440), height=dp(440),
                padding=dp(16))
    qr = QrImage(code)
    qr.kid = "coupon-qr"  # type: ignore[attr-defined]
    tile.add_widget(qr)
    row.add_widget(square(tile, ctx.portrait))
    right = BoxLayout(orientation="vertical", spacing=dp(14))
    right.add_widget(Text(f"{sym('✓')} " + ctx._("Your reward"), size=30, colour=t.success,
                          bold=True, size_hint_y=None, height=dp(50)))
    right.add_widget(Text(c.name, size=52, colour=t.text, bold=True, size_hint_y=None,
                          height=dp(80)))
    right.add_widget(Text(ctx._("Show this code at the register."), size=26, colour=t.muted,
                          size_hint_y=None, height=dp(50)))
    if c.serial:
        right.add_widget(Text(c.serial, size=44, colour=t.primary, bold=True, size_hint_y=None,
                              height=dp(70)))
    if state.balance_after is not None:
        right.add_widget(Text(ctx._("Points left: {points}").format(points=state.balance_after),
                              size=26, colour=t.text, size_hint_y=None, height=dp(50)))
    right.add_widget(Widget())
    buttons = BoxLayout(spacing=dp(20), size_hint_y=None, height=dp(110))
    buttons.add_widget(Tap(ctx._("My card"), "more", p.back, t, kind="secondary", size=26))
    buttons.add_widget(Tap(ctx._("Done"), "done", p.finish, t, size=30))
    right.add_widget(buttons)
    row.add_widget(right)
    return row
