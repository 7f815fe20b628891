"""The durable outbox: order, ack, durability across reopen and process death, bounds, stats."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from venue.outbox import Outbox, OutboxFull


def test_fifo_order_and_ack(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as ob:
        seqs = [ob.put(f"t/{i}", f"p{i}".encode()) for i in range(5)]
        assert seqs == sorted(seqs) and len(set(seqs)) == 5
        assert [i.payload for i in ob.peek()] == [b"p0", b"p1", b"p2", b"p3", b"p4"]
        assert [i.topic for i in ob.peek(2)] == ["t/0", "t/1"]
        ob.ack(seqs[1])
        ob.ack(seqs[1])  # twice is harmless
        assert [i.payload for i in ob.peek()] == [b"p0", b"p2", b"p3", b"p4"]
        assert [i.payload for i in ob.peek_after(seqs[2])] == [b"p3", b"p4"]
        ob.ack_many(seqs[:1] + seqs[2:])
        assert ob.depth() == 0 and ob.peek() == []


def test_item_fields_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with Outbox(path) as ob:
        ob.put("a", b"\x00\xffbin", qos=0, retain=True, kind="telemetry")
        ob.put("b", b"ev")
    with Outbox(path) as ob:
        first, second = ob.peek()
        assert (first.topic, first.payload, first.qos, first.retain, first.kind) == (
            "a",
            b"\x00\xffbin",
            0,
            True,
            "telemetry",
        )
        assert (second.topic, second.qos, second.retain, second.kind) == ("b", 1, False, "event")
        assert ob.stats()["telemetry"] == 1 and ob.depth() == 2
        # seqs keep increasing after a reopen, even once the queue was emptied
        ob.ack_many([first.seq, second.seq])
        assert ob.put("c", b"c") > second.seq


@pytest.mark.parametrize("sync", ["NORMAL", "FULL"])
def test_put_survives_kill_9(tmp_path: Path, sync: str) -> None:
    """A put that returned is on disk even if the process is killed right after."""
    path = tmp_path / "o.db"
    script = (
        "import os, sys\n"
        "from venue.outbox import Outbox\n"
        f"ob = Outbox({str(path)!r}, synchronous={sync!r})\n"
        "for i in range(50):\n"
        "    ob.put('t', str(i).encode())\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert proc.returncode == -9, proc.stderr.decode()
    with Outbox(path) as ob:
        assert [int(i.payload) for i in ob.peek(100)] == list(range(50))


def test_second_process_cannot_share_the_file(tmp_path: Path) -> None:
    """Two daemons on one outbox would send everything twice: the second must fail loudly."""
    path = tmp_path / "o.db"
    with Outbox(path) as ob:
        ob.put("t", b"x")
        script = f"from venue.outbox import Outbox\nOutbox({str(path)!r}).put('t', b'y')\n"
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
        assert proc.returncode != 0
        assert b"locked" in proc.stderr
        assert ob.depth() == 1


def test_full_sheds_oldest_telemetry_first(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db", max_items=4) as ob:
        ob.put("e", b"e1")
        ob.put("t", b"t1", kind="telemetry", qos=0)
        ob.put("e", b"e2")
        ob.put("t", b"t2", kind="telemetry", qos=0)
        ob.put("e", b"e3")  # full: t1 goes
        assert [i.payload for i in ob.peek()] == [b"e1", b"e2", b"t2", b"e3"]
        ob.put("e", b"e4")  # full: t2 goes
        assert [i.payload for i in ob.peek()] == [b"e1", b"e2", b"e3", b"e4"]
        s = ob.stats()
        assert (s["shed_telemetry"], s["shed_events"], s["depth"], s["telemetry"]) == (2, 0, 4, 0)
        # telemetry never pushes an event out: it is refused and counted
        assert ob.put("t", b"t3", kind="telemetry", qos=0) == 0
        assert ob.stats()["shed_telemetry"] == 3
        assert [i.payload for i in ob.peek()] == [b"e1", b"e2", b"e3", b"e4"]


def test_full_of_events_sheds_oldest_event_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "o.db"
    with Outbox(path, max_items=3) as ob:
        for i in range(5):
            ob.put("e", f"e{i}".encode())
        assert [i.payload for i in ob.peek()] == [b"e2", b"e3", b"e4"]
        assert ob.stats()["shed_events"] == 2
    assert "shed 1 oldest event" in caplog.text
    with Outbox(path, max_items=3) as ob:  # counters are durable too
        assert ob.stats()["shed_events"] == 2
        ob.reset_counters()
        assert ob.stats()["shed_events"] == 0


def test_refuse_policy_raises_and_keeps_what_it_has(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db", max_items=2, when_full="refuse") as ob:
        ob.put("e", b"1")
        ob.put("e", b"2")
        with pytest.raises(OutboxFull):
            ob.put("e", b"3")
        assert [i.payload for i in ob.peek()] == [b"1", b"2"]
        assert ob.depth() == 2


def test_put_many_is_one_burst_in_order(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db", max_items=3) as ob:
        seqs = ob.put_many([("e", str(i).encode(), 1, False, "event") for i in range(4)])
        assert len(seqs) == 4 and seqs == sorted(seqs)
        assert [i.payload for i in ob.peek()] == [b"1", b"2", b"3"]


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as ob:
        with pytest.raises(ValueError):
            ob.put("t", b"x", kind="other")
        with pytest.raises(ValueError):
            ob.put("t", b"x", qos=3)
        with pytest.raises(TypeError):
            ob.put("t", "text")  # type: ignore[arg-type]
        assert ob.depth() == 0
    with pytest.raises(RuntimeError):
        ob.peek()
    with pytest.raises(ValueError):
        Outbox(tmp_path / "p.db", max_items=0)


def test_memory_outbox_has_the_same_behaviour() -> None:
    with Outbox(":memory:", max_items=2) as ob:
        ob.put("e", b"1")
        ob.put("t", b"t", kind="telemetry")
        ob.put("e", b"2")
        assert [i.payload for i in ob.peek()] == [b"1", b"2"]
        assert ob.stats()["shed_telemetry"] == 1


def test_flush_syncs_only_what_was_written(tmp_path: Path) -> None:
    with Outbox(tmp_path / "n.db") as ob:
        assert not ob.flush()  # nothing written yet
        ob.put("t", b"x")
        assert not ob.flush(if_older_than=3600)  # flushed recently (at open)
        assert ob.flush()
        assert not ob.flush()  # nothing new
    with Outbox(tmp_path / "f.db", synchronous="FULL") as ob:
        ob.put("t", b"x")
        assert not ob.flush()  # FULL already synced inside put
        ob.ack_many([i.seq for i in ob.peek()])  # acks run at NORMAL, then FULL again
        assert ob._db.execute("PRAGMA synchronous").fetchone()[0] == 2
