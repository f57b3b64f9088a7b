"""Running smartctl for pySMART: a configured path, a timeout per call, the exit status kept.

pySMART's own ``Smartctl`` waits for smartctl forever and drops the exit status of ``--all``,
the call whose bitmask says "disk failing" or "self-test log has errors". A daemon cannot wait
forever on a dying disk, so every call here runs in its own process group and is killed at the
timeout. ``DeviceSmartctl`` is the object handed to ``pySMART.Device(smartctl=...)``: one per device
per poll, so it can remember that device's calls without locks.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass

from pySMART.smartctl import Smartctl as PySmartSmartctl


class SmartctlMissing(FileNotFoundError):
    """The configured smartctl does not exist or cannot be run."""


class SmartctlTimeout(TimeoutError):
    """A smartctl call ran past its timeout and was killed."""


@dataclass(frozen=True)
class CallResult:
    args: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes
    seconds: float


class SmartctlRunner:
    """Runs one smartctl argv at a time, bounded by ``timeout``; shared by every poll."""

    def __init__(self, smartctl: str = "smartctl", timeout: float = 30.0):
        self.configured = smartctl
        self.timeout = timeout

    def executable(self) -> str:
        found = shutil.which(self.configured)
        if not found:
            raise SmartctlMissing(f"smartctl not found: {self.configured!r} (install smartmontools or set "
                                  "monitor.smart.smartctl)")
        return found

    def run(self, args: list[str]) -> CallResult:
        """Run ``smartctl ARGS`` with LANG=C; kill the whole process group at the timeout."""
        command = [self.executable(), *args]
        started = time.monotonic()
        env = {**os.environ, "LANG": "C", "LC_ALL": "C"}
        try:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        except OSError as exc:
            raise SmartctlMissing(f"cannot run {command[0]}: {exc.strerror or exc}") from exc
        try:
            stdout, stderr = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise SmartctlTimeout(f"smartctl {' '.join(args)} ran over {self.timeout:g}s and was killed") from None
        return CallResult(tuple(args), proc.returncode, stdout, stderr, time.monotonic() - started)

    def scan(self) -> list[tuple[str, str]]:
        """``--scan-open`` as (path, type) pairs; lines for devices that failed to open start with '#'."""
        result = self.run(["--scan-open"])
        return parse_scan(result.stdout.decode("utf-8", "replace"))


def parse_scan(text: str) -> list[tuple[str, str]]:
    devices = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "-d":
            devices.append((parts[0], parts[2]))
    return devices


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


class DeviceSmartctl(PySmartSmartctl):
    """pySMART's Smartctl for one device and one poll, running through a ``SmartctlRunner``.

    It records the exit status and output of the ``--all`` call (the one the verdict reads), and
    after a timeout it refuses further calls at once, so a hung disk costs one timeout, not five.
    """

    def __init__(self, runner: SmartctlRunner):
        super().__init__(smartctl_path=runner.configured, options=[])
        self.runner = runner
        self.timed_out: SmartctlTimeout | None = None
        self.all_result: CallResult | None = None
        self.calls: list[CallResult] = []

    def generic_call(self, params: list[str], pass_options: bool = False) -> tuple[list[str], int]:
        if self.timed_out:
            raise self.timed_out
        args = [*self.options, *params] if pass_options else list(params)
        try:
            result = self.runner.run(args)
        except SmartctlTimeout as exc:
            self.timed_out = exc
            raise
        self.calls.append(result)
        if "--all" in params:
            self.all_result = result
        return self._decode_output(result.stdout), result.returncode

    @property
    def all_lines(self) -> list[str]:
        return self._decode_output(self.all_result.stdout) if self.all_result else []
