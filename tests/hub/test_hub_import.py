"""Importing codes from TXT, CSV and XLSX: duplicates and blank lines reported, issue capped."""

from __future__ import annotations

import io
import uuid
from typing import Any

import openpyxl
import pytest
from hubkit import ADMIN_H

from hub.importing import parse_codes

N = 10_000


def csv_with_problems() -> tuple[bytes, list[int], list[int]]:
    """10,000 code lines of which 3 repeat earlier ones, plus 2 blank lines; header first."""
    lines = ["code"] + [f"EXT-{i:06d};Row {i}" for i in range(N - 3)]
    lines.insert(500, "EXT-000007;again")
    lines.insert(9000, "EXT-000100;again")
    lines.insert(9500, "EXT-000101;again")
    lines.insert(1234, "")
    lines.insert(7777, ";")
    dup_lines = sorted(i + 1 for i, line in enumerate(lines) if line.endswith("again"))
    blank_lines = sorted(i + 1 for i, line in enumerate(lines) if line in ("", ";"))
    return ("\n".join(lines) + "\n").encode(), dup_lines, blank_lines


def new_imported(client: Any, name: str = "Their event", **kw: Any) -> int:
    r = client.post("/api/v1/series", json={"name": name, "code_mode": "imported", **kw},
                    headers=ADMIN_H)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_csv_of_10000_reports_duplicates_and_blank_lines(client: Any) -> None:
    data, dup_lines, blank_lines = csv_with_problems()
    sid = new_imported(client)
    r = client.post(f"/api/v1/series/{sid}/import", files={"file": ("list.csv", data)},
                    headers=ADMIN_H)
    assert r.status_code == 201, r.text
    rep = r.json()
    assert rep["format"] == "csv" and rep["header"] is True
    assert rep["accepted"] == N - 3
    assert [d["line"] for d in rep["duplicates"]] == dup_lines
    assert rep["blank_lines"] == blank_lines
    assert rep["imported_count"] == N - 3
    # Issue all of them, then one more fails with a clear message.
    r = client.post(f"/api/v1/series/{sid}/codes", json={"count": N - 3}, headers=ADMIN_H)
    assert r.status_code == 201 and len(r.json()) == N - 3
    r = client.post(f"/api/v1/series/{sid}/codes", json={"count": 1}, headers=ADMIN_H)
    assert r.status_code == 409
    assert r.json()["detail"] == (
        f"series {sid} has 9997 imported codes (issue limit 2147483647) of which 9997 are "
        "issued: cannot issue 1 more, only 0; import more codes first"
    )
    # Importing the same list again: every code is reported as already imported.
    r = client.post(f"/api/v1/series/{sid}/import", files={"file": ("list.csv", data)},
                    headers=ADMIN_H)
    assert r.json()["accepted"] == 0 and len(r.json()["duplicates"]) == N


def test_txt_import_issue_and_redeem(client: Any) -> None:
    sid = new_imported(client, issue_limit=3)
    data = b"AB-1\n\nAB-2\nAB-1\nV1" + b"A" * 133 + b"\nAB-3\nAB-4\n"
    r = client.post(f"/api/v1/series/{sid}/import", files={"file": ("x.txt", data)},
                    headers=ADMIN_H)
    assert r.status_code == 409 and "may hold 3 codes" in r.json()["detail"]
    r = client.post(f"/api/v1/series/{sid}/import", files={"file": ("x.txt", data[:-5])},
                    headers=ADMIN_H)
    rep = r.json()
    assert (rep["accepted"], rep["blank_lines"], rep["duplicates"]) == (
        3, [2], [{"line": 4, "first_line": 1}])
    assert [x["line"] for x in rep["rejected"]] == [5]  # a broken generated code
    body = {"code": "AB-2", "gate": "g1", "nonce": str(uuid.uuid4())}
    r = client.post("/api/v1/redemptions", json=body, headers=ADMIN_H)
    assert r.json()["reason"] == "invalid"  # imported but not issued yet
    issued = client.post(f"/api/v1/series/{sid}/codes", json={"count": 2},
                         headers=ADMIN_H).json()
    assert [c["code"] for c in issued] == ["AB-1", "AB-2"]
    r = client.post("/api/v1/redemptions", json={**body, "nonce": "x2"}, headers=ADMIN_H)
    answer = r.json()
    assert answer["result"] == "admit" and answer["ticket"]["ref"].startswith("h:")
    assert answer["ticket"]["serial"] == 1
    r = client.post(f"/api/v1/series/{sid}/codes", json={"count": 2}, headers=ADMIN_H)
    assert r.status_code == 409 and "only 1" in r.json()["detail"]


def test_xlsx_import(client: Any) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for row in (["Code", "Name"], ["X-1", "a"], [None, None], [12345, "numeric"], ["X-1", "dup"],
                ["X-2", "b"]):
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    sid = new_imported(client)
    r = client.post(f"/api/v1/series/{sid}/import",
                    files={"file": ("list.xlsx", buf.getvalue())}, headers=ADMIN_H)
    rep = r.json()
    assert rep["format"] == "xlsx" and rep["header"] is True
    assert (rep["accepted"], rep["blank_lines"]) == (3, [3])
    assert rep["duplicates"] == [{"line": 5, "first_line": 2}]
    issued = client.post(f"/api/v1/series/{sid}/codes", json={"count": 3},
                         headers=ADMIN_H).json()
    assert [c["code"] for c in issued] == ["X-1", "12345", "X-2"]


def test_unreadable_files_are_422_naming_the_file(client: Any) -> None:
    sid = new_imported(client)
    for name, data in (("a.xlsx", b"PK\x03\x04garbage"), ("a.txt", b"\xff\xfe\x00bad")):
        r = client.post(f"/api/v1/series/{sid}/import", files={"file": (name, data)},
                        headers=ADMIN_H)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "file"]
    r = client.post(f"/api/v1/series/{sid}/import", headers=ADMIN_H)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "file"]
    r = client.post("/api/v1/series", json={"name": "gen"}, headers=ADMIN_H)
    r = client.post(f"/api/v1/series/{r.json()['id']}/import",
                    files={"file": ("a.txt", b"A\n")}, headers=ADMIN_H)
    assert r.status_code == 409 and "not imported" in r.json()["detail"]


@pytest.mark.parametrize("text", ["a\nb\n", "a\r\nb\r\n", "a\nb"])
def test_line_endings_do_not_make_blank_lines(text: str) -> None:
    items, rep = parse_codes(text.encode(), filename="x.txt")
    assert [c for _, c in items] == ["a", "b"] and rep.blank_lines == []
