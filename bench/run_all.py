"""Run every benchmark in bench/ and write bench/RESULTS.md (``make bench``).

Each ``bench_*.py`` runs in its own process with its default sizes and prints its figures; this
script parses those printed lines (the scripts' owners keep their output for people, so nothing
machine-readable is asked of them) and writes one table: each figure, the reference the script
measured in the same run, the ratio, the DESIGN.md target and whether it is met. The machine
(cores, CPU model, RAM, Python), the date, the load average before and after (other work on a
shared machine moves the absolute figures; the ratios move less) and every script's raw output
go in too, so a figure that could not be parsed is still on the page.

    .venv/bin/python bench/run_all.py [--only gate,beacon] [--out bench/RESULTS.md] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


@dataclass
class Row:
    """One line of the table."""

    area: str
    figure: str
    value: str
    reference: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""


@dataclass
class Run:
    name: str
    seconds: float
    status: int
    output: str


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def _find(pattern: str, text: str) -> re.Match[str] | None:
    return re.search(pattern, text, re.MULTILINE)


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "NOT met")


def parse_mqtt(out: str) -> list[Row]:
    rows = []
    bare = _find(r"bare paho QoS1 loop\s*:\s*([\d,]+)", out)
    link = _find(r"MqttLink \+ outbox \(NORMAL, default\)\s*:\s*([\d,]+)", out)
    full = _find(r"MqttLink \+ outbox \(FULL, \d+ ev\)\s*:\s*([\d,]+)", out)
    if bare and link:
        r = _num(link[1]) / _num(bare[1])
        rows.append(Row("MQTT link", "events/s through MqttLink + outbox (NORMAL)",
                        f"{_num(link[1]):,.0f}/s", f"bare paho QoS 1 loop {_num(bare[1]):,.0f}/s",
                        f"{r:.2f}", "≥ 0.5 x bare", verdict(r >= 0.5)))
    if bare and full:
        r = _num(full[1]) / _num(bare[1])
        rows.append(Row("MQTT link", "events/s, outbox synchronous=FULL (fsync per event)",
                        f"{_num(full[1]):,.0f}/s", f"bare paho {_num(bare[1]):,.0f}/s",
                        f"{r:.2f}", "(for comparison)", "—"))
    return rows


def parse_redeem(out: str) -> list[Row]:
    rows = []
    for db in ("sqlite", "postgresql"):
        bare = _find(rf"^\s*{db}\s+bare SQL reference\s+(\d+)/s", out)
        svc = _find(rf"^\s*{db}\s+service function\s+(\d+)/s\s+\(([^)]*)\)", out)
        web = _find(rf"^\s*{db}\s+HTTP API\s+(\d+)/s\s+\(([^)]*)\)", out)
        ceiling = _find(rf"^\s*{db}\s+HTTP ceiling.*?(\d+)/s", out)
        ref = f"pretix-like bare SQL {_num(bare[1]):,.0f}/s" if bare else ""
        if svc:
            v = _num(svc[1])
            rows.append(Row("Hub", f"redemptions/s, service function, {db} ({svc[2]})",
                            f"{v:,.0f}/s", ref,
                            f"{v / _num(bare[1]):.2f}" if bare else "", "≥ 1,000/s exactly once",
                            verdict(v >= 1000 and "OK" in svc[2])))
        if web:
            v = _num(web[1])
            ceil = f"; GET /health ceiling {_num(ceiling[1]):,.0f}/s" if ceiling else ""
            rows.append(Row("Hub", f"redemptions/s, HTTP API, {db} ({web[2]})",
                            f"{v:,.0f}/s", ref + ceil,
                            f"{v / _num(bare[1]):.2f}" if bare else "", "≥ 1,000/s exactly once",
                            verdict(v >= 1000 and "OK" in web[2])))
    bare = _find(r"bare paho subscriber drain\s+(\d+)/s", out)
    for db in ("sqlite", "postgresql"):
        ing = _find(rf"^\s*{db}\s+hub ingest\s+(\d+)/s\s+\(([^)]*)\)", out)
        if ing:
            v = _num(ing[1])
            rows.append(Row("Hub", f"MQTT ingest events/s, {db} ({ing[2]})", f"{v:,.0f}/s",
                            f"bare paho drain {_num(bare[1]):,.0f}/s" if bare else "",
                            f"{v / _num(bare[1]):.2f}" if bare else "",
                            "≥ 5,000/s, duplicates dropped", verdict(v >= 5000)))
    return rows


def parse_gate(out: str) -> list[Row]:
    rows = []
    zbar = _find(r"bare pyzbar decode\s+mean\s+([\d.]+) ms", out)
    zx = _find(r"bare zxing-cpp decode\s+mean\s+([\d.]+) ms", out)
    full = _find(r"gate decode\+decide\+record mean\s+([\d.]+) ms/frame\s+p50 ([\d.]+)\s+p99 "
                 r"([\d.]+)", out)
    design = _find(r"ratio full / bare zxing-cpp, frames zxing reads: mean ([\d.]+)x\s+p50 "
                   r"([\d.]+)x", out)
    read = _find(r"read:\s+zxing-cpp (\d+)/(\d+), pyzbar (\d+)/\d+", out)
    dec = _find(r"offline decision\s+p50 ([\d.]+) ms\s+p99 ([\d.]+) ms", out)
    if full:
        rows.append(Row("Gate", "decode + decide + record per 640x480 frame (mean / p99)",
                        f"{full[1]} / {full[3]} ms",
                        f"bare zxing-cpp {zx[1]} ms, bare pyzbar {zbar[1]} ms" if zx and zbar
                        else "", "", "≤ 33 ms (one camera frame)",
                        verdict(_num(full[3]) <= 33.0)))
    if design:
        worst = max(_num(design[1]), _num(design[2]))
        rows.append(Row("Gate", "decide + record on top of the fastest decoder (frames it reads)",
                        f"mean {design[1]}x, p50 {design[2]}x", "bare zxing-cpp, same frames",
                        f"{worst:.2f}", "< 1.2 x bare decode", verdict(worst < 1.2)))
    if read:
        rows.append(Row("Gate", "photos read (of those with a code)",
                        f"zxing-cpp {read[1]}/{read[2]}", f"pyzbar {read[3]}/{read[2]}", "",
                        "zxing-cpp first, pyzbar fallback", "—"))
    if dec:
        rows.append(Row("Gate", "offline decision alone (p50 / p99)", f"{dec[1]} / {dec[2]} ms",
                        "", "", "(inside the 33 ms above)", "—"))
    return rows


def parse_beacon(out: str) -> list[Row]:
    rows = []
    ours = _find(r"parse \(iBeacon frames\)\s+ours\s+([\d,]+)", out)
    theirs = _find(r"parse \(iBeacon frames\)\s+beacontools\s+([\d,]+)", out)
    app = _find(r"parse \+ track \(app only\)\s+([\d,]+)", out)
    mixed = _find(r"parse \+ track \(mixed\)\s+([\d,]+)", out)
    mem = _find(r"memory, ([\d,]+) phones tracked: ([\d.]+) MB.*peak ([\d.]+) MB", out)
    ref = f"beacontools parse alone {_num(theirs[1]):,.0f}/s" if theirs else ""
    if ours:
        rows.append(Row("Beacon", "iBeacon parse, adverts/s (one core)", f"{_num(ours[1]):,.0f}/s",
                        ref, f"{_num(ours[1]) / _num(theirs[1]):.0f}" if theirs else "", "", "—"))
    for label, m in (("app phones only", app), ("mixed stream", mixed)):
        if m:
            v = _num(m[1])
            rows.append(Row("Beacon", f"parse + track, adverts/s per core ({label})",
                            f"{v:,.0f}/s", ref,
                            f"{v / _num(theirs[1]):.0f}" if theirs else "",
                            "≥ 100,000/s per core", verdict(v >= 100_000)))
    if mem:
        rows.append(Row("Beacon", f"tracker memory with {mem[1]} phones", f"{mem[2]} MB",
                        f"peak {mem[3]} MB", "", "bounded with 10,000 phones",
                        verdict(_num(mem[2]) < 64)))
    return rows


def parse_kiosk(out: str) -> list[Row]:
    m = _find(r"p50\s+([\d.]+) ms\s+p95\s+([\d.]+) ms", out)
    ref = _find(r"reference, identify \+ visit without UI: p50\s+([\d.]+) ms", out)
    if not m:
        return []
    note = " (kiosk demo server: no loyalty API in the hub yet)" if "does not exist" in out else ""
    return [Row("Kiosk", f"last digit → home screen drawn (p50 / p95){note}",
                f"{m[1]} / {m[2]} ms",
                f"identify + visit without UI p50 {ref[1]} ms" if ref else "",
                f"{_num(m[1]) / _num(ref[1]):.0f}" if ref and _num(ref[1]) else "",
                "p95 < 300 ms", verdict(_num(m[2]) < 300))]


BENCHES: dict[str, tuple[str, list[str], list[str], Callable[[str], list[Row]]]] = {
    # name: (script, default args, --quick args, parser)
    "mqtt_link": ("bench_mqtt_link.py", [], ["--events", "3000", "--full-events", "500"],
                  parse_mqtt),
    "redeem": ("bench_redeem.py", [], ["--tickets", "300", "--events", "3000"], parse_redeem),
    "gate": ("bench_gate.py", [], ["--repeat", "2", "--decisions", "300"], parse_gate),
    "beacon": ("bench_beacon.py", [], ["--quick"], parse_beacon),
    "kiosk": ("bench_kiosk.py", [], ["--runs", "10"], parse_kiosk),
}


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    except OSError:
        pass
    return {"cores (nproc)": str(os.cpu_count()), "CPU": cpu, "RAM": ram,
            "Python": platform.python_version(), "OS": platform.platform()}


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def run_one(name: str, quick: bool) -> Run:
    script, args, quick_args, _ = BENCHES[name]
    path = BENCH / script
    if not path.exists():
        return Run(name, 0.0, -1, f"{script} is not in bench/ (yet)")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(path), *(quick_args if quick else args)],
                          cwd=REPO, capture_output=True, text=True, timeout=3600)
    out = proc.stdout + (f"\n[stderr]\n{proc.stderr[-3000:]}" if proc.returncode else "")
    return Run(name, time.monotonic() - t0, proc.returncode, out)


def render(rows: list[Row], runs: list[Run], before: str, after: str, quick: bool) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`bench/run_all.py{' --quick' if quick else ''}`) on {now}.",
        "Each figure is compared with a reference measured in the same run by the same script;",
        "the targets are DESIGN.md's budgets. The machine is shared with other engineers' test",
        "runs: absolute rates move with the load average below, ratios much less.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in machine().items()]
    lines += [f"| load average (1/5/15 min) before | {before} |",
              f"| load average after | {after} |", ""]
    lines += ["## Figures", "",
              "| area | figure | value | reference (same run) | ratio | target | met |",
              "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.area} | {r.figure} | {r.value} | {r.reference} | {r.ratio} | "
                     f"{r.target} | {r.met} |")
    lines += ["", "## Runs", "", "| script | seconds | exit status |", "|---|---|---|"]
    for run in runs:
        lines.append(f"| {BENCHES[run.name][0]} | {run.seconds:.0f} | "
                     f"{'missing' if run.status == -1 else run.status} |")
    lines += ["", "## Raw output", ""]
    for run in runs:
        lines += [f"### {BENCHES[run.name][0]}", "", "```text", run.output.rstrip(), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated subset of: " + ", ".join(BENCHES))
    ap.add_argument("--out", default=str(BENCH / "RESULTS.md"))
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not figures)")
    args = ap.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHES)
    unknown = set(names) - set(BENCHES)
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    before = load()
    runs, rows = [], []
    for name in names:
        print(f"running {BENCHES[name][0]} ...", flush=True)
        run = run_one(name, args.quick)
        runs.append(run)
        rows += BENCHES[name][3](run.output)
        print(f"  done in {run.seconds:.0f} s (exit {run.status})", flush=True)
    text = render(rows, runs, before, load(), args.quick)
    Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    for r in rows:
        print(f"  {r.area:7s} {r.figure[:60]:60s} {r.value:>18s}  {r.met}")
    return 0 if all(run.status in (0, -1) for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
