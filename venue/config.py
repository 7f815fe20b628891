"""Typed, validated TOML config shared by every role.

Each role describes its config as frozen dataclasses (sections of fields with defaults); this module
turns a TOML file plus ``VENUE_<SECTION>__<KEY>`` environment overrides into that dataclass, or
raises :class:`ConfigError` with one line naming the file, the key and what was expected. A typo in
a key is an error, not a silently ignored setting: on a gate, a misspelt ``relay_pin`` must not
leave the default pin in charge.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from venue.errors import ConfigError

T = TypeVar("T")

ENV_PREFIX = "VENUE_"


def resolve_secret(value: str | None, path: str | None, key: str) -> str | None:
    """A secret given in the config itself or, preferably, in a file the config names.

    Secrets live in files (mode 0600, outside git) so a config can be kept in git; the file wins
    when both are given.

    Raises:
        ConfigError: the named file cannot be read; the message names the key and the file.
    """
    if not path:
        return value
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {path}: {exc.strerror}") from None


@dataclass(frozen=True)
class DeviceSection:
    """Who this device is: its site and its id make its MQTT topic root."""

    site: str = "demo"
    id: str = "dev1"
    data_dir: str = "var"
    """Where durable state lives (outbox, replica, logs); relative paths are from the cwd."""


@dataclass(frozen=True)
class MqttSection:
    """How to reach the broker."""

    url: str = "mqtt://127.0.0.1:1883"
    """``mqtt://host:port`` or ``mqtts://host:port`` (TLS)."""
    username: str | None = None
    password: str | None = None
    password_file: str | None = None
    """A file holding the password, so the config itself can be kept in git."""
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    keepalive: int = 30
    outbox_max: int = 100_000
    """Most messages the durable outbox keeps; telemetry is shed first when it is full."""

    def resolved_password(self) -> str | None:
        """The password, read from ``password_file`` when one is named."""
        return resolve_secret(self.password, self.password_file, "mqtt.password_file")


@dataclass(frozen=True)
class LogSection:
    """Logging; ``format = "json"`` gives one JSON object a line for log shippers."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


@dataclass(frozen=True)
class BaseConfig:
    """Sections every role has. Role configs subclass this and add their own section."""

    device: DeviceSection = field(default_factory=DeviceSection)
    mqtt: MqttSection = field(default_factory=MqttSection)
    log: LogSection = field(default_factory=LogSection)


def load_config(
    cls: type[T],
    path: str | os.PathLike[str] | None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> T:
    """Read ``path`` (TOML) into the dataclass ``cls``.

    Args:
        cls: The role's config dataclass.
        path: The TOML file; ``None`` means defaults plus environment only.
        env: Environment for ``VENUE_<SECTION>__<KEY>`` overrides (default ``os.environ``).
        overrides: Values from the command line, as ``{"section.key": value}``; they win over both.

    Raises:
        ConfigError: One line naming the file, the key and what was expected.
    """
    where = str(path) if path is not None else "<defaults>"
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"{where}: file not found") from None
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read: {exc.strerror}") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigError(f"{where}: not UTF-8 text") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{where}: invalid TOML: {exc}") from None
    env = os.environ if env is None else env
    _apply_env(cls, data, env, where)
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        _set_dotted(data, dotted, value)
    return _build(cls, data, where, "")


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _apply_env(cls: type, data: dict[str, Any], env: Mapping[str, str], where: str) -> None:
    """Apply ``VENUE_SECTION__KEY=value`` overrides, parsed as TOML values where they parse."""
    sections = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if section not in sections:
            continue
        _set_dotted(data, f"{section}.{key}", _parse_env_value(raw))


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(tp) if a is not type(None))
    if origin is list:
        (inner,) = get_args(tp) or (Any,)
        return f"a list of {_describe(inner)}"
    if origin is dict:
        return "a table"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
    }.get(tp, getattr(tp, "__name__", str(tp)))


def _convert(tp: Any, value: Any, where: str, key: str) -> Any:
    origin = get_origin(tp)
    bad = ConfigError(f"{where}: {key}: expected {_describe(tp)}, got {value!r}")
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where, key)
            except ConfigError:
                continue
        raise bad
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise bad
    if origin is list or origin is tuple:
        if not isinstance(value, list):
            raise bad
        (inner,) = get_args(tp)[:1] or (Any,)
        items = [_convert(inner, v, where, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise bad
        _, vt = get_args(tp) or (str, Any)
        return {str(k): _convert(vt, v, where, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise bad
        return _build(tp, value, where, key)  # type: ignore[arg-type]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise bad
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad
    raise ConfigError(f"{where}: {key}: unsupported config type {tp!r}")


def _build(cls: type[T], data: Mapping[str, Any], where: str, prefix: str) -> T:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        name = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        known = ", ".join(sorted(fields))
        raise ConfigError(f"{where}: {name}: unknown key (known here: {known})")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _convert(hints[name], value, where, key)
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {prefix or 'config'}: {exc}") from None
    check = getattr(obj, "validate", None)
    if callable(check):
        try:
            check()
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return obj


def to_toml_dict(obj: Any) -> dict[str, Any]:
    """A config dataclass as plain dicts (``None`` dropped), for writing example files."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = to_toml_dict(value)
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        elif value is not None:
            out[f.name] = value
    return out
