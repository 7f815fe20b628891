"""The kiosk's building blocks: theme, big rounded buttons, wrapped labels, cards, QR images.

Every tappable widget carries a ``kid`` (kiosk id) so tests, the benchmark and the screenshot
tour find it by name instead of by position. Buttons darken on touch-down at once: the customer
sees their tap registered before any hub call answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kivy.graphics import Color, Line, Rectangle, RoundedRectangle
from kivy.graphics.texture import Texture
from kivy.metrics import dp, sp
from kivy.resources import resource_find
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.config import BrandingSection

RGBA = tuple[float, float, float, float]
SYMBOLS = resource_find("data/fonts/DejaVuSans.ttf") or "Roboto"
"""A font with the glyphs Roboto lacks (⌫ ← ✓ ₴ ●)."""
BOLD = "Roboto-Bold"


def rgba(hex_colour: str, alpha: float = 1.0) -> RGBA:
    h = hex_colour.lstrip("#")
    return (int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255, alpha)


def mix(a: RGBA, b: RGBA, t: float) -> RGBA:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t, a[3])


@dataclass(frozen=True)
class Theme:
    """Colours of the venue's branding as Kivy RGBA tuples."""

    background: RGBA
    surface: RGBA
    primary: RGBA
    text: RGBA
    muted: RGBA
    danger: RGBA
    success: RGBA
    on_primary: RGBA = (0.07, 0.07, 0.09, 1.0)

    @classmethod
    def from_branding(cls, b: BrandingSection) -> Theme:
        return cls(rgba(b.background), rgba(b.surface), rgba(b.primary), rgba(b.text),
                   rgba(b.muted), rgba(b.danger), rgba(b.success))


def sym(text: str) -> str:
    """Markup that draws ``text`` in the symbol font (inside a markup label)."""
    return f"[font={SYMBOLS}]{text}[/font]"


def money(amount: Decimal, currency: str) -> str:
    """``65.00 ₴`` (markup) for hryvnias, ``65.00 EUR`` otherwise."""
    value = f"{amount:.2f}"
    return f"{value} {sym('₴')}" if currency == "UAH" else f"{value} {currency}"


def paint(widget: Widget, colour: RGBA, radius: float = 0) -> None:
    """Fill the widget's box with ``colour`` (rounded when ``radius``), following its size."""
    with widget.canvas.before:
        Color(*colour)
        shape = (RoundedRectangle(radius=[dp(radius)]) if radius else Rectangle())

    def update(*_: Any) -> None:
        shape.pos, shape.size = widget.pos, widget.size

    widget.bind(pos=update, size=update)
    update()


class Text(Label):
    """A label that wraps inside its width and grows to its text's height when asked."""

    def __init__(self, text: str = "", *, size: float = 24, colour: RGBA = (1, 1, 1, 1),
                 bold: bool = False, halign: str = "left", valign: str = "middle",
                 fit_height: bool = False, **kw: Any) -> None:
        super().__init__(text=text, font_size=sp(size), color=colour, halign=halign,
                         valign=valign, markup=True, font_name=BOLD if bold else "Roboto", **kw)
        self.bind(width=lambda *_: setattr(self, "text_size", (self.width, None)))
        if fit_height:
            self.size_hint_y = None
            self.bind(texture_size=lambda *_: setattr(self, "height", self.texture_size[1]))
        else:
            self.bind(size=lambda *_: setattr(self, "text_size", self.size))


class Tap(ButtonBehavior, Label):
    """A big rounded button. ``kind``: primary, secondary, ghost, danger, key."""

    def __init__(self, text: str, kid: str, on_tap: Callable[[], None] | None, theme: Theme, *,
                 kind: str = "primary", size: float = 28, enabled: bool = True,
                 radius: float = 18, **kw: Any) -> None:
        fill, fg = {
            "primary": (theme.primary, theme.on_primary),
            "secondary": (mix(theme.surface, theme.text, 0.12), theme.text),
            "key": (mix(theme.surface, theme.text, 0.06), theme.text),
            "ghost": (theme.surface, theme.muted),
            "danger": (theme.danger, theme.text),
            "success": (theme.success, theme.on_primary),
        }[kind]
        if not enabled:
            fill, fg = mix(theme.surface, theme.background, 0.3), theme.muted
        super().__init__(text=text, font_size=sp(size), color=fg, markup=True,
                         font_name=BOLD, halign="center", valign="middle", **kw)
        self.kid = kid
        self.enabled = enabled
        self._on_tap = on_tap
        self._fill = fill
        with self.canvas.before:
            self._colour = Color(*fill)
            self._shape = RoundedRectangle(radius=[dp(radius)])
        self.bind(pos=self._layout, size=self._layout)
        self._layout()

    def _layout(self, *_: Any) -> None:
        self._shape.pos, self._shape.size = self.pos, self.size
        self.text_size = (max(1, self.width - dp(16)), None)

    def on_state(self, _: Any, state: str) -> None:
        self._colour.rgba = mix(self._fill, (0, 0, 0, 1), 0.25) if state == "down" else self._fill

    def on_release(self) -> None:
        if self.enabled and self._on_tap is not None:
            self._on_tap()


class Card(BoxLayout):
    """A rounded surface panel."""

    def __init__(self, theme: Theme, *, colour: RGBA | None = None, radius: float = 22,
                 outline: RGBA | None = None, **kw: Any) -> None:
        kw.setdefault("padding", dp(20))
        kw.setdefault("spacing", dp(10))
        super().__init__(**kw)
        paint(self, colour or theme.surface, radius)
        if outline is not None:
            with self.canvas.before:
                Color(*outline)
                line = Line(width=dp(2))

            def update(*_: Any) -> None:
                line.rounded_rectangle = (self.x, self.y, self.width, self.height, dp(radius))

            self.bind(pos=update, size=update)
            update()


def qr_texture(text: str) -> Texture:
    """A QR code of ``text`` as a crisp (nearest-neighbour) texture with a quiet zone."""
    import segno

    qr = segno.make(text, error="m")
    matrix = [list(row) for row in qr.matrix]
    border = 4
    n = len(matrix) + 2 * border
    buf = bytearray(b"\xff" * (n * n * 3))
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                # textures start at the bottom row
                i = ((n - 1 - (y + border)) * n + (x + border)) * 3
                buf[i : i + 3] = b"\x00\x00\x00"
    tex = Texture.create(size=(n, n), colorfmt="rgb")
    tex.blit_buffer(bytes(buf), colorfmt="rgb", bufferfmt="ubyte")
    tex.mag_filter = "nearest"
    tex.min_filter = "nearest"
    return tex


class QrImage(Image):
    """A QR code on a white tile."""

    def __init__(self, text: str, **kw: Any) -> None:
        super().__init__(texture=qr_texture(text), fit_mode="contain", **kw)
        self.payload = text


def split(portrait: bool, **kw: Any) -> BoxLayout:
    """A screen's two halves side by side, or one above the other on a portrait display."""
    return BoxLayout(orientation="vertical" if portrait else "horizontal", **kw)


def square(tile: Widget, portrait: bool = False) -> Widget:
    """``tile`` (fixed size) centred vertically in a column as wide as it is, or centred
    horizontally in a row as tall as it is on a portrait display."""
    if portrait:
        row = BoxLayout(size_hint_y=None, height=tile.height)
        row.add_widget(Widget())
        row.add_widget(tile)
        row.add_widget(Widget())
        return row
    column = BoxLayout(orientation="vertical", size_hint_x=None, width=tile.width)
    column.add_widget(Widget())
    column.add_widget(tile)
    column.add_widget(Widget())
    return column
