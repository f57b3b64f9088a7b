"""Uploading one object with a SHA-256 S3 checks, so that the stored checksum covers the whole object.

Up to the threshold: one PutObject carrying x-amz-checksum-sha256 of the body (S3 refuses the body
if it does not match). Above it: a multipart upload to a temporary object, each part carrying its
own SHA-256 (checked by S3 part by part), then one server-side CopyObject to the final name with
ChecksumAlgorithm SHA256, which makes S3 compute a full-object SHA-256 from the stored bytes; jaga
compares it with the hash it computed while streaming. Both PutObject and CopyObject replace the
final object atomically: readers see the old object or the new one, never a part.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterable, Iterator

from replication.target import TargetError

log = logging.getLogger(__name__)

MIN_PART = 5 * 1024 * 1024
COPY_LIMIT = 5 * 1024 ** 3


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def hex_of(checksum: str) -> str:
    return base64.b64decode(checksum).hex()


def metadata(sha256_hex: str, mtime_ns: int) -> dict[str, str]:
    return {"sha256": sha256_hex, "mtime-ns": str(mtime_ns)}


def read_up_to(chunks: Iterator[bytes], limit: int) -> tuple[bytearray, bool]:
    """Buffer chunks until more than ``limit`` bytes; returns (buffer, whether chunks ran out)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) > limit:
            return buffer, False
    return buffer, True


def put_small(client, bucket: str, name: str, body: bytes, mtime_ns: int) -> str:
    digest = hashlib.sha256(body)
    client.put_object(Bucket=bucket, Key=name, Body=body, ChecksumAlgorithm="SHA256",
                      ChecksumSHA256=b64(digest.digest()),
                      Metadata=metadata(digest.hexdigest(), mtime_ns))
    return digest.hexdigest()


def put_large(client, bucket: str, name: str, temp: str, head: bytearray, rest: Iterator[bytes],
              part_size: int, mtime_ns: int) -> str:
    """Multipart to ``temp``, then copy to ``name`` with a full-object SHA-256; returns its hex."""
    digest, size = _multipart(client, bucket, temp, _parts(head, rest, max(part_size, MIN_PART)))
    try:
        if size > COPY_LIMIT:
            raise TargetError(f"{size} bytes: objects above 5 GiB cannot get a full-object SHA-256 "
                              "through CopyObject; not supported yet")
        result = client.copy_object(Bucket=bucket, Key=name, CopySource={"Bucket": bucket, "Key": temp},
                                    MetadataDirective="REPLACE", Metadata=metadata(digest, mtime_ns),
                                    ChecksumAlgorithm="SHA256")
    finally:
        delete_quietly(client, bucket, temp)
    stored = result.get("CopyObjectResult", {}).get("ChecksumSHA256")
    if stored and "-" not in stored and hex_of(stored) != digest:
        raise TargetError(f"S3 computed SHA-256 {hex_of(stored)} for the stored object, jaga sent {digest}")
    return digest


def _multipart(client, bucket: str, temp: str, parts: Iterable[bytes]) -> tuple[str, int]:
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=temp, ChecksumAlgorithm="SHA256")["UploadId"]
    try:
        whole, done, size = hashlib.sha256(), [], 0
        for number, part in enumerate(parts, 1):
            whole.update(part)
            size += len(part)
            checksum = b64(hashlib.sha256(part).digest())
            reply = client.upload_part(Bucket=bucket, Key=temp, UploadId=upload_id, PartNumber=number,
                                       Body=part, ChecksumSHA256=checksum)
            done.append({"PartNumber": number, "ETag": reply["ETag"], "ChecksumSHA256": checksum})
        client.complete_multipart_upload(Bucket=bucket, Key=temp, UploadId=upload_id,
                                         MultipartUpload={"Parts": done})
    except BaseException:
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=temp, UploadId=upload_id)
        except Exception:  # remove_temporaries() aborts it later
            log.debug("could not abort multipart upload of %s", temp, exc_info=True)
        raise
    return whole.hexdigest(), size


def _parts(head: bytearray, rest: Iterator[bytes], part_size: int) -> Iterator[bytes]:
    buffer = head
    for chunk in rest:
        buffer += chunk
        while len(buffer) >= part_size:
            yield bytes(buffer[:part_size])
            del buffer[:part_size]
    while len(buffer) > part_size:
        yield bytes(buffer[:part_size])
        del buffer[:part_size]
    if buffer:
        yield bytes(buffer)


def delete_quietly(client, bucket: str, name: str) -> None:
    try:
        client.delete_object(Bucket=bucket, Key=name)
    except Exception:  # a temporary left behind is swept by remove_temporaries()
        log.debug("could not delete %s", name, exc_info=True)
