"""gettext for the kiosk: English source strings, catalogs in ``kiosk/locale/{lang}/LC_MESSAGES``.

Views translate with ``Translator(lang, msgid)``; the presenter only marks its texts with
:func:`kiosk.states.N_`. The compiled ``kiosk.mo`` files are committed next to their ``.po``
sources, and ``python -m kiosk.i18n`` rebuilds them without GNU gettext or Babel (the same
algorithm as CPython's ``Tools/i18n/msgfmt.py``); a test fails when a ``.mo`` is stale or a text
of the views has no Ukrainian translation. ``python -m kiosk.i18n --extract`` lists the msgids.
"""

from __future__ import annotations

import argparse
import ast
import gettext
import struct
import sys
from pathlib import Path

DOMAIN = "kiosk"
PACKAGE = Path(__file__).resolve().parent
LOCALE_DIR = PACKAGE / "locale"


class Translator:
    """``translator(lang, msgid)`` with one cached catalog per language; unknown: English."""

    def __init__(self, locale_dir: Path = LOCALE_DIR) -> None:
        self.locale_dir = locale_dir
        self._catalogs: dict[str, gettext.NullTranslations] = {}

    def catalog(self, lang: str) -> gettext.NullTranslations:
        if lang not in self._catalogs:
            self._catalogs[lang] = gettext.translation(
                DOMAIN, str(self.locale_dir), languages=[lang], fallback=True
            )
        return self._catalogs[lang]

    def __call__(self, lang: str, msgid: str) -> str:
        return self.catalog(lang).gettext(msgid)


# -- .po -> .mo (msgfmt) ---------------------------------------------------------------------------


def _unquote(line: str) -> str:
    return str(ast.literal_eval(line))


def parse_po(text: str) -> dict[str, str]:
    """Messages of a ``.po`` file (``msgid -> msgstr``), header included, fuzzy and untranslated
    entries skipped."""
    messages: dict[str, str] = {}
    msgid: str | None = None
    msgstr: str | None = None
    section = ""
    fuzzy = False

    def flush() -> None:
        nonlocal msgid, msgstr, section, fuzzy
        if msgid is not None and msgstr is not None and not fuzzy and (msgstr or msgid == ""):
            messages[msgid] = msgstr
        msgid = msgstr = None
        section = ""
        fuzzy = False

    for raw in text.splitlines():
        line = raw.strip()
        if section == "msgstr" and not line.startswith('"'):
            flush()
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif not line or line.startswith("#"):
            continue
        elif line.startswith("msgid "):
            msgid, section = _unquote(line[6:]), "msgid"
        elif line.startswith("msgstr "):
            msgstr, section = _unquote(line[7:]), "msgstr"
        elif line.startswith('"'):
            if section == "msgid" and msgid is not None:
                msgid += _unquote(line)
            elif section == "msgstr" and msgstr is not None:
                msgstr += _unquote(line)
    flush()
    return messages


def make_mo(messages: dict[str, str]) -> bytes:
    """The GNU ``.mo`` bytes of ``messages`` (keys sorted, no hash table)."""
    keys = sorted(messages)
    ids = strs = b""
    offsets: list[tuple[int, int, int, int]] = []
    for k in keys:
        kb, vb = k.encode("utf-8"), messages[k].encode("utf-8")
        offsets.append((len(ids), len(kb), len(strs), len(vb)))
        ids += kb + b"\0"
        strs += vb + b"\0"
    keystart = 7 * 4 + 16 * len(keys)
    valuestart = keystart + len(ids)
    koffsets: list[int] = []
    voffsets: list[int] = []
    for o1, l1, o2, l2 in offsets:
        koffsets += [l1, o1 + keystart]
        voffsets += [l2, o2 + valuestart]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + len(keys) * 8, 0, 0)
    table = struct.pack(f"{len(koffsets)}i", *koffsets) + struct.pack(
        f"{len(voffsets)}i", *voffsets
    )
    return header + table + ids + strs


def po_files(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    return sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def compile_all(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Write ``kiosk.mo`` beside every ``kiosk.po``; returns the files written."""
    written = []
    for po in po_files(locale_dir):
        mo = po.with_suffix(".mo")
        mo.write_bytes(make_mo(parse_po(po.read_text(encoding="utf-8"))))
        written.append(mo)
    return written


# -- extraction ------------------------------------------------------------------------------------


def extract(package: Path = PACKAGE) -> list[str]:
    """Every literal passed to ``N_(...)``, ``_(...)`` or ``ctx._(...)`` in the kiosk's code."""
    found: dict[str, None] = {}
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            f = node.func
            name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", "")
            arg = node.args[0]
            if name in ("N_", "_") and isinstance(arg, ast.Constant) and isinstance(arg.value,
                                                                                   str):
                found[arg.value] = None
    return list(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiosk.i18n", description=__doc__)
    parser.add_argument("--extract", action="store_true", help="print the msgids, one per line")
    args = parser.parse_args(argv)
    if args.extract:
        for msgid in extract():
            print(repr(msgid))
        return 0
    for mo in compile_all():
        print(mo)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
