"""Kivy settings for a kiosk display, applied before Kivy opens its window.

On a Raspberry Pi (Raspberry Pi OS Bookworm, no desktop) Kivy's SDL2 window runs straight on
KMS/DRM: ``SDL_VIDEODRIVER=kmsdrm`` is set when there is no X or Wayland display. What this
module sets, and why:

* ``graphics.fullscreen = auto``: take the display's own mode, no window decorations.
* ``graphics.show_cursor = 0``: a touch kiosk has no pointer to show.
* ``kivy.exit_on_escape = 0``: a USB keyboard plugged in by a passer-by must not close the app.
* ``graphics.rotation``: for displays mounted upside down or in portrait. Kivy turns the
  drawing and the touches together. ``[kiosk.display] rotation`` wins; when it is 0 the
  ``KCFG_GRAPHICS_ROTATION`` environment variable counts (``firmware_config`` writes it into the
  unit's drop-in), because setting Kivy's config here would otherwise silently undo it.
* Input: exactly **one** provider reads the touch screen, or every tap arrives twice (SDL's own
  touch events and Kivy's ``probesysfs`` ``mtdev``/``hidinput`` providers both see it). With
  ``touch_provider = "sdl"`` (default) the ``probesysfs`` providers are removed and the mouse
  provider ignores touch-emulated mouse events; with ``mtdev`` or ``hidinput`` only that one is
  kept. ``disable_multitouch`` stops right-click red dots.
* Screen blanking: SDL is told not to allow the screensaver; the console blanker and DPMS are
  outside the app (``consoleblank=0`` on the kernel command line, see docs/kiosk.md).
* ``KIVY_NO_ARGS=1``: our own argparse reads the command line, not Kivy's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

from kiosk.config import DisplaySection


def prepare_environment(
    display: DisplaySection, env: MutableMapping[str, str] | None = None
) -> None:
    """Environment variables Kivy and SDL read when they load; call before importing Kivy."""
    env = os.environ if env is None else env
    env.setdefault("KIVY_NO_ARGS", "1")
    env.setdefault("KIVY_NO_FILELOG", "1")
    env.setdefault("SDL_VIDEO_ALLOW_SCREENSAVER", "0")
    if display.fullscreen and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env.setdefault("SDL_VIDEODRIVER", "kmsdrm")
        env.setdefault("KIVY_WINDOW", "sdl2")


ROTATIONS = (0, 90, 180, 270)


def effective_rotation(display: DisplaySection, env: Mapping[str, str] | None = None) -> int:
    """The rotation to apply: the config's, else ``KCFG_GRAPHICS_ROTATION``, else 0."""
    if display.rotation:
        return int(display.rotation)
    env = os.environ if env is None else env
    raw = env.get("KCFG_GRAPHICS_ROTATION", "").strip()
    try:
        value = int(raw) if raw else 0
    except ValueError:
        value = 0
    return value if value in ROTATIONS else 0


def apply_kivy_config(display: DisplaySection) -> None:
    """Set Kivy's ``Config`` for a kiosk (see the module docstring); before the window opens."""
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "pause_on_minimize", "0")
    Config.set("graphics", "show_cursor", "1" if display.show_cursor else "0")
    Config.set("graphics", "rotation", str(effective_rotation(display)))
    Config.set("graphics", "fullscreen", "auto" if display.fullscreen else "0")
    Config.set("graphics", "width", str(display.width))
    Config.set("graphics", "height", str(display.height))
    Config.set("graphics", "resizable", "0")
    Config.set("graphics", "multisamples", "0")
    for key in list(Config.options("input")):
        Config.remove_option("input", key)
    if display.touch_provider == "sdl":
        Config.set("input", "mouse", "mouse,disable_multitouch")
    elif display.touch_provider == "mtdev":
        Config.set("input", "touch", "probesysfs,provider=mtdev")
    else:
        Config.set("input", "touch", "probesysfs,provider=hidinput")
