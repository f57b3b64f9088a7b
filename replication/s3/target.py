"""S3Target: a bucket and prefix on AWS S3 or an S3-compatible store (MinIO, Ceph RGW, Garage).

Objects are written whole (PutObject, or CopyObject after a multipart upload), so there is no
temporary name to rename; the manifest cannot be appended to, so each append is a new segment object
under ``.jaga/manifest/`` and reading the manifest reads every segment in name order.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Collection, Iterable, Iterator

from botocore.exceptions import ClientError

from replication.s3.client import SMALL_PER_WORKER, error_code, is_missing, make_client, translate
from replication.s3.config import S3TargetConfig
from replication.s3.keys import VERSIONS, ObjectNames, decode_key
from replication.s3.upload import PART_SIZE, delete_quietly, hex_of, put_large, put_small, read_up_to
from replication.throttle import Throttle
from replication.target import (ManifestEntry, Marker, Target, TargetDown, TargetError,
                                check_key, conflict_key, display_key, is_leftover, version_key)

log = logging.getLogger(__name__)

CHUNK = 1 << 20


class S3Target(Target):
    """Objects under ``s3://bucket/prefix/``; nothing is ever written outside that prefix. A shared one
    (``shared: true``, built for a node) writes only its node's area there, and the fleet's one marker."""

    small_copies_per_worker = SMALL_PER_WORKER  # one request each, on a connection of its own

    def __init__(self, config: S3TargetConfig, node: str | None = None):
        if config.shared and node is None:
            raise ValueError(f"target {config.name} is shared: which node's area it writes is needed")
        self.name = config.name
        self.shared = config.shared
        self.config = config
        self.bucket = config.bucket
        self.names = ObjectNames(config.prefix, node if config.shared else None)
        self.where = f"s3://{config.bucket}/{self.names.area}" + (
            f" at {config.endpoint_url}" if config.endpoint_url else "")
        self.throttle = Throttle(config.bandwidth)
        self._lock = threading.Lock()
        self._client = None

    @classmethod
    def from_config(cls, config: S3TargetConfig, node: str | None = None) -> "S3Target":
        return cls(config, node)

    @property
    def client(self):
        """Made on first use, so a broken credentials setup shows up as TargetDown, not at start-up."""
        with self._lock:
            if self._client is None:
                self._client = make_client(self.config)
            return self._client

    def _ops(self, what: str, key: bytes | None = None):
        return translate(what, self.where, key)

    # -- marker -------------------------------------------------------------------------------

    def read_marker(self) -> Marker | None:
        try:
            with self._ops("reading the marker"):
                data = b"".join(self._get(self.names.marker))
        except FileNotFoundError:
            return None
        except (TargetError, TargetDown) as exc:
            if "NoSuchBucket" in str(exc):
                return None  # like an empty folder: no marker yet; write_marker creates the bucket
            raise TargetDown(str(exc)) from None
        return Marker.from_bytes(data)

    def write_marker(self, marker: Marker) -> None:
        with self._ops("initialising the target"):
            self._ensure_bucket()
            put_small(self.client, self.bucket, self.names.marker, marker.to_bytes(), 0)
        self.expect_marker(marker.marker_id)

    def _ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if not is_missing(exc) and "NoSuchBucket" not in str(exc):
                raise
        region = self.client.meta.region_name
        extra = {} if region in (None, "us-east-1") else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}
        try:
            self.client.create_bucket(Bucket=self.bucket, **extra)
        except ClientError as exc:   # another node made it a moment ago (MinIO, Ceph RGW, AWS outside us-east-1)
            if error_code(exc) != "BucketAlreadyOwnedByYou":
                raise

    # -- data ---------------------------------------------------------------------------------

    def put(self, key: bytes, chunks: Iterable[bytes], mtime_ns: int, keep_previous_as: bytes | None) -> bool:
        name = self.names.data(check_key(key))
        self.require_proven()
        with self._ops("writing a replica", key):
            stream = iter(self.throttle.chunks(chunks))
            head, complete = read_up_to(stream, self.config.multipart_threshold)
            if keep_previous_as is not None:
                self._keep_previous(name, _check_version_key(keep_previous_as),
                                    hashlib.sha256(head).hexdigest() if complete else None)
            if complete:
                return put_small(self.client, self.bucket, name, bytes(head), mtime_ns)
            return put_large(self.client, self.bucket, name, self.names.temp(self.temp_tag), head, stream,
                             min(self.config.multipart_threshold, PART_SIZE), mtime_ns)

    def _keep_previous(self, name: str, keep_as: bytes, new_sha256: str | None) -> None:
        """Server-side copy of the current object to its version name, unless already kept. A version name
        holding other bytes is never replaced: the current object is kept beside it."""
        current = self._head(name)
        if current is None:
            return
        kept = self.names.data(keep_as)
        existing = self._head(kept)
        if existing is not None:
            ours = _sha256_of(current)
            if ours is not None and ours in (_sha256_of(existing), new_sha256):
                return  # kept already, or a copy of this very version done again
            aside = conflict_key(keep_as, time.time_ns())
            log.warning("target %s: %s already holds other bytes (an earlier history of this file, e.g. from "
                        "before the journal was rebuilt); the object being replaced is kept as %s", self.name,
                        display_key(keep_as), display_key(aside))
            kept = self.names.data(aside)
        self.client.copy_object(Bucket=self.bucket, Key=kept, CopySource={"Bucket": self.bucket, "Key": name},
                                MetadataDirective="COPY", ChecksumAlgorithm="SHA256")

    def checksum(self, key: bytes) -> str | None:
        """S3's own full-object SHA-256 of the stored object; servers that keep none: read back and hash."""
        name = self.names.data(check_key(key))
        with self._ops("checking a replica", key):
            head = self._head(name)
            if head is None:
                return None
            stored = head.get("ChecksumSHA256")
            if stored and "-" not in stored:
                return hex_of(stored)
            digest = hashlib.sha256()
            try:
                for chunk in self._get(name):
                    digest.update(chunk)
            except FileNotFoundError:
                return None
            return digest.hexdigest()

    def open_read(self, key: bytes) -> Iterator[bytes]:
        name = self.names.data(check_key(key))
        with self._ops("reading a replica", key):
            yield from self._get(name)

    def open_version(self, key: bytes, version: int) -> Iterator[bytes]:
        name = self.names.data(version_key(check_key(key), version))
        with self._ops(f"reading version {version} of a replica", key):
            yield from self._get(name)

    def list_keys(self) -> Iterator[bytes]:
        with self._ops("listing the replica"):
            for name in self._list(self.names.area):
                relative = self.names.relative(name)
                if relative and self.names.is_data(relative):
                    yield decode_key(relative)

    # -- manifest and housekeeping ------------------------------------------------------------

    def append_manifest(self, entries: list[ManifestEntry]) -> None:
        if not entries:
            return
        self.require_proven()
        data = "".join(entry.to_json() + "\n" for entry in entries).encode()
        with self._ops("writing a manifest segment"):
            put_small(self.client, self.bucket, self.names.manifest_segment(), data, 0)

    def read_manifest(self) -> Iterator[ManifestEntry]:
        with self._ops("reading the manifest"):
            for segment in sorted(self._list(self.names.manifest_dir)):
                try:
                    data = b"".join(self._get(segment))
                except FileNotFoundError:
                    continue
                yield from _parse_segment(self.name, segment, data)

    def remove_temporaries(self, keep: Collection[str] = ()) -> int:
        self.require_proven()
        removed = 0
        with self._ops("removing temporaries"):
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=self.names.temp_dir)
            for page in pages:
                for upload in page.get("Uploads", []):
                    if is_leftover(_last(upload["Key"]), keep):
                        self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"],
                                                           UploadId=upload["UploadId"])
                        removed += 1
            for name in list(self._list(self.names.temp_dir)):
                if is_leftover(_last(name), keep):
                    delete_quietly(self.client, self.bucket, name)
                    removed += 1
        return removed

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- helpers ------------------------------------------------------------------------------

    def _head(self, name: str) -> dict | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=name, ChecksumMode="ENABLED")
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise

    def _get(self, name: str) -> Iterator[bytes]:
        """The object's bytes; botocore checks them against the stored full-object checksum."""
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=name, ChecksumMode="ENABLED")
        except ClientError as exc:
            if is_missing(exc):
                raise FileNotFoundError(f"{name} is not in {self.where}") from None
            raise
        body = reply["Body"]
        try:
            for chunk in body.iter_chunks(CHUNK):
                self.throttle.take(len(chunk))
                yield chunk
        finally:
            body.close()

    def _list(self, prefix: str) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"]


def _parse_segment(target: str, segment: str, data: bytes) -> Iterator[ManifestEntry]:
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if line.strip():
            try:
                yield ManifestEntry.from_json(line)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("target %s: manifest %s line %d skipped: %s", target, segment, number, exc)


def _sha256_of(head: dict) -> str | None:
    """The object's SHA-256 (hex): jaga's own metadata, else S3's full-object checksum; None if unknown."""
    stored = head.get("Metadata", {}).get("sha256")
    if stored:
        return stored
    checksum = head.get("ChecksumSHA256")
    return hex_of(checksum) if checksum and "-" not in checksum else None


def _check_version_key(keep_as: bytes) -> bytes:
    head = VERSIONS.encode()
    if not keep_as.startswith(head):
        raise TargetError(f"keep_previous_as {keep_as!r} is not in the versions area")
    return head + check_key(keep_as[len(head):])


def _last(name: str) -> bytes:
    return name.rpartition("/")[2].encode()
