"""The listener's TLS, basic auth and redaction, served for real to real clients: Python's ssl and curl."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Gauge

from jaga.web import WebServer
from jaga.web.webconfig import WebConfigError, load_web_config
from tests.harness import wait_for
from tests.servers.tls import PASSWORD, USER, basic, hash_password, make_pki
from tests.test_web import Status

PATHS = ("/metrics", "/", "/api/status", "/readyz", "/healthz")
SERIAL = "WD-WCC4N7KX1234"


class DiskStatus(Status):
    """A source with one disk whose serial number must not reach visitors who are not authenticated."""

    def __init__(self):
        super().__init__()
        Gauge("jaga_disk_info", "disk identity", ["device", "model", "serial"], registry=self.registry
              ).labels("sda", "WDC WD40EFRX", SERIAL).set(1)

    def disk_summary(self):
        return [{"device": "sda", "model": "WDC WD40EFRX", "serial": SERIAL, "health": "failing",
                 "reasons": [f"vanished from the smartctl scan (last seen as WDC WD40EFRX serial {SERIAL})"]}]

    def firing_alerts(self):
        return [{"alertname": "DiskFailing", "severity": "critical", "subject": f"disk sda (WDC, serial {SERIAL})",
                 "summary": "5 reallocated sectors", "started_at": 1.0}]


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path / "pki")


@pytest.fixture
def serve():
    servers = []

    def start(source, security=None, host="127.0.0.1", **kwargs):
        server = WebServer((host, 0), source, **({"security": security} if security else {}), **kwargs)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def fetch(url: str, context: ssl.SSLContext | None = None, auth: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": auth} if auth else {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_with_basic_auth_every_path_needs_the_password_over_https(serve, pki):
    security = load_web_config(pki.web_config(users={USER: PASSWORD}))
    server = serve(DiskStatus(), security)
    base = f"https://127.0.0.1:{server.address[1]}"
    context = pki.client_context()
    for path in PATHS:
        for auth in (None, basic(password="wrong"), basic(user="nobody"), "Bearer x", "Basic !!!"):
            code, body = fetch(base + path, context, auth)
            assert code == 401, (path, auth)
            assert SERIAL not in body and "sda" not in body
        assert fetch(base + path, context, basic())[0] == 200, path
    code, body = fetch(base + "/api/status", context, basic())
    assert json.loads(body)["disks"][0]["serial"] == SERIAL        # authenticated: the serial is there
    assert f'serial="{SERIAL}"' in fetch(base + "/metrics", context, basic())[1]

    with pytest.raises(urllib.error.URLError) as refused:          # a client that checks finds our cert
        fetch(base + "/healthz", ssl.create_default_context())     # not signed by a CA it trusts
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)
    with socket.create_connection(server.address, timeout=5) as plain:   # plain HTTP gets no data
        plain.sendall(b"GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = plain.recv(4096)
    assert answer.startswith(b"HTTP/1.0 400") and b"HTTPS" in answer and SERIAL.encode() not in answer


def test_a_remembered_password_skips_bcrypt_and_a_wrong_one_never_does(serve, pki):
    security = load_web_config(pki.web_config(users={USER: PASSWORD}))
    server = serve(Status(), security)
    url, context = f"https://127.0.0.1:{server.address[1]}/metrics", pki.client_context()
    for _ in range(5):
        assert fetch(url, context, basic())[0] == 200
    assert security.users.slow_checks == 1
    for _ in range(3):
        assert fetch(url, context, basic(password=PASSWORD + "x"))[0] == 401
    assert security.users.slow_checks == 4
    assert fetch(url, context, basic())[0] == 200 and security.users.slow_checks == 4


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed (.ci/run installs it)")
def test_curl_over_https_with_basic_auth(serve, pki):
    server = serve(DiskStatus(), load_web_config(pki.web_config(users={USER: PASSWORD})))
    port = server.address[1]

    def curl(*args: str) -> tuple[str, str]:
        result = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", "10", *args],
                                capture_output=True, text=True, timeout=30)
        body, _, code = result.stdout.rpartition("\n")
        return code, body + result.stderr

    assert curl("--cacert", str(pki.ca), f"https://127.0.0.1:{port}/metrics")[0] == "401"
    assert curl("--cacert", str(pki.ca), "-u", f"{USER}:nope", f"https://127.0.0.1:{port}/")[0] == "401"
    code, body = curl("--cacert", str(pki.ca), "-u", f"{USER}:{PASSWORD}", f"https://127.0.0.1:{port}/metrics")
    assert code == "200" and "jaga_disk_info" in body
    code, body = curl(f"https://127.0.0.1:{port}/healthz")               # no CA: curl refuses the cert
    assert code == "000" and "certificate" in body
    code, body = curl(f"http://127.0.0.1:{port}/api/status")            # plain HTTP: told to use HTTPS
    assert code == "400" and "HTTPS" in body and SERIAL not in body


def test_a_required_client_certificate_is_checked_in_the_handshake(serve, pki):
    security = load_web_config(pki.web_config(client_ca_file=pki.ca.name))
    server = serve(DiskStatus(), security)
    url = f"https://127.0.0.1:{server.address[1]}/api/status"
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        fetch(url, pki.client_context())
    code, body = fetch(url, pki.client_context(with_certificate=True))
    assert code == 200 and json.loads(body)["disks"][0]["serial"] == SERIAL   # a verified client is known


def test_visitors_not_authenticated_see_no_serial_numbers(serve):
    server = serve(DiskStatus())
    base = f"http://127.0.0.1:{server.address[1]}"
    for path in PATHS:
        code, body = fetch(base + path)
        assert code == 200 and SERIAL not in body, path
    status = json.loads(fetch(base + "/api/status")[1])
    assert status["disks"][0]["serial"] is None and "(hidden)" in status["disks"][0]["reasons"][0]
    assert status["alerts"][0]["subject"] == "disk sda (WDC, serial (hidden))"
    assert 'jaga_disk_info{device="sda",model="WDC WD40EFRX",serial=""} 1.0' in fetch(base + "/metrics")[1]


def test_listening_beyond_loopback_without_tls_shows_a_warning(serve, pki):
    open_server = serve(Status(), host="0.0.0.0")
    assert "without TLS" in open_server.warning
    page = fetch(f"http://127.0.0.1:{open_server.address[1]}/")[1]
    assert "id='exposed'" in page and "metrics.web_config" in page
    assert "id='exposed'" not in fetch(f"http://127.0.0.1:{serve(Status()).address[1]}/")[1]
    tls_only = serve(Status(), load_web_config(pki.web_config()), host="0.0.0.0")
    assert "without authentication" in tls_only.warning
    tls_server = serve(Status(), load_web_config(pki.web_config(users={USER: PASSWORD})), host="0.0.0.0")
    assert tls_server.warning is None
    page = fetch(f"https://127.0.0.1:{tls_server.address[1]}/", pki.client_context(), basic())[1]
    assert "id='exposed'" not in page and "Accepting uploads" in page


def test_reconfigure_swaps_users_for_the_next_connection(serve, pki):
    server = serve(Status(), load_web_config(pki.web_config(users={USER: PASSWORD})))
    url, context = f"https://127.0.0.1:{server.address[1]}/healthz", pki.client_context()
    assert fetch(url, context, basic())[0] == 200
    server.reconfigure(load_web_config(pki.web_config(users={USER: "rotated"})))
    assert fetch(url, context, basic())[0] == 401
    assert fetch(url, context, basic(password="rotated"))[0] == 200


def test_web_config_files_that_cannot_work_are_refused_with_the_key_and_never_the_hash(pki):
    secret_hash = hash_password("pw")

    def refused(doc: str, name: str = "bad.yml") -> str:
        path = pki.folder / name
        path.write_text(doc)
        with pytest.raises(WebConfigError) as caught:
            load_web_config(path)
        assert secret_hash not in str(caught.value)
        return str(caught.value)

    tls = f"tls_server_config: {{cert_file: {pki.cert.name}, key_file: {pki.key.name}}}\n"
    assert "does not match" in refused(f"tls_server_config: {{cert_file: {pki.cert.name}, key_file: other.key}}")
    assert "cannot read" in refused("tls_server_config: {cert_file: missing.crt, key_file: server.key}")
    assert "basic_auth_users.alice: not a bcrypt hash" in refused(tls + "basic_auth_users: {alice: plain-text}")
    assert "not a bcrypt hash" in refused(tls + f"basic_auth_users: {{alice: '{secret_hash[:-2]}'}}")
    assert "clear text" in refused(f"basic_auth_users: {{alice: '{secret_hash}'}}")
    assert "needs client_ca_file" in refused(tls.replace("}", ", client_auth_type: RequireAndVerifyClientCert}"))
    assert "RequireAnyClientCert" in refused(tls.replace("}", ", client_auth_type: RequireAnyClientCert}"))
    assert "cipher_suites" in refused(tls.replace("}", ", cipher_suites: [TLS_AES_128_GCM_SHA256]}"))
    assert "unknown key" in refused(tls + "basic_auth_user: {}")
    assert "not valid YAML" in refused(tls + f"basic_auth_users: {{alice: '{secret_hash}'\n")
    assert load_web_config(pki.web_config(users={"alice": "pw"})).describe() == "HTTPS, basic auth (1 user(s))"


def test_idle_connections_are_capped_and_evicted_so_a_scrape_still_gets_in(serve):
    server = serve(Status(), limit=8)
    url = f"http://127.0.0.1:{server.address[1]}/healthz"
    idle = [socket.create_connection(server.address, timeout=5) for _ in range(100)]
    try:
        wait_for(lambda: server.listener.open_connections == 8, message="the cap reached")
        for _ in range(5):                       # each one evicts the oldest idle connection
            assert fetch(url)[0] == 200
            assert server.listener.open_connections <= 8
        assert server.listener.evicted >= 5
    finally:
        for sock in idle:
            sock.close()


def test_a_client_dribbling_its_request_is_cut_at_the_deadline(serve):
    server = serve(Status(), io_timeout=5.0, deadline=1.5)
    with socket.create_connection(server.address, timeout=10) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\n")
        cut = time.monotonic() + 10

        def closed() -> bool:
            try:
                slow.sendall(b"X-Slow: 1\r\n")
                slow.settimeout(0.2)
                return slow.recv(1) == b""
            except socket.timeout:
                return False
            except OSError:
                return True

        wait_for(closed, timeout=10, interval=0.3, message="the slow connection closed")
        assert time.monotonic() < cut
    wait_for(lambda: server.listener.open_connections == 0, message="its slot freed")
