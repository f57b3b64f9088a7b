"""Ingest and replication metrics, on a registry passed in (tests build their own)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
LOOPS = ("ingest", "watch", "replication")  # the parts of jaga_internal_errors_total: its own loops


class Metrics:
    """Every series is updated where the event happens; a scrape reads memory, never the journal."""

    def __init__(self, registry: CollectorRegistry, node: str = ""):
        self.registry = registry
        self.node = node  # journal-derived series carry it: a fleet's sums count each node's backlog once
        self.files_ingested = Counter("jaga_files_ingested", "File versions recorded in the journal.",
                                      ["watch"], registry=registry)
        self.bytes_ingested = Counter("jaga_bytes_ingested", "Bytes of file versions recorded.",
                                      ["watch"], registry=registry)
        self.files_skipped = Counter("jaga_files_skipped", "Paths not replicated (symlink, fifo, ...).",
                                     ["watch", "reason"], registry=registry)
        self.rescans = Counter("jaga_reconcile_scans", "Reconcile scans, by what triggered them.",
                               ["reason"], registry=registry)
        self.watch_failures = Counter("jaga_watch_failures", "Folders inotify could not watch (rescanned instead).",
                                      registry=registry)
        self.watch_up = Gauge("jaga_watch_up", "1 while the watch root is watched; 0 while it is deleted, "
                              "replaced or a symlink (new uploads there are not seen).", ["watch"], registry=registry)
        self.watch_restarts = Counter("jaga_watch_restarts", "Times a lost watch root was watched again "
                                      "(each followed by a rescan).", ["watch"], registry=registry)
        self.watch_repairs = Counter("jaga_watch_repairs", "Folders found without a working watch by the "
                                     "check of the watches against the tree (watched again, rescanned).",
                                     ["watch"], registry=registry)
        self.open_files_recorded = Counter("jaga_open_files_recorded", "Files recorded while still open for "
                                           "writing, because unchanged for ingest.open_file_limit.",
                                           ["watch"], registry=registry)
        self.journal_errors = Counter("jaga_journal_errors", "Journal reads or writes that failed.",
                                      registry=registry)
        self.internal_errors = Counter("jaga_internal_errors", "Unexpected errors (bugs) caught in a loop of "
                                       "jaga's own, which logged the traceback and went on.", ["part"],
                                       registry=registry)
        for part in LOOPS:   # at 0 from the start: the first error must be an increase Prometheus sees
            self.internal_errors.labels(part=part)
        self.replicas_verified = Counter("jaga_replicas_verified", "Replicas written and verified.",
                                         ["target"], registry=registry)
        self.replication_errors = Counter("jaga_replication_errors", "Replica copies that failed.",
                                          ["target"], registry=registry)
        self.bytes_replicated = Counter("jaga_replicated_bytes", "Bytes written to targets and verified.",
                                        ["target"], registry=registry)
        self.pending = Gauge("jaga_replication_pending_files", "This node's replicas not yet verified (backlog).",
                             ["node", "target"], registry=registry)
        self.oldest_pending = Gauge("jaga_replication_oldest_pending_seconds",
                                    "Age of this node's oldest replica not yet verified (0 when none).",
                                    ["node", "target"], registry=registry)
        self.node_heartbeat_age = Gauge("jaga_node_heartbeat_age_seconds", "Seconds since each node sharing the "
                                        "journal last beat, as the journal says (every node exports every "
                                        "node: take max by node).", ["node"], registry=registry)
        self.node_stopped = Gauge("jaga_node_stopped", "1 when the node's last run stopped cleanly, 0 while it "
                                  "should be beating.", ["node"], registry=registry)
        self.latency = Histogram("jaga_replication_latency_seconds",
                                 "From a file being complete to its replica verified.", ["target"],
                                 buckets=LATENCY_BUCKETS, registry=registry)
        self.target_up = Gauge("jaga_target_up", "1 when the target is reachable and its marker matches.",
                               ["target"], registry=registry)
        self.up_since = Gauge("jaga_start_time_seconds", "When this daemon started (Unix time).",
                              registry=registry)
        self.clock_steps = Counter("jaga_clock_steps", "Steps of the wall clock the daemon noticed (NTP, date -s).",
                                   registry=registry)
        self.web = ListenerMetrics(registry)

    def declare(self, watches: list[str], targets: list[str]) -> None:
        """Create every labelled series at start so dashboards see zeros, not gaps."""
        for watch in watches:
            for metric in (self.files_ingested, self.bytes_ingested, self.watch_up, self.watch_restarts,
                           self.watch_repairs, self.open_files_recorded):
                metric.labels(watch=watch)
        for target in targets:
            for metric in (self.replicas_verified, self.replication_errors, self.bytes_replicated,
                           self.latency, self.target_up):
                metric.labels(target=target)
            for metric in (self.pending, self.oldest_pending):
                metric.labels(node=self.node, target=target)

    def backlog(self, target: str, pending: int, oldest_age: float) -> None:
        self.pending.labels(node=self.node, target=target).set(pending)
        self.oldest_pending.labels(node=self.node, target=target).set(oldest_age)

    def fleet(self, nodes, now: float) -> None:
        """Each node's heartbeat age and whether it stopped; nodes gone from the journal disappear."""
        self.node_heartbeat_age.clear()
        self.node_stopped.clear()
        for node in nodes:
            self.node_heartbeat_age.labels(node=node.name).set(max(0.0, now - node.heartbeat_at))
            self.node_stopped.labels(node=node.name).set(1 if node.stopped_at is not None else 0)


class ListenerMetrics:
    """The HTTP listener's connections (jaga.web.connections) and refused requests."""

    def __init__(self, registry: CollectorRegistry):
        self.connections = Gauge("jaga_web_connections", "Connections the listener holds open now.",
                                 registry=registry)
        self.limit = Gauge("jaga_web_connection_limit", "Most connections held at once (a share of the "
                           "descriptor limit); more wait in the listen backlog.", registry=registry)
        self.evicted = Counter("jaga_web_connections_evicted", "Idle connections closed to make room at the limit.",
                               registry=registry)
        self.unauthorized = Counter("jaga_web_unauthorized_requests", "Requests answered 401 (no or wrong "
                                    "credentials).", registry=registry)
