"""Driving a real kiosk window without a person: for tests, the benchmark and the tour.

The window is opened with Kivy's ``EventLoop.ensure_window()`` and the loop is pumped by hand
with ``EventLoop.idle()`` (one frame each: clock, input, draw), so a script decides when frames
happen and waits on conditions with deadlines instead of sleeping. Taps are synthetic touches
(``kivy.tests.common.UnitTestTouch``, which imports pytest: a dev dependency) at the centre of
the widget whose ``kid`` is asked for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.base import EventLoop
from kivy.uix.widget import Widget

from kiosk.screens.root import KioskRoot, find


def open_window(root: Widget) -> Any:
    """Open the window, put ``root`` in it, draw one frame; returns the window."""
    EventLoop.ensure_window()
    window = EventLoop.window
    window.add_widget(root)
    pump(3)
    return window


def pump(frames: int = 1) -> None:
    for _ in range(frames):
        EventLoop.idle()


def wait_until(cond: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    """Pump frames until ``cond()`` is truthy; raise ``TimeoutError`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        EventLoop.idle()


def tap(root: KioskRoot, kid: str, timeout: float = 5.0) -> None:
    """Touch down and up at the centre of the widget ``kid`` (waits for it to appear)."""
    from kivy.tests.common import UnitTestTouch

    widget = wait_until(lambda: find(root, kid), timeout, f"widget {kid!r}")
    x, y = widget.to_window(*widget.center)
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()
    EventLoop.idle()


def wait_screen(root: KioskRoot, screen: str, timeout: float = 5.0) -> None:
    """Wait until ``screen`` is in the tree and drawn (one more frame after it appeared)."""
    wait_until(lambda: root.rendered is not None and root.rendered.value == screen
               and root.ctx.presenter.state.busy is None, timeout, f"screen {screen}")
    EventLoop.idle()


def screenshot(root: Widget, path: Path) -> Path:
    """Save the root widget (which paints its own background) as a PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    root.export_to_png(str(path))
    return path
