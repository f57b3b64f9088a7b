"""Wiring: journal, targets and their replicators, ingest, scheduler, HTTP endpoints, signals."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry

from ingest.events import Hint
from ingest.pipeline import UNWATCHED_RESCAN, Ingest, WatchRoot
from ingest.rules import IgnoreRules
from jaga.clock import ClockWatch, shift_jobs
from jaga.config import Config, ConfigError, load_config
from jaga.livestatus import DaemonStatus
from jaga.preflight import refuse_unusable
from jaga.metrics import Metrics
from jaga.signals import SignalInbox
from jaga.systemd import Notifier
from jaga.web import WebServer
from jaga.web.health import STALL_LIMIT
from jaga.web.webconfig import WebSecurity, web_security
from jaga.writer import HEARTBEAT, incarnation, open_journal
from journal import JournalBusy, JournalError
from journal.records import ScrubRecord
from monitor.service import Monitor
from replication.factory import build_target
from replication.rebuild import adopt
from replication.retry import RetryPolicy
from replication.scrub import Scrubber, ScrubMetrics
from replication.target import TargetDown, TargetError
from replication.worker import TargetReplicator

log = logging.getLogger("jaga.daemon")
STATS_INTERVAL = 2.0


class StartupError(Exception):
    """The daemon cannot start (its port is taken, ...): one line says why; what it claimed is given back."""


class Daemon:
    def __init__(self, config: Config, registry: CollectorRegistry | None = None,
                 notifier: Notifier | None = None, command: str = "run"):
        self.config = config
        self.registry = registry or CollectorRegistry()
        self.metrics = Metrics(self.registry, node=config.node_name)
        self.notifier = notifier or Notifier()
        self.journal = open_journal(config)
        self.me = incarnation(config, command)
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.clock = ClockWatch()
        self.started_at = time.time()
        self.stop_requested = threading.Event()
        self._inbox: SignalInbox | None = None  # run_forever's; _give_up wakes it
        self.fatal: str | None = None  # why the daemon stopped itself, for the exit status
        self._prepared = False
        self._lock_state = "held"
        self.web = None
        self.monitor = None
        self.scrub_metrics = ScrubMetrics(self.registry)
        self.status = DaemonStatus(self)
        self._build()

    def _build(self) -> None:
        """The parts a reload replaces: which folders are watched and which targets are filled."""
        config = self.config
        self.roots = {w.label: os.fsencode(w.path) for w in config.watch}
        retry = RetryPolicy(config.retry.initial, config.retry.maximum)
        self.replicators = {
            t.name: TargetReplicator(build_target(t, config.node_name), self.journal, self.roots, self.metrics,
                                     t.workers, retry, on_changed=self._changed, me=self.me)
            for t in config.targets}
        self.ingest = Ingest([WatchRoot(w.label, os.fsencode(w.path), IgnoreRules(tuple(w.ignore)))
                              for w in config.watch],
                             self.journal, list(self.replicators), config.ingest.settle, self.metrics,
                             on_recorded=self._wake_replicators, open_file_limit=config.ingest.open_file_limit,
                             watch_check=config.ingest.watch_check)
        self.backlog: dict[str, tuple[int, float]] = {name: (0, 0.0) for name in self.replicators}

    # -- start / stop ---------------------------------------------------------------------------

    def prepare(self) -> None:
        """Take this node's writer lock (JournalBusy: another process has it, nothing was touched),
        migrate the journal, register this boot, take in the targets' history if the journal was lost,
        and undo what this node's earlier runs left half-done. Shared by run and sync."""
        self.journal.lock_writer(self.me)
        self._prepared = True
        self.journal.migrate()
        self.journal.register_node(self.me)
        self._rebuild_if_lost()
        reset = self.journal.reset_copying(self.me.node, self.me.boot_id)
        if reset:
            log.info("%d copy(ies) were in flight when jaga last stopped; they start again", reset)
        self.metrics.declare(list(self.roots), list(self.replicators))
        self.metrics.up_since.set(self.started_at)
        self._backfill()

    def _rebuild_if_lost(self) -> None:
        """A journal that knows no file while a target holds a manifest was lost (it lived on the primary
        disk): every reachable target's history comes back before anything is observed, so numbering
        continues and no version is overwritten. A target unreachable now brings it when first met."""
        if self.journal.has_files():
            return
        for name, replicator in self.replicators.items():
            target = replicator.target
            try:
                found = target.read_marker()
                if found is None or found.target != name:
                    continue
                adopt(target, self.journal, found, set(self.roots))
            except (TargetDown, TargetError) as exc:
                log.warning("target %s: its history is not taken in now: %s", name, exc)

    def _backfill(self) -> None:
        for name in self.replicators:
            added = self.journal.backfill(name)
            if added:
                log.info("target %s: %d file(s) it does not hold yet are queued for it", name, added)

    def start(self) -> None:
        security = web_security(self.config)  # a broken web config stops the start before anything runs
        self.prepare()
        self._start_parts("startup")
        self.scheduler.add_job(self.refresh_stats, "interval", seconds=STATS_INTERVAL, id="stats",
                               max_instances=1, coalesce=True, next_run_time=datetime.now(timezone.utc))
        self._start_monitor()
        self.scheduler.start()
        log.info("jaga started: watching %s; targets %s", ", ".join(self.roots), ", ".join(self.replicators))
        self._start_web(security)  # last: a health endpoint that answers means everything above has started

    def _start_parts(self, reason: str) -> None:
        for replicator in self.replicators.values():
            replicator.start()
        self.ingest.start()
        self.ingest.reconcile_in_background(reason)
        self.scheduler.add_job(self.ingest.reconcile_in_background, "interval",
                               seconds=self.config.ingest.reconcile_interval, args=["periodic"],
                               id="reconcile", max_instances=1, coalesce=True, replace_existing=True)
        self.scheduler.add_job(self.ingest.rescan_unwatched, "interval", seconds=UNWATCHED_RESCAN,
                               id="unwatched", max_instances=1, coalesce=True, replace_existing=True)
        self._schedule_scrubs()

    def _schedule_scrubs(self) -> None:
        for job in self.scheduler.get_jobs():
            if job.id.startswith("scrub-"):
                job.remove()
        scrub = self.config.scrub
        if not scrub.enabled:
            return
        self.scrubber = Scrubber(self.journal, self.scrub_metrics, scrub.interval, scrub.rate, self._scrubbed)
        # separate connections: a scrub must not hold up the copies of the same target
        self.scrubber.schedule(self.scheduler, {t.name: build_target(t, self.config.node_name)
                                                for t in self.config.targets})

    def _scrubbed(self, target: str, run: ScrubRecord) -> None:
        if self.monitor is not None:
            self.monitor.scrub_finished(target, run)

    def _stop_parts(self) -> None:
        self.ingest.stop()
        for replicator in self.replicators.values():
            replicator.stop()

    def _start_monitor(self) -> None:
        self.monitor = Monitor(self.config, self.journal, self.registry, self.replication_status)
        self.monitor.start(self.scheduler)

    def _start_web(self, security: WebSecurity) -> None:
        try:
            self.web = WebServer(self.config.metrics.address, self.status, security, self.metrics.web)
        except OSError as exc:
            raise StartupError(f"cannot listen on {self.config.metrics.listen} (metrics.listen): "
                               f"{exc.strerror or exc}") from None
        log.info("metrics and status on %s://%s:%d/ (%s; at most %d connections at once)",
                 "https" if security.tls else "http", *self.web.address, security.describe(),
                 self.web.listener.limit)
        if self.web.warning:  # said before the first answer, so whoever sees /healthz can read it
            log.warning("%s", self.web.warning)
        self.web.start()

    def stop(self) -> None:
        """Stop whatever started (also after a start-up that failed half-way): copies in flight finish
        or are given back, the node's row says it stopped, the writer lock goes."""
        if not self._prepared:  # refused or failed before anything was taken
            self.journal.close()
            return
        log.info("stopping")
        self.notifier.stopping()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.monitor is not None:
            self.monitor.stop()
        self._stop_parts()
        if self.web is not None:
            self.web.stop()
        self.journal.close()
        log.info("stopped")

    def run_forever(self) -> None:
        """Start, serve until SIGTERM/SIGINT, stop. A start that fails half-way is stopped too, so no
        claim it took stays behind (StartupError, JournalBusy and JournalError reach the caller)."""
        with SignalInbox() as inbox:
            self._inbox = inbox
            try:
                self.start()
                self.notifier.ready(f"watching {len(self.roots)} folder(s), {len(self.replicators)} target(s)")
                self._serve(inbox)
            finally:
                self.stop()

    def _serve(self, inbox: SignalInbox) -> None:
        """The main loop, on the monotonic clock: signals, reloads, clock steps, heartbeats, systemd's
        watchdog. Signals are acted on here, outside any handler (see jaga.signals)."""
        last_watchdog = last_beat = time.monotonic()
        while not self.stop_requested.is_set():
            arrived = inbox.wait(1.0)
            if arrived & {signal.SIGTERM, signal.SIGINT}:
                break
            if signal.SIGHUP in arrived:
                self.reload()
            self._watch_clock()
            if time.monotonic() - last_beat >= HEARTBEAT:
                self._beat()
                last_beat = time.monotonic()
            interval = self.notifier.watchdog_interval
            if interval and time.monotonic() - last_watchdog >= interval and self.healthy():
                self.notifier.watchdog()
                last_watchdog = time.monotonic()

    def _watch_clock(self) -> None:
        step = self.clock.step()
        if not step:
            return
        self.metrics.clock_steps.inc()
        if step > 0:
            log.warning("the wall clock stepped forward by %.0f s: jobs due meanwhile run now, once", step)
            return
        moved = shift_jobs(self.scheduler, step)
        log.warning("the wall clock stepped back by %.0f s: %d scheduled job(s) moved back with it, "
                    "retries and settle windows keep their real delays", -step, moved)
        self._wake_replicators()

    def _beat(self) -> None:
        """Every HEARTBEAT: the node's writer lock still held (taken again after a lost connection),
        and the node's row still names this boot. Another process holding either stops this one."""
        try:
            state = self.journal.keep_writer_lock()
            if state == "retaken":
                self._journal_reconnected()
            if state != self._lock_state:
                if state == "retaken":
                    log.warning("the journal connection holding the writer lock was lost; writer lock taken again")
                elif state == "lost":
                    log.error("the journal connection holding the writer lock was lost; retrying")
                self._lock_state = "held" if state == "retaken" else state
            if not self.journal.node_heartbeat():
                self._give_up(f"another process registered as node {self.me.node} in the journal")
        except JournalBusy as exc:
            self._give_up(str(exc))
        except JournalError as exc:
            log.warning("cannot record the node's heartbeat: %s", exc)

    def _journal_reconnected(self) -> None:
        """The journal came back on a new connection, maybe on a promoted standby that missed our last
        commits (asynchronous replication): the tree is reconciled against it, and claims of ours that
        no copy holds go back, so a lost commit costs a copy, never a file."""
        for replicator in self.replicators.values():
            replicator.journal_reconnected()
        self.ingest.reconcile_in_background("journal_reconnect")

    def _give_up(self, why: str) -> None:
        self.fatal = f"stopped writing: {why}"
        log.error("%s", self.fatal)
        self.stop_requested.set()
        inbox = self._inbox  # read once: the loop may be closing it
        if inbox is not None:
            inbox.poke()

    # -- reload ---------------------------------------------------------------------------------

    def reload(self) -> bool:
        """SIGHUP: read the config again; keep the old one if the new one is invalid. Work in flight is
        finished and recorded first, and a reconcile after the swap catches what arrived meanwhile."""
        source = self.config.source
        try:
            new = load_config(source)
            refuse_unusable(new)
            security = web_security(new)
        except ConfigError as exc:
            log.error("reload refused, keeping the running config: %s", str(exc).replace("\n", "; "))
            return False
        if new.journal.url != self.config.journal.url:
            log.warning("reload: journal.url changed; that needs a restart (kept %s)", "the current journal")
            new.journal.url = self.config.journal.url
        self.notifier.reloading()
        log.info("reloading %s", source)
        self._stop_parts()
        listen_changed = new.metrics.listen != self.config.metrics.listen
        self.config = new
        self._build()
        self.metrics.declare(list(self.roots), list(self.replicators))
        self._backfill()
        self._start_parts("reload")
        if self.monitor is not None:
            self.monitor.reconfigure(new)
        self._reconfigure_web(security, listen_changed)
        self.notifier.ready("reloaded")
        log.info("reloaded: watching %s; targets %s", ", ".join(self.roots), ", ".join(self.replicators))
        return True

    def _reconfigure_web(self, security: WebSecurity, listen_changed: bool) -> None:
        if self.web is None:
            return
        if listen_changed:
            log.warning("reload: metrics.listen changed; that needs a restart (still on %s:%d)", *self.web.address)
        self.web.reconfigure(security)
        log.info("listener: %s", security.describe())
        if self.web.warning:
            log.warning("%s", self.web.warning)

    # -- one pass -------------------------------------------------------------------------------

    def sync_once(self, timeout: float = 3600.0) -> bool:
        """Reconcile, wait for settling files, replicate and verify everything due; True if all verified.
        The caller closes the journal (which gives the writer lock back)."""
        self.prepare()
        self.ingest.start()
        try:
            self.ingest.reconcile("sync")
            self.ingest.wait_idle(timeout)
        finally:
            self.ingest.stop()
        deadline = time.monotonic() + timeout
        for replicator in self.replicators.values():
            replicator.drain(deadline)
        counts = [self.journal.target_counts(name, include_verified=False) for name in self.replicators]
        return all(c.pending == 0 and c.failed == 0 for c in counts)

    # -- callbacks and state --------------------------------------------------------------------

    def _wake_replicators(self) -> None:
        for replicator in self.replicators.values():
            replicator.wake()

    def _changed(self, watch: str, path: bytes) -> None:
        self.ingest.hint(Hint.CHANGING, watch, path)

    def refresh_stats(self) -> None:
        """Backlog gauges, from the (target, state) index: cost follows the backlog, not the journal."""
        now = time.time()
        for name in list(self.replicators):
            try:
                counts = self.journal.target_counts(name, include_verified=False)
            except JournalError as exc:
                log.warning("cannot read backlog of %s: %s", name, exc)
                return
            age = max(0.0, now - counts.oldest_pending_at) if counts.oldest_pending_at else 0.0
            self.backlog[name] = (counts.pending + counts.failed, age)
            self.metrics.backlog(name, counts.pending + counts.failed, age)
        try:
            self.metrics.fleet(self.journal.nodes(), now)
        except JournalError as exc:
            log.warning("cannot read the fleet's nodes: %s", exc)

    def replication_status(self) -> dict[str, dict]:
        """Per target: up, backlog, oldest pending age, error run (for alerts, /readyz, the page)."""
        return {name: {"up": r.up, "down_reason": r.down_reason, "pending": self.backlog.get(name, (0, 0.0))[0],
                       "oldest_pending_seconds": self.backlog.get(name, (0, 0.0))[1],
                       "consecutive_errors": r.consecutive_errors}
                for name, r in self.replicators.items()}

    def heartbeat_age(self) -> float:
        now = time.monotonic()
        return max([now - self.ingest.last_loop_at] + [now - r.last_loop_at for r in self.replicators.values()])

    def healthy(self) -> bool:
        return self.heartbeat_age() < STALL_LIMIT

