"""Running as a service: sd_notify, SIGHUP reload, logs for journald and for machines."""

import json
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import needs_binary
from tests.harness import REPO, wait_for, write_file


class NotifySocket:
    """A datagram socket standing in for systemd's $NOTIFY_SOCKET."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.messages: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.messages

    def saw(self, field: str) -> bool:
        return any(field in message.split("\n") for message in self.drain())


def test_the_daemon_tells_systemd_ready_watchdog_and_stopping(deployment, tmp_path):
    notify = NotifySocket(tmp_path / "notify.sock")
    deployment.start(env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"})
    wait_for(lambda: notify.saw("READY=1"), message="READY=1")
    wait_for(lambda: sum("WATCHDOG=1" in m for m in notify.drain()) >= 2, message="two watchdog pings")
    assert deployment.stop() == 0
    assert notify.saw("STOPPING=1")


def test_sighup_reloads_the_config_and_keeps_the_old_one_when_the_new_is_broken(deployment, tmp_path):
    deployment.start()
    write_file(deployment.uploads / "a.pdf", b"a")
    wait_for(lambda: deployment.is_verified(b"a.pdf"), message="first file")

    deployment.doc["targets"].append({"name": "offsite", "type": "local", "path": "offsite"})
    deployment.write_config()
    deployment.process.send_signal(signal.SIGHUP)
    wait_for(lambda: deployment.metric("jaga_target_up", target="offsite") == 1, message="new target up")
    wait_for(lambda: (deployment.base / "offsite" / "uploads" / "a.pdf").exists(),
             message="the new target receives the files it missed")

    good = deployment.config_path.read_text()
    deployment.config_path.write_text(good.replace("watch:", "wach:"))
    deployment.process.send_signal(signal.SIGHUP)
    wait_for(lambda: deployment.logged("reload refused, keeping the running config", "wach: unknown key"),
             message="the refusal, naming the key")
    write_file(deployment.uploads / "b.pdf", b"b")
    wait_for(lambda: (deployment.base / "offsite" / "uploads" / "b.pdf").exists(), message="still working")
    assert deployment.process.poll() is None


def test_json_logs_are_one_object_per_line(deployment):
    deployment.doc["logging"] = {"level": "info", "format": "json"}
    deployment.write_config()
    deployment.start()
    write_file(deployment.uploads / "a.pdf", b"a")
    wait_for(lambda: deployment.is_verified(b"a.pdf"), message="verified")
    deployment.stop()
    lines = [json.loads(line) for line in deployment.log_text().splitlines() if line.strip()]
    assert any(line["message"].startswith("jaga started") for line in lines)
    assert all({"level", "logger", "message", "time"} <= set(line) for line in lines)


def test_under_systemd_the_logs_carry_no_timestamps_of_their_own(deployment):
    deployment.doc["logging"] = {"level": "info", "format": "text"}
    deployment.write_config()
    deployment.start(env={"JOURNAL_STREAM": "8:12345"})
    deployment.stop()
    first = deployment.log_text().splitlines()[0]
    assert first.startswith("INFO "), first


UNIT = REPO / "deploy" / "systemd" / "jaga.service"
TIMESPAN_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """systemd's unit syntax: [Section], Key=Value, repeated keys accumulate, '#'/';' comments and
    backslash continuations (systemd.syntax(7)); an empty assignment resets the list."""
    sections: dict[str, dict[str, list[str]]] = {}
    section = None
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = sections.setdefault(line[1:-1], {})
            continue
        assert section is not None and "=" in line, f"not a unit line: {line!r}"
        key, value = (part.strip() for part in line.split("=", 1))
        section[key] = [] if value == "" else section.get(key, []) + [value]
    return sections


def timespan(text: str) -> float:
    """A systemd time span: '60s', '5min', '1h 30s', or bare seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text)
    assert parts and "".join(n + u for n, u in parts) == text.replace(" ", ""), f"not a time span: {text!r}"
    assert all((unit or "s") in TIMESPAN_UNITS for _, unit in parts), f"not a time span: {text!r}"
    return sum(float(number) * TIMESPAN_UNITS[unit or "s"] for number, unit in parts)


def one(unit: dict, section: str, key: str) -> str:
    values = unit[section].get(key, [])
    assert len(values) == 1, f"[{section}] {key}: expected one value, got {values}"
    return values[0]


def test_the_shipped_unit_is_type_notify_with_a_watchdog_and_hardening():
    unit = parse_unit(UNIT.read_text())
    assert one(unit, "Service", "Type") == "notify"
    assert one(unit, "Service", "NotifyAccess") in ("main", "all")
    assert timespan(one(unit, "Service", "WatchdogSec")) > 0, "the daemon pings the watchdog: it must be on"
    assert timespan(one(unit, "Service", "TimeoutStopSec")) >= 10, "jaga stops within 10 s of SIGTERM"
    assert timespan(one(unit, "Service", "RestartSec")) > 0
    assert one(unit, "Service", "Restart") in ("on-failure", "always")
    assert one(unit, "Service", "ExecReload") == "/bin/kill -HUP $MAINPID"
    start = shlex.split(one(unit, "Service", "ExecStart"))
    assert start[0].startswith("/") and start[-1] == "run" and start[start.index("-c") + 1].startswith("/")
    assert one(unit, "Service", "User") == "jaga" and one(unit, "Service", "NoNewPrivileges") == "yes"
    assert one(unit, "Service", "ProtectSystem") == "strict"
    writable = " ".join(unit["Service"]["ReadWritePaths"]).split()
    # `-` (the path may be missing: an unmounted replica disk is a target that is down, not a failed start)
    assert writable and all(path.removeprefix("-").startswith("/") for path in writable)
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def test_the_unit_parser_reads_what_systemd_reads():
    unit = parse_unit("[Service]\nWatchdogSec=0\nA=1\nA=2\n# c\nB=x \\\n  y\nC=1\nC=\n")
    assert unit["Service"] == {"WatchdogSec": ["0"], "A": ["1", "2"], "B": ["x    y"], "C": []}
    assert timespan("0") == 0 and timespan("1h 30s") == 3630 and timespan("5min") == 300


@needs_binary("systemd-analyze")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    """systemd's own parser: it only warns (exit 0) on a bad value, so any output is a failure. The
    ExecStart binary must exist, so it points at this checkout's jaga."""
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={Path(sys.executable).with_name('jaga')}", UNIT.read_text(),
                  flags=re.M)
    copy = tmp_path / UNIT.name
    copy.write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr
