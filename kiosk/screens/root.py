"""The root widget: paints the background, shows the offline banner, the top bar, the current
screen and the "working…" veil, and redraws from the presenter's state.

Redraws are coalesced to the next frame with a Clock trigger, so a button whose tap changes the
state is never removed from the tree while Kivy is still dispatching its touch, and several
changes in one frame cost one rebuild.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from kivy.clock import Clock
from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.widget import Widget

from kiosk.config import BrandingSection
from kiosk.presenter import Presenter
from kiosk.screens.widgets import Tap, Text, Theme, paint, sym
from kiosk.states import Msg, Screen, ViewState

LANGUAGE_NAMES = {"en": "English", "uk": "Українська"}


@dataclass
class Ctx:
    """What every screen builder needs."""

    presenter: Presenter
    theme: Theme
    branding: BrandingSection
    translate: Callable[[str, str], str]
    """``translate(lang, msgid)``."""
    lang: str = "en"
    portrait: bool = False
    """The display is taller than wide (a rotated panel): screens stack their halves."""

    def _(self, msgid: str) -> str:
        return self.translate(self.lang, msgid)

    def msg(self, m: Msg) -> str:
        return m.render(lambda text: self.translate(self.lang, text))


Builder = Callable[[ViewState, Ctx], Widget]


class KioskRoot(FloatLayout):
    """The whole kiosk screen; ``rendered`` names the screen currently in the tree."""

    def __init__(self, ctx: Ctx, builders: dict[Screen, Builder], **kw: Any) -> None:
        super().__init__(**kw)
        self.ctx = ctx
        self.builders = builders
        self.rendered: Screen | None = None
        self._drawn: ViewState | None = None
        self._veil_widget: Widget | None = None
        self.renders = 0
        paint(self, ctx.theme.background)
        self._trigger = Clock.create_trigger(self._render, -1)
        ctx.presenter.subscribe(lambda _state: self._trigger())
        self._render()

    def on_touch_down(self, touch: Any) -> bool:
        self.ctx.presenter.touched()
        if self.ctx.presenter.state.busy is not None:
            return True  # a call is running: swallow taps, the veil says so
        return bool(super().on_touch_down(touch))

    def render_now(self) -> None:
        """Redraw at once (screenshot tour, reload of branding)."""
        self._trigger.cancel()
        self._drawn = None
        self._render()

    def _render(self, *_: Any) -> None:
        state = self.ctx.presenter.state
        ctx = self.ctx
        if self._drawn is not None and replace(state, busy=None) == replace(self._drawn,
                                                                            busy=None):
            # only the "working…" veil changed (or nothing): no rebuild, no lost frame
            if state.busy != self._drawn.busy:
                if self._veil_widget is not None:
                    self.remove_widget(self._veil_widget)
                    self._veil_widget = None
                if state.busy is not None:
                    self._veil_widget = self._veil(ctx, ctx.msg(state.busy))
                    self.add_widget(self._veil_widget)
            self._drawn = state
            return
        ctx.lang = state.lang
        ctx.portrait = self._portrait()
        self.clear_widgets()
        self._veil_widget = None
        column = BoxLayout(orientation="vertical")
        if state.offline:
            column.add_widget(self._banner(ctx))
        column.add_widget(self._top_bar(state, ctx))
        body = self.builders[state.screen](state, ctx)
        column.add_widget(body)
        self.add_widget(column)
        if state.busy is not None:
            self._veil_widget = self._veil(ctx, ctx.msg(state.busy))
            self.add_widget(self._veil_widget)
        self._drawn = state
        self.rendered = state.screen
        self.renders += 1

    @staticmethod
    def _portrait() -> bool:
        from kivy.core.window import Window

        return Window is not None and Window.height > Window.width

    def _banner(self, ctx: Ctx) -> Widget:
        bar = BoxLayout(size_hint_y=None, height=dp(46), padding=(dp(24), 0))
        paint(bar, ctx.theme.danger)
        bar.add_widget(Text(ctx._("Offline: points are saved and credited later; rewards and "
                                  "orders need the connection."), size=18, colour=ctx.theme.text,
                            bold=True, halign="center"))
        bar.kid = "offline-banner"  # type: ignore[attr-defined]
        return bar

    def _top_bar(self, state: ViewState, ctx: Ctx) -> Widget:
        t = ctx.theme
        p = ctx.presenter
        bar = BoxLayout(size_hint_y=None, height=dp(84), padding=(dp(24), dp(14)), spacing=dp(12))
        name = Tap(ctx.branding.venue_name, "corner", p.secret_tap, ctx.theme, kind="ghost",
                   size=26, size_hint_x=None, width=dp(360))
        name.color = t.primary
        name.halign = "left"
        name._fill = t.background
        name._colour.rgba = t.background
        bar.add_widget(name)
        bar.add_widget(Widget())
        if state.screen == Screen.ATTRACT:
            for lang in state.languages:
                bar.add_widget(Tap(LANGUAGE_NAMES.get(lang, lang), f"lang-{lang}",
                                   partial(p.choose_language, lang), t,
                                   kind="primary" if lang == state.lang else "secondary",
                                   size=20, size_hint_x=None, width=dp(180)))
        elif state.screen not in (Screen.DONE,):
            if state.screen not in (Screen.IDENTIFY, Screen.CONSENT, Screen.PIN,
                                    Screen.MAINTENANCE, Screen.HOME, Screen.COUPON,
                                    Screen.ORDER, Screen.PRIZE):
                bar.add_widget(Tap(f"{sym('←')}  {ctx._('Back')}", "back", p.back, t,
                                   kind="secondary", size=20, size_hint_x=None, width=dp(170)))
            bar.add_widget(Tap(ctx._("Start over") if state.summary is None else ctx._("Finish"),
                               "finish", p.reset if state.summary is None else p.finish, t,
                               kind="secondary", size=20, size_hint_x=None, width=dp(200)))
        return bar

    def _veil(self, ctx: Ctx, text: str) -> Widget:
        veil = BoxLayout(padding=dp(40))
        paint(veil, (0, 0, 0, 0.55))
        veil.add_widget(Text(text, size=40, colour=ctx.theme.text, bold=True, halign="center"))
        veil.kid = "busy"  # type: ignore[attr-defined]
        return veil


def find(root: Widget, kid: str) -> Widget | None:
    """The widget whose ``kid`` is ``kid`` (depth first), for tests, bench and the tour."""
    for w in root.walk():
        if getattr(w, "kid", None) == kid:
            return w  # type: ignore[no-any-return]
    return None
