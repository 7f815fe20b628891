"""Small, strict writers for the TOML and YAML that provisioning emits.

We write a handful of known shapes (tables of strings, numbers, booleans and lists), so a tiny
writer is easier to trust than a new dependency on a technician's laptop: every string is quoted
with JSON escapes, which are valid in TOML basic strings and YAML double-quoted scalars alike, so a
Wi-Fi name or a path with ``#``, ``:`` or quotes can never change the structure of the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write {type(value).__name__} as a scalar")


def _toml_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return _scalar(value)


def _toml_key(key: str) -> str:
    if key and all(c.isalnum() or c in "-_" for c in key) and key.isascii():
        return key
    return json.dumps(key)


def to_toml(data: Mapping[str, Any], *, header: str = "") -> str:
    """Render nested mappings as TOML: top-level scalars first, then one ``[table]`` per mapping.

    Lists of mappings become arrays of tables (``[[name]]``); ``None`` values are left out, as TOML
    has no null and our config loader treats an absent key as its default.
    """
    lines: list[str] = [f"# {line}".rstrip() for line in header.splitlines()]
    body: list[str] = []
    _toml_table(body, data, ())
    text = "\n".join(body).strip("\n")
    return "\n".join([*lines, "", text]).strip("\n") + "\n" if lines else text + "\n"


def _toml_table(lines: list[str], data: Mapping[str, Any], path: tuple[str, ...]) -> None:
    tables: list[tuple[str, Any]] = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, Mapping) or (
            isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value)
        ):
            tables.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in tables:
        sub = (*path, _toml_key(key))
        if isinstance(value, Mapping):
            lines.extend(["", f"[{'.'.join(sub)}]"])
            _toml_table(lines, value, sub)
        else:
            for item in value:
                lines.extend(["", f"[[{'.'.join(sub)}]]"])
                _toml_table(lines, item, sub)


def to_yaml(data: Any, *, header: str = "") -> str:
    """Render mappings, lists and scalars as block-style YAML.

    Multi-line strings use literal blocks (``|``) so files written by cloud-init stay readable;
    everything else is a double-quoted scalar.
    """
    out: list[str] = [header] if header else []
    _yaml_node(out, data, 0)
    return "\n".join(out) + "\n"


def _yaml_block_ok(text: str) -> bool:
    return (
        "\n" in text
        and not text.startswith((" ", "\t", "\n"))
        and "\r" not in text
        and "\t" not in text
    )


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _yaml_key(key: object) -> str:
    text = str(key)
    if _PLAIN_KEY.match(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text)


def _yaml_inline(value: Any, indent: int) -> tuple[str, list[str]]:
    """The text after ``key:`` or ``-`` and the lines that follow it."""
    pad = " " * indent
    if isinstance(value, Mapping) and value:
        sub: list[str] = []
        _yaml_node(sub, value, indent + 2)
        return "", sub
    if isinstance(value, list | tuple) and value:
        sub = []
        _yaml_node(sub, list(value), indent + 2)
        return "", sub
    if isinstance(value, Mapping):
        return " {}", []
    if isinstance(value, list | tuple):
        return " []", []
    if isinstance(value, str) and _yaml_block_ok(value):
        chomp = "" if value.endswith("\n") and not value.endswith("\n\n") else "-"
        if value.endswith("\n\n"):
            return " " + json.dumps(value), []
        body = value[:-1] if value.endswith("\n") else value
        return f" |{chomp}", [f"{pad}  {line}" if line else "" for line in body.split("\n")]
    return " " + _scalar(value), []


def _yaml_node(out: list[str], data: Any, indent: int) -> None:
    pad = " " * indent
    if isinstance(data, Mapping):
        for key, value in data.items():
            if value is None:
                continue
            text, sub = _yaml_inline(value, indent)
            out.append(f"{pad}{_yaml_key(key)}:{text}")
            out.extend(sub)
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, Mapping) and item:
                sub_lines: list[str] = []
                _yaml_node(sub_lines, item, indent + 2)
                first = sub_lines[0][indent + 2 :]
                out.append(f"{pad}- {first}")
                out.extend(sub_lines[1:])
            else:
                text, sub = _yaml_inline(item, indent)
                out.append(f"{pad}-{text}")
                out.extend(sub)
    else:
        out.append(pad + _scalar(data))

