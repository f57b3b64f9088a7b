"""The tools people use today, run the way their docs say: lsyncd (default.rsync), rsync, cp + sync."""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path

LSYNCD_CONFIG = """\
settings {{
    nodaemon = true,
    logfile = "{base}/lsyncd.log",
    statusFile = "{base}/lsyncd.status",
    insist = true,
}}
sync {{
    default.rsync,
    source = "{source}",
    target = "{target}",
    delay = 0,
}}
"""


class Lsyncd:
    """lsyncd mirroring ``source`` to ``target`` with rsync, no batching delay, in the foreground."""

    def __init__(self, base: Path, source: Path, target: Path):
        self.base, self.source, self.target = Path(base), Path(source), Path(target)
        self.source.mkdir(parents=True, exist_ok=True)
        self.target.mkdir(parents=True, exist_ok=True)
        self.config = self.base / "lsyncd.lua"
        self.config.write_text(LSYNCD_CONFIG.format(base=self.base, source=self.source, target=self.target))
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> "Lsyncd":
        """Start and wait for its initial full rsync to finish, so it is watching before we write."""
        log = self.base / "lsyncd.log"
        with open(self.base / "lsyncd.out", "ab") as out:
            self.process = subprocess.Popen(["lsyncd", str(self.config)], stdout=out, stderr=out)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"lsyncd exited ({self.process.returncode}); see {self.base}/lsyncd.out")
            if log.exists() and "finished" in log.read_text(errors="replace"):
                return self
            time.sleep(0.05)
        raise TimeoutError("lsyncd did not finish its startup sync")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def timed(command: list[str], env: dict | None = None) -> float:
    """Wall seconds of one command, which must succeed."""
    began = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.monotonic() - began


def rsync_fsync(source: Path, target: Path) -> float:
    return timed(["rsync", "-a", "--fsync", f"{source}/", f"{target}/"])


def cp_then_sync(source: Path, target: Path) -> float:
    began = time.monotonic()
    subprocess.run(["cp", str(source), str(target)], check=True)
    subprocess.run(["sync"], check=True)
    return time.monotonic() - began


def rsync_over_ssh(source: Path, remote: str, ssh: list[str]) -> float:
    """``rsync -a -e ssh SRC/ user@host:DST/``: rsync's own protocol over one ssh connection."""
    return timed(["rsync", "-a", "-e", shlex.join(ssh), f"{source}/", f"{remote}/"])


def rclone_copy(config: Path, source: Path, remote: str, env: dict | None = None) -> float:
    """``rclone copy`` with its defaults (4 transfers, its own hash check where the remote has one)."""
    return timed(["rclone", "--config", str(config), "copy", str(source), remote], env)


def write_rclone_config(path: Path, remote: str, options: dict[str, str | int]) -> Path:
    """An rclone config file with one remote; passed with --config so no user config is read."""
    path.write_text(f"[{remote}]\n" + "".join(f"{key} = {value}\n" for key, value in options.items()))
    path.chmod(0o600)
    return path
