"""Wall-clock steps (an NTP step, an operator's `date -s`): noticed, and the scheduler moved with them.

APScheduler 3 keeps its jobs' next run times in wall-clock time and sleeps until the earliest: after a
step back of an hour every interval job (stats, alert evaluation, SMART, filesystems, reconcile,
scrubs) would wait the hour. The daemon's main loop looks at the clocks every second; when the wall
clock went back further than one that cannot be stepped, every job's next run moves back by the step,
so each keeps its interval in real time.

A step forward needs no help: APScheduler finds every job overdue and runs each once (coalesced), then
keeps its interval from there. Moving the jobs forward instead could race with that run and push a job
a whole step late.
"""

from __future__ import annotations

import time
from datetime import timedelta

STEP_THRESHOLD = 1.0  # seconds; NTP slews smaller differences (at most 0.5 ms per second)


def steady() -> float:
    """A clock no one can step. CLOCK_BOOTTIME counts a suspended machine's sleep too (monotonic does
    not), so waking from a suspend is not taken for a step."""
    if hasattr(time, "CLOCK_BOOTTIME"):
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    return time.monotonic()


class ClockWatch:
    """Between two looks: how much further (or less far) the wall clock went than the steady one."""

    def __init__(self, threshold: float = STEP_THRESHOLD, wall=time.time, steady_clock=steady):
        self.threshold = threshold
        self._clocks = wall, steady_clock
        self._wall, self._steady = wall(), steady_clock()

    def step(self) -> float:
        """The step since the last look, in seconds (negative: back); 0.0 when there was none."""
        wall, now = self._clocks[0](), self._clocks[1]()
        step = (wall - self._wall) - (now - self._steady)
        self._wall, self._steady = wall, now
        return step if abs(step) >= self.threshold else 0.0


def shift_jobs(scheduler, step: float) -> int:
    """Move every scheduled job's next run by ``step`` seconds (a step back: negative) and wake the
    scheduler; returns how many moved."""
    moved = 0
    for job in scheduler.get_jobs():
        if job.next_run_time is not None:
            job.modify(next_run_time=job.next_run_time + timedelta(seconds=step))
            moved += 1
    scheduler.wakeup()
    return moved
