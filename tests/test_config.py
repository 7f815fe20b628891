"""Config loading: typed sections, env overrides, and one-line errors that name file and key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from venue.config import BaseConfig, ConfigError, MqttSection, load_config


@dataclass(frozen=True)
class GateLike:
    budget_ms: int = 250
    direction: Literal["in", "out"] = "in"
    ratio: float = 1.0
    fail_open: bool = False
    pins: list[int] = field(default_factory=list)
    hub_url: str | None = None

    def validate(self) -> None:
        if self.budget_ms <= 0:
            raise ConfigError("gate.budget_ms: must be positive")


@dataclass(frozen=True)
class RoleConfig(BaseConfig):
    gate: GateLike = field(default_factory=GateLike)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "role.toml"
    p.write_text(text)
    return p


def test_defaults_without_file() -> None:
    cfg = load_config(RoleConfig, None, env={})
    assert cfg.gate.budget_ms == 250
    assert cfg.mqtt.url == "mqtt://127.0.0.1:1883"


def test_file_values_are_typed(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        '[device]\nsite = "s1"\nid = "g1"\n[gate]\nbudget_ms = 300\nratio = 2\n'
        'direction = "out"\npins = [17, 27]\nfail_open = true\n',
    )
    cfg = load_config(RoleConfig, p, env={})
    assert (cfg.device.site, cfg.device.id) == ("s1", "g1")
    assert cfg.gate.budget_ms == 300
    assert cfg.gate.ratio == 2.0 and isinstance(cfg.gate.ratio, float)
    assert cfg.gate.pins == [17, 27]
    assert cfg.gate.direction == "out"
    assert cfg.gate.fail_open is True


def test_env_overrides_file_and_cli_overrides_env(tmp_path: Path) -> None:
    p = write(tmp_path, "[gate]\nbudget_ms = 300\n")
    env = {"VENUE_GATE__BUDGET_MS": "400", "VENUE_MQTT__URL": "mqtt://broker:1884", "OTHER": "x"}
    cfg = load_config(RoleConfig, p, env=env)
    assert cfg.gate.budget_ms == 400
    assert cfg.mqtt.url == "mqtt://broker:1884"
    cfg = load_config(RoleConfig, p, env=env, overrides={"gate.budget_ms": 500})
    assert cfg.gate.budget_ms == 500


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[gate]\nbudget_ms = "fast"\n', "gate.budget_ms: expected an integer, got 'fast'"),
        ("[gate]\nbudget_ms = true\n", "gate.budget_ms: expected an integer"),
        ("[gate]\nbuget_ms = 300\n", "gate.buget_ms: unknown key"),
        ("[gates]\nbudget_ms = 300\n", "gates: unknown key"),
        ('[gate]\ndirection = "up"\n', "gate.direction: expected one of 'in', 'out'"),
        ('[gate]\npins = [17, "x"]\n', "gate.pins[1]: expected an integer"),
        ("[gate]\nbudget_ms = 0\n", "gate.budget_ms: must be positive"),
        ("[gate\nbudget_ms = 1\n", "invalid TOML"),
        ("gate = 3\n", "gate: expected a table"),
    ],
)
def test_bad_config_is_one_line_naming_file_and_key(
    tmp_path: Path, text: str, fragment: str
) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(RoleConfig, p, env={})
    msg = str(info.value)
    assert fragment in msg
    assert str(p) in msg
    assert "\n" not in msg


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(RoleConfig, tmp_path / "nope.toml", env={})
    p = tmp_path / "bin.toml"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(RoleConfig, p, env={})


def test_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    assert MqttSection(password_file=str(secret)).resolved_password() == "s3cret"
    with pytest.raises(ConfigError, match="password_file"):
        MqttSection(password_file=str(tmp_path / "missing")).resolved_password()
