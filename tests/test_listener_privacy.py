"""No citizen's data on the listener: a copy that fails mid-transfer names the target and the error on
/, /api/status and /readyz, never the file (whose name holds an ID number and a name); the log does."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from replication.target import Marker, TargetDown, TargetError
from tests.harness import wait_for, write_file
from tests.servers.fixtures import fresh_moto, fresh_sshd, moto_s3, s3_credentials  # noqa: F401
from tests.targets.cases import S3Case

CITIZEN = "3171234567890001_Budi_Santoso"
MiB = 1024 * 1024


def test_an_sftp_copy_cut_mid_transfer_shows_no_file_name_on_the_listener(deployment, fresh_sshd):
    remote = Path(fresh_sshd.remote_dir("privacy"))
    sftp = fresh_sshd.target_config("offsite", str(remote), bandwidth="256KiB")
    deployment.doc["targets"] = [sftp.model_dump(mode="json", exclude_none=True)]
    deployment.write_config()
    deployment.start()
    wait_for(lambda: deployment.metric("jaga_target_up", target="offsite") == 1, timeout=30, message="sftp up")
    write_file(deployment.uploads / "bansos" / f"{CITIZEN}.pdf", os.urandom(4 * MiB))
    wait_for(lambda: any(name.startswith(".jaga-tmp-") for _d, _s, files in os.walk(remote) for name in files),
             timeout=30, message="the upload under way")
    fresh_sshd.kill()
    wait_for(lambda: deployment.metric("jaga_target_up", target="offsite") == 0, timeout=30, message="sftp down")

    for path in ("/", "/api/status", "/readyz"):
        body = deployment.http(path)[1].decode()
        assert "offsite" in body and CITIZEN not in body and "bansos/" not in body, (path, body[:2000])
    reason = deployment.http("/api/status")[1].decode()
    assert "lost" in reason                                   # the error itself is still said
    assert CITIZEN in deployment.log_text()                   # the operator's log names the file


def test_s3_errors_mid_upload_keep_the_key_out_of_the_message(fresh_moto, s3_credentials):
    case = S3Case(fresh_moto, s3_credentials)
    case.target.write_marker(Marker("cloud", "m-1", time.time()))
    key = f"bansos/{CITIZEN}.pdf".encode()

    def chunks():
        yield b"\x01" * MiB
        fresh_moto.stop()
        yield b"\x02" * MiB

    with pytest.raises((TargetDown, TargetError)) as caught:
        case.target.put(key, chunks(), 0, None)
    assert CITIZEN not in str(caught.value) and caught.value.path == key
    assert CITIZEN in caught.value.describe()                # what the log and the journal get
    with pytest.raises(TargetDown) as caught:
        case.target.checksum(key)
    assert "unreachable" in str(caught.value) and CITIZEN not in str(caught.value)
    case.target.close()
