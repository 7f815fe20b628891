"""Config files, scanner serial streams, phone numbers, imported code lists, replica answers."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from gatekit import Issuer
from hypothesis import HealthCheck, given, settings

from gate.sources.base import LineFilter
from gate.sources.serial import LineSplitter
from venue import phone
from venue.config import BaseConfig, load_config
from venue.errors import ConfigError, PayloadError, PhoneNumberError

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# --- config files -------------------------------------------------------------------------------

SECTIONS = ["device", "mqtt", "log", "gate", "beacon", "hub", "io", "decoder", "scanner",
            "simulation", "bogus"]
KEYS = ["site", "id", "data_dir", "url", "username", "password", "keepalive", "outbox_max",
        "level", "format", "hub_url", "budget_ms", "debounce_s", "mode", "backend", "db",
        "listen", "pin_factory", "order", "kind", "port", "x"]
toml_values = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda f: "nan" if f != f else ("inf" if f == float("inf") else
                                        "-inf" if f == float("-inf") else repr(f))),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(max_size=15).map(json.dumps),
    st.lists(st.integers(-5, 5), max_size=4).map(str),
    st.sampled_from(['"mqtt://127.0.0.1:1883"', '"DEBUG"', '"mock"', '["zxing"]', "{}",
                     '{a = 1}', '1979-05-27T07:32:00Z']),
)


@st.composite
def toml_texts(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 4))):
        table = draw(st.sampled_from(SECTIONS))
        lines.append(f"[[{table}]]" if draw(st.integers(0, 5)) == 0 else f"[{table}]")
        for _ in range(draw(st.integers(0, 4))):
            lines.append(f"{draw(st.sampled_from(KEYS))} = {draw(toml_values)}")
    if draw(st.integers(0, 4)) == 0:  # now and then, raw noise
        lines.append(draw(st.text(max_size=30)))
    return "\n".join(lines) + "\n"


def _config_classes() -> list[type]:
    from beacon.config import BeaconConfig
    from gate.config import GateConfig
    from hub.config import HubConfig

    return [BaseConfig, GateConfig, BeaconConfig, HubConfig]


@pytest.fixture(scope="module")
def cfg_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-config") / "venue.toml"


@FUZZ
@given(toml_texts() | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_config_loads_or_names_the_problem(cfg_file: Path, text: str) -> None:
    cfg_file.write_bytes(text.encode("utf-8", "surrogatepass"))
    for cls in _config_classes():
        try:
            load_config(cls, cfg_file, env={})
        except ConfigError as exc:
            assert str(cfg_file) in str(exc) or "<defaults>" in str(exc)


# --- scanner serial streams ---------------------------------------------------------------------

@FUZZ
@given(st.lists(st.binary(max_size=64), max_size=20),
       st.sampled_from(["cr", "lf", "crlf", "any", "none"]), st.integers(1, 80))
def test_serial_framing_bounds_lines(chunks: list[bytes], ending: str, max_line: int) -> None:
    too_long: list[int] = []
    splitter = LineSplitter(ending, max_line, lambda: too_long.append(1))
    stats: Any = __import__("collections").Counter()
    accept = LineFilter(stats, max_line=max_line)
    lines: list[bytes] = []
    for chunk in chunks:
        lines += splitter.feed(chunk)
        assert len(splitter.buf) <= max_line + 2  # bounded memory, whatever arrives
    tail = splitter.flush()
    if tail is not None:
        lines.append(tail)
    for raw in lines:
        text = accept.accept(raw)
        if text is not None:
            assert text.isprintable() and text == text.strip() and text
            assert len(text.encode()) <= max_line
    if not too_long and ending != "none":
        joined = b"".join(chunks)
        assert all(raw in joined for raw in lines)


# --- phone numbers ------------------------------------------------------------------------------

phoneish = st.text(alphabet="0123456789+-() .", min_size=0, max_size=25)


@FUZZ
@given(phoneish, st.sampled_from(["UA", "GB", "US", "DE", "ZZ"]))
def test_phone_normalize_phoneish(raw: str, region: str) -> None:
    try:
        e164 = phone.normalize(raw, region)
    except PhoneNumberError:
        return
    assert e164.startswith("+") and e164[1:].isdigit()
    assert phone.normalize(e164, region) == e164
    masked = phone.mask(e164)
    assert e164[1:-2] not in masked.replace(" ", "")


@FUZZ
@given(st.lists(phoneish | st.text(max_size=10), max_size=6))
def test_phone_redact_hides_every_valid_number(parts: list[str]) -> None:
    text = " ".join(parts)
    out = phone.redact(text)
    for part in parts:
        try:
            e164 = phone.normalize(part, "UA")
        except PhoneNumberError:
            continue
        digits = "".join(c for c in part if c.isdigit())
        if len(digits) >= 9 and digits in text.replace(" ", ""):
            assert digits not in "".join(c for c in out if c.isdigit() or c == " ").replace(
                " ", "") or e164 is None


# --- imported code lists ------------------------------------------------------------------------

code_lines = st.lists(st.text(max_size=30) | st.text(alphabet="ABC123-_", max_size=12),
                      max_size=30)


@FUZZ
@given(code_lines, st.sampled_from(["txt", "csv"]), st.sampled_from(["\n", "\r\n", ",", ";"]))
def test_import_parser_reports_or_refuses(lines: list[str], fmt: str, sep: str) -> None:
    from hub.importing import MAX_CODE_LEN, ImportFormatError, parse_codes

    data = sep.join(lines).encode("utf-8", "surrogatepass")
    try:
        codes, report = parse_codes(data, fmt=fmt)
    except ImportFormatError:
        return
    texts = [c for _, c in codes]
    assert len(texts) == len(set(texts))
    assert all(0 < len(c) <= MAX_CODE_LEN and c.isprintable() for c in texts)
    assert report.lines >= len(codes)


@FUZZ
@given(st.binary(max_size=300))
def test_import_parser_on_broken_workbooks(noise: bytes) -> None:
    from hub.importing import ImportFormatError, parse_codes

    try:
        parse_codes(b"PK\x03\x04" + noise, filename="codes.xlsx")
    except ImportFormatError:
        pass


def test_import_parser_on_a_real_workbook_with_odd_cells() -> None:
    openpyxl = pytest.importorskip("openpyxl")
    from hub.importing import parse_codes

    wb = openpyxl.Workbook()
    for v in ["code", 12345.0, "  A-1 ", None, 3.5, "A-1", "x" * 300, "V1" + "A" * 133, True]:
        wb.active.append([v])
    buf = io.BytesIO()
    wb.save(buf)
    codes, report = parse_codes(buf.getvalue())
    assert [c for _, c in codes][:2] == ["12345", "A-1"]
    assert report.header and report.duplicates and report.rejected


# --- replica answers from the hub ---------------------------------------------------------------

replica_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=10)
    | st.floats(allow_nan=True, allow_infinity=True),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=8,
)
REPLICA_KEYS = ["cursor", "full", "hub_time", "hash_salt", "keys", "series", "codes",
                "imported", "shared", "used"]


@FUZZ
@given(st.sampled_from(REPLICA_KEYS), st.sampled_from(["replace", "item", "drop"]),
       replica_json)
def test_replica_answer_applies_or_is_refused_whole(tmp_path_factory: Any, key: str, how: str,
                                                   value: Any) -> None:
    from gate.replica import ReplicaStore

    store = ReplicaStore(tmp_path_factory.mktemp("replica") / "r.db")
    try:
        good = Issuer().replica()
        store.apply(good)
        body = json.loads(json.dumps(good))
        if how == "drop":
            body.pop(key, None)
        elif how == "item" and isinstance(body.get(key), list):
            body[key] = [*body[key], value]
        else:
            body[key] = value
        try:
            store.apply(body)
        except PayloadError:
            assert store.series(7) is not None  # refused whole: the old replica still holds
    finally:
        store.close()


@pytest.mark.parametrize("mutate", [
    lambda b: b["keys"][0].update(key_id=float("inf")),
    lambda b: b["keys"][0].update(key_id=float("nan")),
    lambda b: b["series"][0].update(id=1e300),
    lambda b: b["used"].append({"ref": "7:1", "entries": float("inf")}),
    lambda b: b.update(hub_time="2026-13-45T99:99:99Z"),
], ids=["key_id_inf", "key_id_nan", "series_id_1e300", "entries_inf", "hub_time_bad"])
def test_replica_numbers_json_can_carry(tmp_path: Path, mutate: Any) -> None:
    """Python's json reads ``Infinity``, ``NaN`` and ``1e999``; a hub or a proxy may send them."""
    from gate.replica import ReplicaStore

    store = ReplicaStore(tmp_path / "r.db")
    try:
        body = Issuer().replica()
        store.apply(body)
        mutate(body)
        try:
            store.apply(body)
        except PayloadError:
            assert store.series(7) is not None
    finally:
        store.close()


@pytest.mark.parametrize("body", [[], "replica", 3, None])
def test_replica_answer_that_is_not_an_object(tmp_path: Path, body: Any) -> None:
    from gate.replica import ReplicaStore

    store = ReplicaStore(tmp_path / "r.db")
    try:
        with pytest.raises(PayloadError):
            store.apply(body)
    finally:
        store.close()
