"""The hub's config: the example file loads, bad values are one-line errors, CLI flags win."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.cli import _config
from hub.config import HubConfig
from venue.cli import build_parser
from venue.config import load_config
from venue.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hub.toml"


def test_example_config_loads() -> None:
    cfg = load_config(HubConfig, EXAMPLE, env={})
    assert (cfg.device.id, cfg.hub.listen, cfg.hub.annul_window_s) == ("hub1", "127.0.0.1:8080", 60)


def test_bad_listen_and_unknown_key_are_errors(tmp_path: Path) -> None:
    bad = tmp_path / "h.toml"
    bad.write_text('[hub]\nlisten = "8080"\n')
    with pytest.raises(ConfigError, match=r"hub\.listen"):
        load_config(HubConfig, bad, env={})
    bad.write_text('[hub]\nlisen = "127.0.0.1:1"\n')
    with pytest.raises(ConfigError, match=r"hub\.lisen: unknown key"):
        load_config(HubConfig, bad, env={})


def test_command_line_wins_over_file_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENUE_ADMIN_TOKEN", "from-env")
    monkeypatch.setenv("VENUE_HUB__LISTEN", "0.0.0.0:9000")
    args = build_parser().parse_args(
        ["hub", "--config", str(EXAMPLE), "--db", "sqlite:///x.db", "--no-mqtt"])
    cfg = _config(args)
    assert (cfg.hub.db, cfg.hub.mqtt, cfg.hub.admin_token, cfg.hub.listen) == (
        "sqlite:///x.db", False, "from-env", "0.0.0.0:9000")
    args = build_parser().parse_args(["hub", "token", "create", "--role", "gate", "--device",
                                      "g1", "--db", "sqlite:///y.db"])
    assert (args.hub_command, args.token_command, args.db) == ("token", "create", "sqlite:///y.db")
