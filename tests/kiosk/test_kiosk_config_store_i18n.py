"""Kiosk config, the durable credit queue, translations, and the phone keypad's masking."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from kiosk.config import KioskConfig
from kiosk.i18n import LOCALE_DIR, Translator, extract, make_mo, parse_po, po_files
from kiosk.keypad import PhoneInput
from kiosk.models import VisitRequest
from kiosk.platform import prepare_environment
from kiosk.store import KioskStore
from venue.config import load_config
from venue.errors import ConfigError, PhoneNumberError

REPO = Path(__file__).resolve().parents[2]


def test_example_config_loads_with_every_section() -> None:
    cfg = load_config(KioskConfig, REPO / "examples" / "kiosk.toml", env={})
    assert cfg.device.id == "kiosk1"
    assert cfg.kiosk.businesses == [1] and cfg.kiosk.shop == 1
    assert cfg.kiosk.branding.venue_name == "Café Dnipro"
    assert cfg.kiosk.display.touch_provider == "sdl" and cfg.kiosk.camera.kind == "none"
    assert not cfg.kiosk.demo


@pytest.mark.parametrize("toml,key", [
    ('[kiosk]\nregion = "XX"\n', "kiosk.region"),
    ('[kiosk]\nlanguages = ["en", "de"]\n', "kiosk.languages"),
    ('[kiosk]\ndefault_language = "uk"\nlanguages = ["en"]\n', "kiosk.default_language"),
    ('[kiosk]\nmaintenance_pin = "12"\n', "kiosk.maintenance_pin"),
    ('[kiosk]\nhub_url = "ftp://x"\n', "kiosk.hub_url"),
    ('[kiosk]\nbusinesses = []\n', "kiosk.businesses"),
    ('[kiosk]\nshop_business = 9\n', "kiosk.shop_business"),
    ('[kiosk.branding]\nprimary = "orange"\n', "kiosk.branding.primary"),
    ('[kiosk.display]\nrotation = 45\n', "kiosk.display.rotation"),
    ('[kiosk]\nidle_timout_s = 3\n', "kiosk.idle_timout_s"),
])
def test_bad_config_names_the_key(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_config(KioskConfig, path, env={})
    assert key in str(info.value)


def test_token_file_and_env_override(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cret\n")
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\nhub_token_file = "{tmp_path / "token"}"\n')
    cfg = load_config(KioskConfig, path, env={"VENUE_KIOSK__HUB_URL": '"demo:"'})
    assert cfg.kiosk.resolved_token() == "s3cret" and cfg.kiosk.demo


def test_pi_environment_uses_kms_only_without_a_display() -> None:
    from kiosk.config import DisplaySection

    env: dict[str, str] = {}
    prepare_environment(DisplaySection(), env)
    assert env["SDL_VIDEODRIVER"] == "kmsdrm" and env["KIVY_NO_ARGS"] == "1"
    env = {"DISPLAY": ":0"}
    prepare_environment(DisplaySection(), env)
    assert "SDL_VIDEODRIVER" not in env


def test_queue_survives_a_restart_and_holds_no_phone(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    at = datetime(2026, 1, 1, 12, tzinfo=UTC)
    store = KioskStore(db)
    store.queue_visit(VisitRequest("c_1", 1, "k1:visit:a", at, "k1"), now=1.0)
    store.queue_visit(VisitRequest("c_1", 1, "k1:visit:a", at, "k1"), now=2.0)  # same key
    store.queue_visit(VisitRequest("c_2", 1, "k1:visit:b", at, "k1"), now=3.0)
    store.remember("+380671234567", "c_1", "+380 •• ••• •• 67", seen=at)
    store.close()
    store = KioskStore(db)  # a new process
    assert [v.idempotency_key for v in store.queued_visits()] == ["k1:visit:a", "k1:visit:b"]
    assert store.queued_visits()[0].at == at
    assert store.recall("+380671234567") == ("c_1", "+380 •• ••• •• 67")
    assert store.recall("+380509876543") is None
    store.visit_failed("k1:visit:a")
    store.visit_sent("k1:visit:b")
    assert store.queue_depth() == 1 and store.queued_visits()[0].attempts == 1
    store.close()
    raw = db.read_bytes() + (db.with_name("q.db-wal").read_bytes()
                             if db.with_name("q.db-wal").exists() else b"")
    assert b"671234567" not in raw
    assert (db.stat().st_mode & 0o777) == 0o600


def test_keypad_masks_and_validates() -> None:
    k = PhoneInput("UA")
    assert k.prefix == "+380"
    for d in "0671234567":
        k.press(d)
    assert k.display() == "••• ••• ••67" and k.possible()
    assert k.e164() == "+380671234567"
    assert not k.press("x")
    k.clear()
    for d in "0001":
        k.press(d)
    with pytest.raises(PhoneNumberError):
        k.e164()
    gb = PhoneInput("GB")
    assert gb.prefix == "+44"


def test_every_text_of_the_kiosk_has_a_ukrainian_translation() -> None:
    uk = parse_po((LOCALE_DIR / "uk" / "LC_MESSAGES" / "kiosk.po").read_text(encoding="utf-8"))
    missing = [m for m in extract() if not uk.get(m)]
    assert missing == []
    tr = Translator()
    assert tr("uk", "Touch to start") == "Торкніться, щоб почати"
    assert tr("en", "Touch to start") == "Touch to start"
    assert tr("uk", "+{points} points for your visit!").format(points=10) == "+10 балів за візит!"


def test_committed_mo_files_are_compiled_from_their_po() -> None:
    assert len(po_files()) == 2
    for po in po_files():
        expected = make_mo(parse_po(po.read_text(encoding="utf-8")))
        assert po.with_suffix(".mo").read_bytes() == expected, f"run python -m kiosk.i18n ({po})"


def test_po_parser_skips_fuzzy_and_untranslated() -> None:
    text = ('msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
            '#, fuzzy\nmsgid "a"\nmsgstr "A"\n\nmsgid "b"\nmsgstr ""\n\n'
            'msgid "c"\n"d"\nmsgstr "C"\n"D"\n')
    assert parse_po(text) == {"": "Content-Type: text/plain; charset=UTF-8\n", "cd": "CD"}
