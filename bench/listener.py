"""L. the listener: what TLS and basic auth cost a scrape, and an idle-connection flood under systemd's
1,024-descriptor limit while uploads keep arriving.

Scrapes: /metrics on a fresh connection each time (as Prometheus does against jaga, which closes
after each answer), over plain HTTP, HTTPS, and HTTPS with basic auth at bcrypt cost 10 (what
operators use); the daemon's own CPU time per scrape comes from /proc. Flood: 1,500 connections that
never send a byte, opened at 300/s and each replaced as soon as jaga closes it, for as long as 200
uploads take at 20/s; meanwhile /healthz is timed every half second.
"""

from __future__ import annotations

import base64
import http.client
import os
import ssl
import statistics
import threading
import time
from pathlib import Path

import bcrypt
import psutil
import yaml

from bench.context import Context
from bench.jagaproc import JagaDaemon
from bench.report import Row
from bench.util import fresh, wait_until
from bench.workload import KIB, specs, write_paced
from tests.servers.flood import IdleFlood
from tests.servers.tls import make_pki

SCRAPES = 200
USER, PASSWORD = "prometheus", "bench-password"
FLOOD, FLOOD_RATE, UPLOADS, UPLOAD_RATE = 1500, 300, 200, 20.0


def run(ctx: Context, repeats: int) -> list[Row]:
    rows = []
    for mode in ("http", "https", "https+basic"):
        try:
            rows += _scrapes(ctx, mode, repeats)
        except RuntimeError as exc:            # e.g. --rev of a jaga without metrics.web_config
            print(f"L {mode}: not measured: {exc}", flush=True)
    return rows + _flood(ctx)


def _scrapes(ctx: Context, mode: str, repeats: int) -> list[Row]:
    base = fresh(ctx.ws / f"L-{mode.replace('+', '-')}")
    web_config, context, headers = None, None, {}
    if mode != "http":
        pki = make_pki(base / "pki")
        doc = {"tls_server_config": {"cert_file": str(pki.cert), "key_file": str(pki.key)}}
        if mode == "https+basic":
            doc["basic_auth_users"] = {USER: bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()}
            headers["Authorization"] = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        web_config = base / "web.yml"
        web_config.write_text(yaml.safe_dump(doc))
        context = pki.client_context()
    daemon = JagaDaemon(base, ctx.source)
    if web_config is not None:
        doc = yaml.safe_load(daemon.config.read_text())
        doc["metrics"]["web_config"] = str(web_config)
        daemon.config.write_text(yaml.safe_dump(doc, sort_keys=False))
    daemon.spawn()
    scrape = _scraper(daemon.port, context, headers)
    anonymous = _scraper(daemon.port, context, {})
    try:
        daemon.wait(lambda: anonymous("/healthz")[0] in (200, 401), 60, "health endpoint")
        first = scrape("/metrics")[1]                   # with basic auth: the one bcrypt check
        process = psutil.Process(daemon.process.pid)
        latencies, cpu = _trials(process, lambda: scrape("/metrics"), SCRAPES, repeats)
        rows = [Row(f"L scrape {mode}", "first /metrics on a fresh connection", "ms", first * 1000),
                Row(f"L scrape {mode}", "/metrics median, fresh connection each", "ms",
                    statistics.median(latencies) * 1000, samples={"medians_s": latencies}),
                Row(f"L scrape {mode}", "daemon CPU per scrape", "ms", statistics.median(cpu) * 1000,
                    samples={"cpu_s": cpu})]
        if headers:   # what every scrape would cost without the cache: a wrong password is never remembered
            wrong = _scraper(daemon.port, context, {"Authorization": "Basic " + base64.b64encode(
                f"{USER}:not-{PASSWORD}".encode()).decode()})
            latencies, cpu = _trials(process, lambda: wrong("/metrics"), SCRAPES // 10, repeats)
            rows += [Row("L scrape https+basic", "401 (bcrypt each time), median", "ms",
                         statistics.median(latencies) * 1000, samples={"medians_s": latencies}),
                     Row("L scrape https+basic", "daemon CPU per 401", "ms", statistics.median(cpu) * 1000,
                         samples={"cpu_s": cpu})]
    finally:
        daemon.stop()
    return rows


def _trials(process: psutil.Process, request, count: int, repeats: int) -> tuple[list[float], list[float]]:
    """Per trial: the median seconds of ``count`` requests, and the daemon's CPU seconds per request."""
    latencies, cpu = [], []
    for _ in range(repeats):
        before = sum(process.cpu_times()[:2])
        trial = [request()[1] for _ in range(count)]
        cpu.append((sum(process.cpu_times()[:2]) - before) / count)
        latencies.append(statistics.median(trial))
    return latencies, cpu


def _scraper(port: int, context: ssl.SSLContext | None, headers: dict):
    def scrape(path: str) -> tuple[int, float]:
        began = time.perf_counter()
        conn = (http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context) if context
                else http.client.HTTPConnection("127.0.0.1", port, timeout=10))
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status not in (200, 401) and path == "/metrics":
                raise RuntimeError(f"{path} answered {response.status}")
            return response.status, time.perf_counter() - began
        finally:
            conn.close()
    return scrape


def _flood(ctx: Context) -> list[Row]:
    daemon = JagaDaemon(fresh(ctx.ws / "L-flood"), ctx.source)
    daemon.spawn(wrapper=["prlimit", "--nofile=1024:1024", "--"])
    daemon.wait(lambda: daemon.get("/healthz")[0] == 200, 60, "health endpoint")
    fds = Path(f"/proc/{daemon.process.pid}/fd")
    files = specs(UPLOADS, 16 * KIB, 256 * KIB, seed=77, prefix="flood")
    health, held = [], []
    try:
        with IdleFlood(daemon.port, FLOOD, per_second=FLOOD_RATE) as flood:
            wait_until(lambda: flood.established >= 1000, 60, 0.1)
            writer = threading.Thread(target=write_paced, args=(ctx.payload, str(daemon.uploads), files,
                                                                UPLOAD_RATE), daemon=True)
            writer.start()
            while writer.is_alive():
                held.append(len(os.listdir(fds)))
                health.append(_timed_health(daemon.port))
                time.sleep(0.5)
            wait_until(lambda: daemon.verified()[0] >= UPLOADS, 30, 0.2)
            verified = daemon.verified()[0]
            opened, closed = flood.opened, flood.closed_by_server
    finally:
        daemon.stop()
    answered = [seconds for seconds in health if seconds is not None]
    label = "L flood (prlimit 1024)"
    return [Row(label, "descriptors held by jaga, most", "fds", max(held), samples={"held": held}),
            Row(label, f"uploads verified of {UPLOADS} during the flood", "files", verified),
            Row(label, "/healthz answered", "%", 100 * len(answered) / max(1, len(health))),
            Row(label, "/healthz latency, median", "ms",
                statistics.median(answered) * 1000 if answered else float("nan"), samples={"health_s": health}),
            Row(label, "idle connections opened / closed by jaga", "conns", opened, samples={"closed": closed})]


def _timed_health(port: int) -> float | None:
    began = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/healthz")
        ok = conn.getresponse().status == 200
    except OSError:
        ok = False
    finally:
        conn.close()
    return time.perf_counter() - began if ok else None
