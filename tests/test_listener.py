"""The daemon's listener as operators run it: HTTPS with basic auth from an exporter-toolkit web config,
scraped by a real Prometheus, reloaded on SIGHUP, checked by `jaga check-config`, read by `jaga status`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.harness import free_port, jaga_command, wait_for, write_file
from tests.servers.flood import IdleFlood
from tests.servers.tls import PASSWORD, USER, basic, make_pki

PROMETHEUS = shutil.which("prometheus")


@pytest.fixture
def secured(deployment, tmp_path):
    """The deployment with HTTPS and one basic-auth user (the web config beside its certificates)."""
    pki = make_pki(tmp_path / "pki")
    deployment.pki = pki
    deployment.web_config = pki.web_config(users={USER: PASSWORD})
    deployment.doc["metrics"]["web_config"] = str(deployment.web_config)
    deployment.write_config()
    deployment.tls, deployment.authorization = pki.client_context(), basic()
    return deployment


@pytest.fixture
def prometheus(tmp_path):
    if PROMETHEUS is None:
        pytest.skip("prometheus is not installed (.ci/run installs it)")
    started = []

    def start(scrape_configs: list[dict]) -> int:
        folder = tmp_path / "prometheus"
        folder.mkdir()
        config = folder / "prometheus.yml"
        config.write_text(yaml.safe_dump({"global": {"scrape_interval": "1s", "scrape_timeout": "900ms"},
                                          "scrape_configs": scrape_configs}))
        port = free_port()
        log = open(folder / "prometheus.log", "wb")
        started.append(subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"], stdout=log, stderr=log))
        log.close()
        return port

    yield start
    for process in started:
        process.terminate()
        process.wait(20)


def targets(port: int) -> dict[str, dict]:
    """Prometheus's own view of its scrape targets, by job."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/targets", timeout=5) as response:
            active = json.loads(response.read())["data"]["activeTargets"]
    except OSError:
        return {}
    return {target["labels"]["job"]: target for target in active}


def test_prometheus_scrapes_jaga_over_https_with_basic_auth(secured, prometheus):
    secured.start()
    write_file(secured.uploads / "a.pdf", b"scraped")
    wait_for(lambda: secured.is_verified(b"a.pdf"), message="a.pdf verified")

    def job(name: str, password: str) -> dict:
        return {"job_name": name, "scheme": "https", "static_configs": [{"targets": [f"127.0.0.1:{secured.port}"]}],
                "basic_auth": {"username": USER, "password": password},
                "tls_config": {"ca_file": str(secured.pki.ca)}}

    port = prometheus([job("jaga", PASSWORD), job("wrong-password", "guess"),
                       {**job("plain-http", PASSWORD), "scheme": "http"}])
    wait_for(lambda: {j: t["health"] for j, t in targets(port).items()} ==
             {"jaga": "up", "wrong-password": "down", "plain-http": "down"}, timeout=60,
             message="prometheus: jaga up over HTTPS, refused without the password and over plain HTTP")
    seen = targets(port)
    assert "401" in seen["wrong-password"]["lastError"]

    def verified_in_prometheus() -> float | None:
        query = "sum(jaga_replicas_verified_total)"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?query={query}", timeout=5) as response:
            result = json.loads(response.read())["data"]["result"]
        return float(result[0]["value"][1]) if result else None
    wait_for(lambda: verified_in_prometheus() == 1.0, timeout=30, message="the scraped counter in prometheus")


