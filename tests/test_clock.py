"""Wall-clock steps, piece by piece (the daemon under libfaketime: tests/reliability/test_clock_steps.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.background import BackgroundScheduler

from jaga.clock import ClockWatch, shift_jobs
from journal.records import FIRING, AlertRecord
from monitor.alerts import AlertManager, Condition
from replication.retry import RetryPolicy


class Clocks:
    def __init__(self):
        self.wall, self.steady = 1_800_000_000.0, 100.0

    def tick(self, seconds: float, step: float = 0.0) -> None:
        self.wall += seconds + step
        self.steady += seconds


def test_a_step_is_the_wall_clock_moving_unlike_the_steady_one():
    clocks = Clocks()
    watch = ClockWatch(wall=lambda: clocks.wall, steady_clock=lambda: clocks.steady)
    clocks.tick(1.0)
    assert watch.step() == 0.0
    clocks.tick(1.0, step=-3600)
    assert watch.step() == -3600
    clocks.tick(1.0)
    assert watch.step() == 0.0, "the step is reported once"
    clocks.tick(1.0, step=0.2)       # what NTP slews is no step
    assert watch.step() == 0.0
    clocks.tick(1.0, step=90)
    assert watch.step() == 90


def test_jobs_move_back_with_the_clock_and_keep_their_interval():
    scheduler = BackgroundScheduler(timezone="UTC")
    start = datetime.now(timezone.utc) + timedelta(seconds=30)
    scheduler.add_job(print, "interval", seconds=30, id="stats", next_run_time=start)
    scheduler.add_job(print, "interval", days=7, id="scrub", next_run_time=start + timedelta(days=3))
    scheduler.start(paused=True)
    try:
        assert shift_jobs(scheduler, -3600) == 2
        jobs = {job.id: job.next_run_time for job in scheduler.get_jobs()}
        assert jobs["stats"] == start - timedelta(hours=1)
        assert jobs["scrub"] == start + timedelta(days=3) - timedelta(hours=1)
    finally:
        scheduler.shutdown(wait=False)


def test_a_retry_due_beyond_the_backoff_maximum_is_due_now():
    policy = RetryPolicy(initial=1.0, maximum=300.0)
    assert policy.wait(1000.0 + 120, now=1000.0) == 120
    assert policy.wait(1000.0 - 5, now=1000.0) == 0
    assert policy.wait(1000.0 + 3600 + 120, now=1000.0) == 0, "set before a step back of an hour: due now"


class Alerts:
    """The journal's alert log, in memory: the reminder rule is under test, not the storage."""

    def __init__(self):
        self.records: dict[str, AlertRecord] = {}
        self.updates = []

    def firing_alerts(self, scope: str = "") -> dict[str, AlertRecord]:
        return {k: r for k, r in self.records.items() if k.startswith(scope)}

    def open_alert(self, record: AlertRecord) -> None:
        self.records[record.key] = record

    def update_alert(self, key: str, **changes) -> None:
        self.updates.append(changes)


class Sent:
    def submit(self, note) -> None:
        pass


def test_a_reminder_stamped_ahead_of_a_clock_stepped_back_is_not_held_for_the_step():
    now = [1_800_000_000.0]
    manager = AlertManager(Alerts(), Sent(), repeat_interval=4 * 3600, clock=lambda: now[0])
    down = Condition("target:t:TargetDown", "TargetDown", "critical", "target t", "down")
    assert [n.status for n in manager.evaluate("target:", [down])] == [FIRING]
    now[0] += 60
    assert manager.evaluate("target:", [down]) == [], "no reminder within the repeat interval"
    now[0] -= 3600  # the clock stepped back: the alert's last reminder is an hour ahead of now
    assert [n.status for n in manager.evaluate("target:", [down])] == [FIRING]
