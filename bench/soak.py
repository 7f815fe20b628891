"""Soak: run the demo's load for a while and report memory growth per daemon (not in CI).

Starts ``venue demo --headless`` in a temporary data directory (or ``--data-dir``) at a given
visitor pace, finds its daemons (broker, hub, gates, beacon) among the demo's child processes, and
samples each one's resident memory (``VmRSS`` in ``/proc``) every ``--sample-s`` seconds. At the
end it prints, per daemon, the first sample after the warm-up, the last one, the peak, and the
growth in MiB per hour, so a leak shows as a steady slope while a cache that fills and stops does
not. The demo is stopped with SIGINT (its clean shutdown) when the time is up or on Ctrl-C.

    .venv/bin/python bench/soak.py --minutes 60 [--visitors-per-minute 120] [--sample-s 30]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def children(pid: int) -> dict[int, str]:
    """Direct children of ``pid`` with a short name from their command line."""
    out: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != pid:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        words = [a.decode(errors="replace") for a in argv if a]
        out[int(entry.name)] = name_of(words)
    return out


def name_of(argv: list[str]) -> str:
    if argv and argv[0].endswith("mosquitto"):
        return "mosquitto"
    if "--config" in argv:
        return Path(argv[argv.index("--config") + 1]).stem  # gate-1, beacon-1, kiosk-1
    for role in ("hub", "gate", "beacon", "kiosk"):
        if role in argv:
            return role
    return " ".join(argv)[:40]


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--visitors-per-minute", type=float, default=120.0)
    ap.add_argument("--sample-s", type=float, default=30.0)
    ap.add_argument("--warmup-s", type=float, default=60.0,
                    help="samples before this are not the baseline (imports, caches, JIT-free)")
    ap.add_argument("--data-dir", help="default: a fresh temporary directory")
    args = ap.parse_args(argv)
    data = Path(args.data_dir or tempfile.mkdtemp(prefix="venue-soak-")) / "var" / "demo"
    demo = subprocess.Popen(
        [sys.executable, "-m", "venue.cli", "demo", "--headless", "--data-dir", str(data),
         "--visitors-per-minute", str(args.visitors_per_minute)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert demo.stdout is not None
    print(demo.stdout.readline().rstrip(), flush=True)  # "venue demo is running ..."
    samples: dict[str, list[tuple[float, float]]] = {}
    start = time.monotonic()
    end = start + args.minutes * 60
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    try:
        while not stop and time.monotonic() < end and demo.poll() is None:
            t = time.monotonic() - start
            for pid, name in children(demo.pid).items():
                rss = rss_mib(pid)
                if rss is not None:
                    samples.setdefault(name, []).append((t, rss))
            line = "  ".join(f"{n} {s[-1][1]:.0f}" for n, s in sorted(samples.items()))
            print(f"{t / 60:6.1f} min  RSS MiB: {line}", flush=True)
            deadline = time.monotonic() + args.sample_s
            while not stop and time.monotonic() < deadline and demo.poll() is None:
                time.sleep(0.5)
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(60)
            except subprocess.TimeoutExpired:
                demo.kill()
    print(f"\nsoak: {(time.monotonic() - start) / 60:.1f} min at {args.visitors_per_minute:g} "
          f"visitors/min; data in {data}")
    print(f"{'daemon':12s} {'baseline':>9s} {'last':>9s} {'peak':>9s} {'growth':>9s} "
          f"{'MiB/hour':>9s}")
    for name, points in sorted(samples.items()):
        after = [p for p in points if p[0] >= args.warmup_s] or points
        (t0, base), (t1, last) = after[0], after[-1]
        peak = max(v for _, v in points)
        hours = max((t1 - t0) / 3600, 1e-9)
        slope = (last - base) / hours if t1 > t0 else 0.0
        print(f"{name:12s} {base:9.1f} {last:9.1f} {peak:9.1f} {last - base:+9.1f} "
              f"{slope:+9.1f}")
    return 0 if demo.returncode in (0, None) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