def test_sighup_rotates_the_password_and_check_config_validates_the_web_config(secured):
    secured.start()
    assert secured.http("/healthz")[0] == 200
    assert secured.http("/healthz", authorization=basic(password="rotated"))[0] == 401
    result = secured.cli("check-config")
    assert result.returncode == 0 and "HTTPS, basic auth (1 user(s))" in result.stdout, result.stdout

    secured.pki.web_config(users={USER: "rotated"})           # the same file, a new hash
    secured.process.send_signal(signal.SIGHUP)
    wait_for(lambda: secured.http("/healthz")[0] == 401, message="the old password refused after SIGHUP")
    assert secured.http("/healthz", authorization=basic(password="rotated"))[0] == 200

    hashes = yaml.safe_load(secured.web_config.read_text())["basic_auth_users"]
    secured.web_config.write_text(yaml.safe_dump({"tls_server_config": {
        "cert_file": secured.pki.cert.name, "key_file": secured.pki.other_key.name}, "basic_auth_users": hashes}))
    result = secured.cli("check-config")
    assert result.returncode == 2 and "does not match" in result.stderr, result.stderr
    assert hashes[USER] not in result.stdout + result.stderr
    secured.process.send_signal(signal.SIGHUP)                 # a broken web config: the running one stays
    wait_for(lambda: "reload refused" in secured.log_text(), message="the reload refused")
    assert secured.http("/healthz", authorization=basic(password="rotated"))[0] == 200
    assert hashes[USER] not in secured.log_text()


def test_jaga_status_reads_the_live_view_over_https_with_the_password_from_the_environment(secured):
    secured.start()
    result = secured.cli("status", "--json")
    doc = json.loads(result.stdout)
    assert doc["daemon"] == "running" and "JAGA_WEB_PASSWORD" in doc["live_note"]
    env = {**os.environ, "JAGA_WEB_USER": USER, "JAGA_WEB_PASSWORD": PASSWORD}
    result = subprocess.run(jaga_command("-c", str(secured.config_path), "status", "--json"), capture_output=True,
                            text=True, env=env, cwd=secured.base, timeout=60)
    doc = json.loads(result.stdout)
    assert doc["daemon"] == "running" and doc["live_note"] is None


def test_a_start_with_an_unusable_web_config_exits_2_naming_it(deployment, tmp_path):
    deployment.doc["metrics"]["web_config"] = "missing-web.yml"
    deployment.write_config()
    result = deployment.cli("run", timeout=60)
    assert result.returncode == 2
    assert "metrics.web_config" in result.stderr and "missing-web.yml" in result.stderr


def test_listening_on_every_address_without_a_web_config_warns_at_start(deployment):
    deployment.doc["metrics"]["listen"] = f"0.0.0.0:{deployment.port}"
    deployment.write_config()
    deployment.start()
    assert "reachable beyond this machine without TLS" in deployment.log_text()
    assert b"id='exposed'" in deployment.http("/")[1]


@pytest.mark.skipif(shutil.which("prlimit") is None, reason="prlimit is not installed (util-linux)")
def test_an_idle_connection_flood_under_1024_descriptors_leaves_replication_and_healthz_working(deployment):
    """systemd's default limit; a flood of 1,500 connections that never send a byte, each replaced as soon
    as jaga closes it. Before: every one held a thread and a descriptor, the target went down with EMFILE."""
    deployment.start(wrapper=["prlimit", "--nofile=1024:1024", "--"])
    fds = Path(f"/proc/{deployment.process.pid}/fd")
    held = []
    with IdleFlood(deployment.port, connections=1500, per_second=300) as flood:
        wait_for(lambda: flood.established >= 1000, timeout=60, message="1,000 idle connections established")
        for i in range(30):
            write_file(deployment.uploads / "flood" / f"{i:02d}.pdf", os.urandom(20_000))
            held.append(len(os.listdir(fds)))
        wait_for(lambda: all(deployment.is_verified(b"flood/%02d.pdf" % i) for i in range(30)), timeout=90,
                 interval=0.5, message="30 uploads verified during the flood")
        wait_for(lambda: _answers(deployment, "/healthz"), timeout=30, message="/healthz answers during the flood")
        held.append(len(os.listdir(fds)))
        assert flood.closed_by_server > 0        # jaga made room by closing idle connections
    assert max(held) < 1024 // 4, held
    assert "Too many open files" not in deployment.log_text()
    assert deployment.metric("jaga_web_connections_evicted_total") > 0


def _answers(deployment, path: str) -> bool:
    try:
        return deployment.http(path)[0] == 200
    except OSError:
        return False
