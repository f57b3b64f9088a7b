"""S3 specifics beyond the contract: checksums S3 computed itself, credentials kept out of logs."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading

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


def _calls(case) -> list[str]:
    """The S3 operations the target's client sends from now on, by name."""
    calls = []
    case.target.client.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    return calls


def test_a_put_is_proven_by_the_stores_reply_without_a_head_or_a_get(s3):
    """S3 checks the SHA-256 sent with the bytes and answers with the one it stored: put says True, so
    the copy is verified without asking again (one request per small object)."""
    calls = _calls(s3)
    big = os.urandom(11 * MiB)
    assert s3.target.put(b"a.pdf", [b"hello"], 1, None) is True
    assert s3.target.put(b"big.tiff", [big[i:i + MiB] for i in range(0, len(big), MiB)], 2, None) is True
    assert calls.count("PutObject") == 1, calls
    assert not {"HeadObject", "GetObject"} & set(calls), calls
    assert s3.raw(b"big.tiff") == big


def test_a_reply_without_the_stored_sha256_leaves_the_proof_to_checksum(s3):
    """A store that does not echo the checksum: put does not claim the replica proven."""
    def forget(parsed, **_):
        parsed.pop("ChecksumSHA256", None)
    s3.target.client.meta.events.register("after-call.s3.PutObject", forget)
    assert not s3.target.put(b"a.pdf", [b"hello"], 1, None)
    assert s3.target.checksum(b"a.pdf") == hashlib.sha256(b"hello").hexdigest()


def test_a_reply_naming_another_sha256_fails_the_put(s3):
    def other(parsed, **_):
        parsed["ChecksumSHA256"] = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    s3.target.client.meta.events.register("after-call.s3.PutObject", other)
    with pytest.raises(TargetError, match="computed SHA-256"):
        s3.target.put(b"a.pdf", [b"hello"], 1, None)


def test_the_parts_of_a_big_object_are_sent_several_at_once(s3):
    """The first part waits (bounded) for a second one to be sent beside it: one at a time shows 1."""
    lock, second = threading.Lock(), threading.Event()
    state = {"now": 0, "peak": 0}

    def sending(**_):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            first = state["peak"] == 1
            if state["now"] >= 2:
                second.set()
        if first:
            second.wait(5.0)

    def sent(**_):
        with lock:
            state["now"] -= 1

    s3.target.client.meta.events.register("before-call.s3.UploadPart", sending)
    s3.target.client.meta.events.register("after-call.s3.UploadPart", sent)
    data = os.urandom(21 * MiB)
    assert s3.target.put(b"big.tiff", [data[i:i + MiB] for i in range(0, len(data), MiB)], 2, None)
    assert state["peak"] >= 2, "the parts went one at a time"
    assert s3.raw(b"big.tiff") == data
    assert s3.target.checksum(b"big.tiff") == hashlib.sha256(data).hexdigest()
