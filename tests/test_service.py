"""Running as a service: sd_notify, SIGHUP reload, logs for journald and for machines."""

import json
import signal
import socket


from tests.harness import wait_for, write_file


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
    wait_for(lambda: "reload refused, keeping the running config" in deployment.log_text(), message="refusal")
    assert "wach: unknown key" in deployment.log_text()
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


def test_the_shipped_unit_is_type_notify_with_watchdog_and_hardening():
    from tests.harness import REPO
    unit = (REPO / "deploy" / "systemd" / "jaga.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "ProtectSystem=strict", "ReadWritePaths=",
                 "NoNewPrivileges=yes", "User=jaga", "ExecReload=/bin/kill -HUP $MAINPID"):
        assert line in unit
