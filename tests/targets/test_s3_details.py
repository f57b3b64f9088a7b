"""S3 specifics beyond the contract: checksums S3 computed itself, credentials kept out of logs."""

from __future__ import annotations

import hashlib
import logging
import os

import pytest

from replication.target import Marker, TargetError, version_key
from tests.servers.moto_s3 import ACCESS_KEY, SECRET_KEY
from tests.targets.cases import S3Case

MiB = 1024 * 1024


@pytest.fixture
def s3(moto_s3, s3_credentials):
    case = S3Case(moto_s3, s3_credentials)
    case.target.write_marker(Marker("cloud", "m-1", 1.0))
    yield case
    case.target.close()


def _head(case, key: bytes) -> dict:
    return case.target._head(case.target.names.data(key))


def test_small_object_carries_sha256(s3):
    s3.target.put(b"a.pdf", [b"hello"], 123, None)
    head = _head(s3, b"a.pdf")
    assert head["Metadata"] == {"sha256": hashlib.sha256(b"hello").hexdigest(), "mtime-ns": "123"}
    assert "-" not in head["ChecksumSHA256"]


def test_multipart_object_gets_a_full_object_sha256(s3):
    data = os.urandom(11 * MiB)
    s3.target.put(b"big.tiff", [data[i:i + MiB] for i in range(0, len(data), MiB)], 5, None)
    head = _head(s3, b"big.tiff")
    whole = hashlib.sha256(data).hexdigest()
    assert head["Metadata"]["sha256"] == whole
    assert "-" not in head["ChecksumSHA256"]       # not a checksum of part checksums
    assert s3.target.checksum(b"big.tiff") == whole
    assert [n for n in s3.names() if b"/tmp/" in n] == []


def test_corrupt_object_is_found(s3):
    s3.target.put(b"a.pdf", [b"good"], 0, None)
    name = s3.target.names.data(b"a.pdf")
    s3.target.client.put_object(Bucket=s3.config.bucket, Key=name, Body=b"evil")  # behind jaga's back
    assert s3.target.checksum(b"a.pdf") == hashlib.sha256(b"evil").hexdigest()


def test_keep_previous_as_must_be_a_version_key(s3):
    s3.target.put(b"a.pdf", [b"one"], 0, None)
    with pytest.raises(TargetError, match="versions area"):
        s3.target.put(b"a.pdf", [b"two"], 0, b"../escaped")
    s3.target.put(b"a.pdf", [b"two"], 0, version_key(b"a.pdf", 1))
    assert s3.raw(version_key(b"a.pdf", 1)) == b"one"


def test_credentials_never_logged(moto_s3, s3_credentials, caplog):
    caplog.set_level(logging.DEBUG)
    case = S3Case(moto_s3, s3_credentials)
    case.target.write_marker(Marker("cloud", "m-1", 1.0))
    case.target.put(b"a.pdf", [b"x"], 0, None)
    case.target.checksum(b"a.pdf")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert SECRET_KEY not in text and ACCESS_KEY not in text
