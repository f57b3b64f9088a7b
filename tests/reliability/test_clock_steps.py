"""Wall-clock steps (an NTP step): the daemon runs under libfaketime with only CLOCK_REALTIME faked, and
the test moves that clock an hour back. Retries, scheduled jobs and settle windows must not wait the hour.
"""

from __future__ import annotations

import glob
import os
import time
import urllib.request
from email.utils import parsedate_to_datetime
from pathlib import Path

from tests.harness import write_file
from tests.invariants import assert_all_replicated, assert_nothing_left_copying
from tests.reliability.rig import require, root_reason, run, wait_for


def faketime_library() -> str | None:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
    return found[0] if found else None


class Clock:
    """The daemon's wall clock, as an offset in a file libfaketime re-reads every second."""

    def __init__(self, folder: Path, offset: str = "+0"):
        self.file = folder / "faketime.rc"
        self.set(offset)

    def set(self, offset: str) -> None:
        self.file.write_text(offset + "\n")

    def env(self) -> dict[str, str]:
        return {"LD_PRELOAD": faketime_library(), "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                "FAKETIME_TIMESTAMP_FILE": str(self.file), "FAKETIME_CACHE_DURATION": "1"}


def daemon_clock_behind(d) -> float:
    """How far the daemon's wall clock is behind ours: from the Date header of its answers."""
    with urllib.request.urlopen(f"http://127.0.0.1:{d.port}/healthz", timeout=5) as response:
        return time.time() - parsedate_to_datetime(response.headers["Date"]).timestamp()


def require_faketime() -> None:
    require(None if faketime_library() else "libfaketime not installed (.ci/run installs faketime libfaketime)")


def batch(d, prefix: str, count: int) -> list[bytes]:
    rels = []
    for i in range(count):
        rel = f"{prefix}/{prefix}-{i:02d}.pdf"
        write_file(d.uploads / rel, os.urandom(4000))
        rels.append(rel.encode())
    return rels


class BindMount:
    """A folder bind-mounted as the target root: remounted read-only, unmounted (the disk falls off,
    the marker goes with it) and mounted again. Always undone, even when the test fails (os.path.ismount
    cannot see a bind mount within one filesystem, so the rig's own clean-up would miss it)."""

    def __init__(self, source: Path, point: Path):
        self.source, self.point = source, point
        source.mkdir(exist_ok=True)
        point.mkdir(exist_ok=True)

    def mount(self) -> None:
        run("mount", "--bind", self.source, self.point)

    def read_only(self) -> None:
        run("mount", "-o", "remount,bind,ro", self.point)

    def unmount(self) -> None:
        run("umount", "-l", self.point)

    def mounted(self) -> bool:
        with open("/proc/self/mounts") as mounts:
            return any(line.split()[1] == str(self.point) for line in mounts)

    def __enter__(self) -> "BindMount":
        self.mount()
        return self

    def __exit__(self, *_exc) -> None:
        while self.mounted():
            self.unmount()


def test_files_found_by_a_scan_settle_although_the_clock_is_an_hour_behind_them(rig):
    """Files written before a step back look an hour newer than the clock: only a monotonic settle
    window lets the start-up scan record them (no close event is ever seen for them)."""
    require_faketime()
    d = rig.deployment(settle="1s")
    rels = batch(d, "before-step", 20)
    clock = Clock(d.base, "-1h")
    d.start(env=clock.env())
    wait_for(lambda: d.all_verified(rels), timeout=30, interval=0.2,
             message="files from before the step recorded and verified")
    assert d.stop() == 0
    assert_nothing_left_copying(d)
    assert_all_replicated(d)


def test_a_step_back_while_copies_fail_delays_no_retry_no_alert_and_no_drain(rig):
    require(root_reason())
    require_faketime()
    # retries of 1-4 s: at the step every failed copy is waiting out its backoff, none is in flight
    d = rig.deployment(settle="300ms", retry={"initial": "2s", "maximum": "4s"})
    d.set("alerts", evaluate_every="1s")
    with BindMount(d.base / "secondary-disk", d.replica) as disk:
        step_back_while_failing(rig, d, disk)


def step_back_while_failing(rig, d, disk: BindMount) -> None:
    clock = Clock(d.base)
    d.start(env=clock.env())
    first = batch(d, "first", 5)
    wait_for(lambda: d.all_verified(first), message="replicating before the fault")

    disk.read_only()   # copies now fail with EROFS, over and over
    failing = batch(d, "failing", 10)
    wait_for(lambda: d.journal_rows("SELECT count(*) FROM replicas WHERE state = 'failed'")[0][0] == 10,
             timeout=30, message="every new copy failed once on the read-only target")

    clock.set("-1h")
    wait_for(lambda: daemon_clock_behind(d) > 3000, timeout=15, message="the daemon's clock stepped back")
    errors = d.counter("jaga_replication_errors_total", target="secondary")
    wait_for(lambda: d.counter("jaga_replication_errors_total", target="secondary") >= errors + 20, timeout=25,
             message="failed copies retried at their backoff (at most 4s) after the step, not an hour later")

    late = batch(d, "late", 5)
    wait_for(lambda: d.pending_metric() == 15, timeout=20,
             message="the backlog gauge refreshed after the step (stats job still scheduled)")

    disk.unmount()   # the disk falls off: the marker is gone, the target is down
    wait_for(lambda: d.counter("jaga_alerts_firing", alertname="TargetDown", severity="critical") == 1,
             timeout=30, message="TargetDown raised after the step (alert evaluation still scheduled)")

    disk.mount()     # healed: writable again, marker back
    wait_for(lambda: d.all_verified(first + failing + late), timeout=20, interval=0.2,
             message="everything drained within seconds of the heal")
    wait_for(lambda: d.counter("jaga_alerts_firing", alertname="TargetDown", severity="critical") == 0,
             timeout=20, message="TargetDown resolved once the target is back")
    assert "wall clock stepped back by 3600" in d.log_text()
    assert d.stop() == 0
    assert_nothing_left_copying(d)
    assert_all_replicated(d, {"secondary": disk.source})
