"""S3 against a moto server that stops (mid-upload too) and comes back."""

from __future__ import annotations

import hashlib
import time

import pytest

from replication.s3.target import S3Target
from replication.target import Marker, TargetDown, TargetError
from tests.targets.cases import S3Case

MiB = 1024 * 1024


def _ready(moto, credentials) -> S3Case:
    case = S3Case(moto, credentials)
    case.target.write_marker(Marker("cloud", "m-1", time.time()))
    return case


def test_stopped_server_is_down_then_recovers(fresh_moto, s3_credentials):
    case = _ready(fresh_moto, s3_credentials)
    fresh_moto.stop()
    started = time.monotonic()
    with pytest.raises(TargetDown, match="unreachable"):
        case.target.read_marker()
    with pytest.raises((TargetDown, TargetError)):
        case.target.put(b"a.pdf", [b"data"], 0, None)
    with pytest.raises(TargetDown):
        case.target.checksum(b"a.pdf")
    assert time.monotonic() - started < 15
    fresh_moto.restart()
    assert case.target.read_marker().marker_id == "m-1"
    case.target.put(b"a.pdf", [b"data"], 0, None)
    assert case.target.checksum(b"a.pdf") == hashlib.sha256(b"data").hexdigest()
    case.target.close()


def test_server_stopped_mid_multipart_upload(fresh_moto, s3_credentials):
    case = _ready(fresh_moto, s3_credentials)
    case.target.put(b"big.tiff", [b"old copy"], 0, None)

    def chunks():
        for number in range(16):
            if number == 7:           # one 5 MiB part is up, the next is being sent
                fresh_moto.stop()
            yield b"\x01" * MiB

    with pytest.raises((TargetDown, TargetError)):
        case.target.put(b"big.tiff", chunks(), 0, None)
    fresh_moto.restart()
    assert case.raw(b"big.tiff") == b"old copy"          # never a part under the final name
    assert case.target.remove_temporaries() >= 1          # the unfinished multipart upload
    assert case.target.remove_temporaries() == 0
    data = b"\x02" * (11 * MiB)
    case.target.put(b"big.tiff", [data], 0, None)
    assert case.target.checksum(b"big.tiff") == hashlib.sha256(data).hexdigest()
    case.target.close()


def test_a_missing_bucket_has_no_marker_until_initialised(moto_s3, s3_credentials):
    """Like an empty folder: no marker, so a target the journal already knows is down, and a new one
    is initialised (the daemon's ensure_ready decides which)."""
    target = S3Target(moto_s3.target_config("cloud", s3_credentials))
    assert target.read_marker() is None
    target.write_marker(Marker("cloud", "m-1", 1.0))   # creates the bucket, then the marker
    assert target.read_marker() == Marker("cloud", "m-1", 1.0)


def test_no_credentials_is_down(moto_s3, s3_credentials, tmp_path):
    target = S3Target(moto_s3.target_config("cloud", tmp_path / "no-such-file"))
    with pytest.raises(TargetDown, match="credentials"):
        target.read_marker()


def test_unknown_profile_is_down(moto_s3, s3_credentials):
    target = S3Target(moto_s3.target_config("cloud", s3_credentials, profile="nobody"))
    with pytest.raises(TargetDown, match="nobody"):
        target.read_marker()
