"""OpenSSH ``sftp -b`` and ``scp`` against a real sshd, writing into the watched folder (in the sshd
user's home): in-place writes, no rename; slow (``-l``: OpenSSH's limiter pauses longer than the
settle window between bursts) and stalled (the client stopped mid-transfer, then continued).

A file still open for writing by sshd's sftp-server is not complete, however long it has been quiet.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.clients.rig import ClientDeployment, assert_uploads_safe, payload, run_client, sha256, write_local
from tests.clients.servers import missing
from tests.harness import wait_for

MiB = 1 << 20


@pytest.fixture
def ssh_deployment(sshd_server, tmp_path):
    """The daemon watching a folder in the sshd user's home, owned by that user."""
    if missing("sftp", "scp"):
        pytest.skip(missing("sftp", "scp"))
    uploads = Path(sshd_server.remote_dir("uploads"))
    uploads.mkdir()
    os.chown(uploads, sshd_server.uid, sshd_server.gid)
    d = ClientDeployment(tmp_path, uploads=uploads)
    yield d
    if d.process is not None and d.process.poll() is None:
        d.process.kill()
        d.process.wait()


def ssh_options(server) -> list[str]:
    return ["-i", str(server.key_file), "-o", f"UserKnownHostsFile={server.known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]


def sftp(server, tmp_path: Path, commands: list[str], limit_kbit: int | None = None) -> list[str]:
    batch = tmp_path / f"batch-{os.urandom(3).hex()}"
    batch.write_text("\n".join(commands) + "\n")
    return ["sftp", "-b", str(batch), *(["-l", str(limit_kbit)] if limit_kbit else []), *ssh_options(server),
            "-P", str(server.port), f"{server.user}@{server.host}"]


def scp(server, sources: list[Path], dest: str, *extra: str) -> list[str]:
    return ["scp", "-q", *extra, *ssh_options(server), "-P", str(server.port), *map(str, sources),
            f"{server.user}@{server.host}:{dest}"]


def test_sftp_and_scp_uploads_are_one_version_each(sshd_server, ssh_deployment, tmp_path):
    d = ssh_deployment.start()
    local = tmp_path / "local"
    finished = {}
    puts = []
    for index, size in enumerate((1, 5000, 300_000, 2 * MiB)):
        data = payload(size, index)
        path = write_local(local, f"form-{index}.pdf", data)
        puts.append(f"put {path} {d.uploads}/sftp/form-{index}.pdf")
        finished[f"sftp/form-{index}.pdf".encode()] = sha256(data)
    run_client(*sftp(sshd_server, tmp_path, [f"mkdir {d.uploads}/sftp", *puts]))
    scp_files = []
    for index, size in enumerate((7000, MiB), start=10):
        data = payload(size, index)
        scp_files.append(write_local(local, f"scan-{index}.pdf", data))
        finished[f"scan-{index}.pdf".encode()] = sha256(data)
    run_client(*scp(sshd_server, scp_files[:1], f"{d.uploads}/"))            # the SFTP protocol (default)
    run_client(*scp(sshd_server, scp_files[1:], f"{d.uploads}/", "-O"))      # the legacy scp protocol
    assert_uploads_safe(d, finished)


@pytest.mark.parametrize("client", ["sftp", "scp"])
def test_a_slow_upload_is_one_version_not_a_string_of_partial_ones(sshd_server, ssh_deployment, tmp_path, client):
    """``-l 2000`` sends 1 MiB in bursts about a second apart: each pause is longer than the 500 ms
    settle window, so a settle-only rule records a partial version per pause."""
    d = ssh_deployment.start()
    data = payload(MiB, 99)
    local = write_local(tmp_path, "slow.pdf", data)
    if client == "sftp":
        command = sftp(sshd_server, tmp_path, [f"put {local} {d.uploads}/slow.pdf"], limit_kbit=2000)
    else:
        command = scp(sshd_server, [local], f"{d.uploads}/slow.pdf", "-l", "2000")
    run_client(*command)
    assert_uploads_safe(d, {b"slow.pdf": sha256(data)})


class StalledUpload:
    """An sftp put stopped (SIGSTOP) once it is under way, continued (SIGCONT) on leaving the block."""

    def __init__(self, server, tmp_path: Path, target: Path, data: bytes, limit_kbit: int):
        self.target, self.data = target, data
        local = write_local(tmp_path, target.name, data)
        self.client = subprocess.Popen(sftp(server, tmp_path, [f"put {local} {target}"], limit_kbit=limit_kbit),
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def __enter__(self) -> "StalledUpload":
        try:
            wait_for(lambda: self.target.exists() and self.target.stat().st_size > 0, timeout=30,
                     message="the upload under way")
        finally:
            self.client.send_signal(signal.SIGSTOP)
        return self

    def __exit__(self, *exc) -> None:
        self.client.send_signal(signal.SIGCONT)
        assert self.client.wait(60) == 0, self.client.stdout.read()


def test_a_stalled_upload_waits_for_its_close(sshd_server, ssh_deployment, tmp_path):
    """The client is stopped mid-transfer: sftp-server holds the half-written file open, unchanged,
    far past the settle window. Nothing may be recorded until the upload finishes."""
    d = ssh_deployment.start()
    data = payload(2 * MiB, 7)
    with StalledUpload(sshd_server, tmp_path, d.uploads / "stalled.pdf", data, limit_kbit=4000) as upload:
        wait_for(lambda: b"stalled.pdf in uploads is still open for writing" in d.log_path.read_bytes(),
                 timeout=30, message="the daemon seeing the stalled file held open")
        assert 0 < upload.target.stat().st_size < len(data), "the transfer was meant to stop half-way"
        assert d.versions_of(b"stalled.pdf") == [], "a half-written, still open upload was recorded"
    assert_uploads_safe(d, {b"stalled.pdf": sha256(data)})


def test_an_upload_held_open_and_idle_past_the_limit_is_recorded_anyway(sshd_server, ssh_deployment, tmp_path):
    """A hung client cannot hide a file forever: past ingest.open_file_limit it is recorded as it is,
    with a log line and a metric; the full file, once it completes, is a second version."""
    d = ssh_deployment
    d.doc["ingest"]["open_file_limit"] = "3s"
    d.write_config()
    d.start()
    data = payload(MiB, 8)
    with StalledUpload(sshd_server, tmp_path, d.uploads / "hung.pdf", data, limit_kbit=2000) as upload:
        wait_for(lambda: d.metric("jaga_open_files_recorded_total", watch="uploads") == 1, timeout=30,
                 message="the idle open file recorded past the limit")
        assert "still open for writing but unchanged" in d.log_text()
        partial = upload.target.read_bytes()
        d.wait_verified([b"hung.pdf"])
    versions = lambda: [v for v in d.versions_of(b"hung.pdf") if v[2] == 2]  # noqa: E731
    wait_for(lambda: len(versions()) == 2, timeout=30, message="the completed upload verified as version 2")
    assert [sha for _, sha, _ in versions()] == [sha256(partial), sha256(data)]
    assert_uploads_safe(d, {b"hung.pdf": sha256(data)}, single_version=False)
