"""A kiosk window turned by 90° (portrait), driven by real X pointer events; run under Xvfb by
test_kiosk_display.py.

``python kiosk_rotation_driver.py OUT_DIR ROTATION``: the app's display settings are applied as
the CLI does, the window opens on a 1280x800 X screen, and every tap is a real pointer click made
with the XTEST extension at a *physical* screen pixel, so it travels X → SDL → Kivy's input
provider → the window's rotation → the widget, as a finger on a rotated panel does. Where to
click is checked against the picture on the X screen (XGetImage): the pixel under the pointer
must have the button's colour, so drawing and touch are verified to agree. Goes identify (one
digit per click: no double events) → home → rewards → lottery (typed code) → prize on the demo
data, and writes what it saw to OUT_DIR/result.json.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

OUT = Path(sys.argv[1])
ROTATION = int(sys.argv[2]) if len(sys.argv) > 2 else 90
OUT.mkdir(parents=True, exist_ok=True)
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")

from kiosk.config import KioskConfig  # noqa: E402
from kiosk.platform import apply_kivy_config, effective_rotation, prepare_environment  # noqa: E402
from venue.config import load_config  # noqa: E402

cfg = load_config(KioskConfig, None, env={}, overrides={
    "device.id": "k1",
    "device.site": "test",
    "device.data_dir": str(OUT / "data"),
    "kiosk.hub_url": "demo:",
    "kiosk.display": {"fullscreen": False, "width": 1280, "height": 800, "rotation": ROTATION},
})
prepare_environment(cfg.kiosk.display)
apply_kivy_config(cfg.kiosk.display)
from kivy.config import Config  # noqa: E402

# no window manager under Xvfb: put the window at the screen's origin so X pixels are window pixels
Config.set("graphics", "position", "custom")
Config.set("graphics", "left", "0")
Config.set("graphics", "top", "0")
Config.set("graphics", "borderless", "1")

from kivy.base import EventLoop, _runTouchApp_prepare  # noqa: E402

from kiosk.app import apply_rotation, make_root, ui_deliver  # noqa: E402
from kiosk.demo import DEMO_WIN_CODE  # noqa: E402
from kiosk.runner import ThreadRunner  # noqa: E402
from kiosk.screens.root import find  # noqa: E402
from kiosk.wiring import build  # noqa: E402


class X:
    """The X server under the window: read a pixel, click a pixel (XTEST)."""

    def __init__(self) -> None:
        self.x11 = ctypes.CDLL("libX11.so.6")
        self.xtst = ctypes.CDLL("libXtst.so.6")
        self.x11.XOpenDisplay.restype = ctypes.c_void_p
        self.x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.x11.XDefaultRootWindow.restype = ctypes.c_ulong
        self.x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        self.x11.XGetImage.restype = ctypes.c_void_p
        self.x11.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int,
                                       ctypes.c_uint, ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
        self.x11.XGetPixel.restype = ctypes.c_ulong
        self.x11.XGetPixel.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        self.x11.XDestroyImage.argtypes = [ctypes.c_void_p]
        self.x11.XFlush.argtypes = [ctypes.c_void_p]
        self.x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.xtst.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                                   ctypes.c_int, ctypes.c_ulong]
        self.xtst.XTestFakeButtonEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int,
                                                   ctypes.c_ulong]
        self.dpy = self.x11.XOpenDisplay(None)
        assert self.dpy, "no X display"
        self.root = self.x11.XDefaultRootWindow(self.dpy)

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        img = self.x11.XGetImage(self.dpy, self.root, x, y, 1, 1, ctypes.c_ulong(-1).value, 2)
        value = self.x11.XGetPixel(img, 0, 0)
        self.x11.XDestroyImage(img)
        return (value >> 16) & 255, (value >> 8) & 255, value & 255

    def click(self, x: int, y: int) -> None:
        self.xtst.XTestFakeMotionEvent(self.dpy, -1, x, y, 0)
        self.xtst.XTestFakeButtonEvent(self.dpy, 1, 1, 0)
        self.xtst.XTestFakeButtonEvent(self.dpy, 1, 0, 0)
        self.x11.XSync(self.dpy, 0)


def physical(x: float, y: float, rotation: int, sys_w: int, sys_h: int) -> tuple[int, int]:
    """A point of the rotated content (Kivy window coordinates, origin bottom left) as an X
    pixel of the panel (origin top left): the inverse of what Kivy does to a touch."""
    xm, ym = sys_w - 1, sys_h - 1
    if rotation == 0:
        nx, ny = x / xm, y / ym
    elif rotation == 90:
        nx, ny = 1 - y / xm, x / ym
    elif rotation == 180:
        nx, ny = 1 - x / xm, 1 - y / ym
    else:
        nx, ny = y / xm, 1 - x / ym
    return round(nx * xm), round((1 - ny) * ym)


def step(frames: int = 1) -> None:
    """One turn of the app's main loop: a frame, then the window's pending SDL events (what
    ``EventLoop.mainloop`` does; ``EventLoop.idle`` alone never reads the pointer)."""
    for _ in range(frames):
        EventLoop.idle()
        EventLoop.window.mainloop()


def wait_until(cond: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := cond()):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        step()
    return value


def wait_screen(root: Any, screen: str, timeout: float = 5.0) -> None:
    wait_until(lambda: root.rendered is not None and root.rendered.value == screen
               and root.ctx.presenter.state.busy is None, timeout, f"screen {screen}")
    step()
    root.export_to_png(str(OUT / f"{screen}-rotated-{ROTATION}.png"))


result: dict[str, Any] = {"rotation": ROTATION, "taps": [], "portrait": None}
runner = ThreadRunner(ui_deliver)
kiosk = build(cfg, runner, mqtt=False)
p = kiosk.presenter
p.tick()  # what runs now: the lottery
root = make_root(kiosk)
# as App.run() does: the configured input providers, the post-processing, the loop started
_runTouchApp_prepare(root)
window = EventLoop.window
apply_rotation(effective_rotation(cfg.kiosk.display))
step(5)
x = X()
root.export_to_png(str(OUT / f"attract-rotated-{ROTATION}.png"))
result["portrait"] = root.ctx.portrait

result["config"] = {
    "exit_on_escape": Config.get("kivy", "exit_on_escape"),
    "show_cursor": Config.get("graphics", "show_cursor"),
    "rotation": Config.get("graphics", "rotation"),
    "input": {k: Config.get("input", k) for k in Config.options("input")},
}
result["providers"] = sorted(type(pr).__name__ for pr in EventLoop.input_providers)
result["window"] = {"size": list(window.size), "system_size": list(window.system_size),
                    "rotation": window.rotation, "show_cursor": window.show_cursor}
result["root"] = list(root.size)


def tap(kid: str) -> None:
    widget = wait_until(lambda: find(root, kid), 5, f"widget {kid!r}")
    step()
    wx, wy = widget.to_window(widget.x, widget.y)
    # a point inside the button clear of its label, where its fill colour shows
    px, py = physical(wx + min(widget.width * 0.12, 24), wy + widget.height / 2, window.rotation,
                      *window.system_size)
    seen = x.pixel(px, py)
    fill = tuple(round(c * 255) for c in widget._fill[:3])
    matches = all(abs(a - b) <= 12 for a, b in zip(seen, fill, strict=True))
    result["taps"].append({"kid": kid, "at": [px, py], "seen": seen, "fill": fill,
                           "drawn_there": matches})
    x.click(px, py)
    step(3)


try:
    tap("start")
    wait_screen(root, "identify")
    digits = []
    for d in "0671234567":
        tap(f"key-{d}")
        digits.append(len(p.phone))
    result["digits_after_each_tap"] = digits
    tap("submit")
    wait_screen(root, "home")
    tap("rewards")
    wait_screen(root, "rewards")
    tap("lottery")
    wait_screen(root, "lottery")
    for key in DEMO_WIN_CODE:
        tap(f"code-{key}")
    result["code"] = p.state.code_display
    tap("play")
    wait_screen(root, "prize", timeout=10)
    result["prize"] = p.state.play.prize if p.state.play else None
    result["screen"] = p.state.screen.value
except BaseException:
    (OUT / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
    raise
finally:
    result["last_screen"] = p.state.screen.value
    EventLoop.close()
    (OUT / "result.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    runner.stop()
    kiosk.close()
