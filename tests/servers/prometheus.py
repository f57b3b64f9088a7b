"""A real Alertmanager and a real Prometheus on loopback (Debian prometheus-alertmanager, prometheus)."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path

import yaml

from tests.servers.polling import free_port, wait_until

ALERTMANAGER = "prometheus-alertmanager"


def unavailable(binary: str) -> str | None:
    if shutil.which(binary) is None:
        return f"{binary} is not installed (.ci/run installs it)"
    return None


class _Server:
    def __init__(self, folder: Path, command: list[str], port: int):
        self.folder, self.port = folder, port
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(folder / "server.log", "wb")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=self.log, cwd=folder)
        wait_until(self._ready, 60, 0.1, f"{command[0]} ready")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"exited {self.process.returncode}: {(self.folder / 'server.log').read_text()}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def get(self, path: str):
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class Alertmanager(_Server):
    """One route to a webhook receiver (or none), clustering off, inhibit rules as given."""

    def __init__(self, folder: Path, receiver_url: str | None = None, inhibit_rules: list | None = None):
        folder.mkdir(parents=True, exist_ok=True)
        receiver = {"name": "default"}
        if receiver_url:
            receiver["webhook_configs"] = [{"url": receiver_url, "send_resolved": True}]
        config = {"route": {"receiver": "default", "group_by": ["alertname", "instance"], "group_wait": "0s",
                            "group_interval": "1s", "repeat_interval": "1h"},
                  "receivers": [receiver], "inhibit_rules": inhibit_rules or []}
        (folder / "am.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        super().__init__(folder, [ALERTMANAGER, f"--config.file={folder / 'am.yml'}",
                                  f"--storage.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                                  "--cluster.listen-address="], port)

    def alerts(self, **filters) -> list[dict]:
        query = "&".join(f"{key}={str(value).lower()}" for key, value in filters.items())
        return self.get("/api/v2/alerts" + (f"?{query}" if query else ""))


class Prometheus(_Server):
    """Scrapes ``targets`` (job ``jaga``) every ``interval``, evaluates ``rules``, sends to Alertmanager."""

    def __init__(self, folder: Path, targets: list[str], rules: Path, alertmanager: str | None,
                 interval: str = "1s"):
        folder.mkdir(parents=True, exist_ok=True)
        config = {"global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
                  "rule_files": [str(rules)],
                  "scrape_configs": [{"job_name": "jaga", "static_configs": [{"targets": targets}]}]}
        if alertmanager:
            config["alerting"] = {"alertmanagers": [{"static_configs": [
                {"targets": [alertmanager.removeprefix("http://")]}]}]}
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        super().__init__(folder, ["prometheus", f"--config.file={folder / 'prometheus.yml'}",
                                  f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                         port)

    def alerts(self) -> list[dict]:
        return self.get("/api/v1/alerts")["data"]["alerts"]

    def rule_health(self) -> dict[str, str]:
        groups = self.get("/api/v1/rules")["data"]["groups"]
        return {f"{rule['name']}:{index}": rule["health"] for group in groups
                for index, rule in enumerate(group["rules"])}
